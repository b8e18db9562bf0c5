/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: a notify datagram -> a message (its STATUS= text
 * bounded and UTF-8) or "malformed", never a crash. */
#include <stdint.h>
#include <string.h>

#include "daemon/notify.h"
#include "daemon/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_msg m;
	const char *why;

	if (size > NOTIFY_MAX_DATAGRAM)
		return 0;	/* the socket drops those before parsing */
	if (notify_parse((const char *)data, size, &m, &why) == 0 &&
	    (strlen(m.status) >= NOTIFY_MAX_STATUS || !utf8_valid(m.status)))
		__builtin_trap();
	return 0;
}
