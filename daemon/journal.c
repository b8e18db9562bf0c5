/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Apart from the rest: <systemd/sd-journal.h> brings <syslog.h>, whose
 * LOG_* macros are log.h's names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
/* The journal's CODE_FILE= and friends would name this file: not said. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "journal.h"
#include "util.h"

void
journal_line(const char *path, const char *name, pid_t pid, int stream,
    const char *text, size_t len)
{
	char *msg = xcalloc(len + 9, 1), prio[16], spid[32], *id, *apath;
	struct iovec iov[5];

	/* The journal gets text: no NUL, valid UTF-8 (the file keeps bytes). */
	memcpy(msg, "MESSAGE=", 8);
	for (size_t i = 0; i < len; i++)
		msg[8 + i] = text[i] ? text[i] : '?';
	utf8_scrub(msg + 8);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", stream ? 3 : 6);
	snprintf(spid, sizeof(spid), "ARBOR_PID=%d", (int)pid);
	id = xasprintf("SYSLOG_IDENTIFIER=%s", name);
	apath = xasprintf("ARBOR_PATH=%s", path);
	iov[0] = (struct iovec){ msg, len + 8 };
	iov[1] = (struct iovec){ prio, strlen(prio) };
	iov[2] = (struct iovec){ id, strlen(id) };
	iov[3] = (struct iovec){ apath, strlen(apath) };
	iov[4] = (struct iovec){ spid, strlen(spid) };
	sd_journal_sendv(iov, pid > 0 ? 5 : 4);
	free(msg);
	free(id);
	free(apath);
}
