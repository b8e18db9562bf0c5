/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: configuration text -> a spec or a list of errors, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct config_diag d;
	struct spec *sp;
	char path[64];

	if (fd < 0) {
		fd = memfd_create("arbor-fuzz-config", MFD_CLOEXEC);
		fchmod(fd, 0600);	/* as root, a writable-by-others file is refused */
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	sp = config_load(path, &d);
	if (sp)
		spec_free(sp);
	config_diag_free(&d);
	return 0;
}
