/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "event.h"
#include "log.h"
#include "util.h"

static enum log_format log_format = LOG_TEXT;

/*
 * Events are buffered and written once per loop batch (log_flush); other
 * messages, from any thread and rare, go out at once.
 */
void
log_init(enum log_format f)
{
	log_format = f;
	setvbuf(stderr, NULL, _IOFBF, 1 << 16);
}

void
log_flush(void)
{
	fflush(stderr);
}

void
log_event(const struct obs_msg *m)
{
	if (log_format == LOG_JSON) {
		json_t *o = msg_to_json(m);

		json_dumpf(o, stderr, JSON_COMPACT);
		fputc('\n', stderr);
		json_decref(o);
	} else {
		char ts[48], text[512];

		format_ts(m->real_ns, ts, sizeof(ts));
		msg_to_text(m, text, sizeof(text));
		fprintf(stderr, "%s arbord: %s\n", ts, text);
	}
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "info", "warning", "error" };
	int64_t now = realtime_ns();
	char ts[48];
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	format_ts(now, ts, sizeof(ts));
	if (log_format == LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level",
		    names[level], "msg", msg);

		json_dumpf(o, stderr, JSON_COMPACT);
		fputc('\n', stderr);
		json_decref(o);
	} else
		fprintf(stderr, "%s arbord: %s: %s\n", ts, names[level], msg);
	fflush(stderr);
	free(msg);
}
