/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.h for the helpers: what their code says goes to stderr,
 * which the helper shares with arbord, one line per write, in arbord's
 * text form; echoed worker lines go there as they are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/log.h"
#include "../../daemon/util.h"

static void
put(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void
log_echo(const char *buf, size_t n)
{
	put(buf, n);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "info", "warning", "error" };
	struct timespec now;
	struct tm tm;
	char ts[40], *msg, *line;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	line = xasprintf("%s.%06ldZ arbord: %s: %s\n", ts,
	    now.tv_nsec / 1000, names[level], msg);
	put(line, strlen(line));
	free(line);
	free(msg);
}
