/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "util.h"

void
format_ts(int64_t realtime_ns, char *buf, size_t len)
{
	time_t secs = (time_t)(realtime_ns / (int64_t)NSEC_PER_SEC);
	long usec = (long)(realtime_ns % (int64_t)NSEC_PER_SEC) / 1000;
	struct tm tm;
	char date[32];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", date, usec);
}

static json_t *
signal_json(int sig)
{
	const char *name;
	char buf[16];

	if (sig <= 0)
		return json_null();
	name = signal_name(sig);
	if (!name) {
		snprintf(buf, sizeof(buf), "%d", sig);
		return json_string(buf);
	}
	snprintf(buf, sizeof(buf), "SIG%s", name);
	return json_string(buf);
}

static const char *
cause_name(enum exit_cause c)
{
	switch (c) {
	case CAUSE_EXIT: return "exit";
	case CAUSE_SPAWN_FAILED: return "spawn_failed";
	case CAUSE_READY_TIMEOUT: return "ready_timeout";
	case CAUSE_WATCHDOG: return "watchdog";
	case CAUSE_GIVE_UP: return "give_up";
	case CAUSE_AUTO_SHUTDOWN: return "auto_shutdown";
	}
	return "?";
}

void
exit_info_to_json(json_t *o, const struct exit_info *ei)
{
	json_object_set_new(o, "reason",
	    json_string(exit_reason_name(ei->reason)));
	json_object_set_new(o, "status",
	    ei->status >= 0 ? json_integer(ei->status) : json_null());
	json_object_set_new(o, "signal", signal_json(ei->signal));
	if (ei->cause != CAUSE_EXIT)
		json_object_set_new(o, "cause",
		    json_string(cause_name(ei->cause)));
	if (ei->cause == CAUSE_SPAWN_FAILED)
		json_object_set_new(o, "error", json_string(strerror(ei->err)));
}

static json_t *
paths_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *
event_to_json(const struct event *ev, int64_t realtime_ns)
{
	json_t *o = json_object();
	char ts[48];

	format_ts(realtime_ns, ts, sizeof(ts));
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "mono_ns", json_integer((json_int_t)ev->mono_ns));
	json_object_set_new(o, "event", json_string(event_kind_name(ev->kind)));
	json_object_set_new(o, "path", json_string(enode_path(ev->node)));
	if (ev->pid > 0)
		json_object_set_new(o, "pid", json_integer(ev->pid));
	switch (ev->kind) {
	case EV_EXIT:
		exit_info_to_json(o, &ev->exit);
		break;
	case EV_RESTART:
		if (ev->cause)
			json_object_set_new(o, "cause",
			    json_string(enode_path(ev->cause)));
		json_object_set_new(o, "delay_ms", json_integer(ev->delay_ms));
		break;
	case EV_STOP:
		json_object_set_new(o, "signal", signal_json(ev->signal));
		break;
	case EV_GIVE_UP:
		json_object_set_new(o, "detail",
		    json_string(ev->text ? ev->text : ""));
		break;
	case EV_RELOAD:
		json_object_set_new(o, "added", paths_json(ev->reload->added));
		json_object_set_new(o, "removed",
		    paths_json(ev->reload->removed));
		json_object_set_new(o, "changed",
		    paths_json(ev->reload->changed));
		json_object_set_new(o, "updated",
		    paths_json(ev->reload->updated));
		break;
	default:
		break;
	}
	return o;
}

/* Appends to buf like snprintf, never past len, truncating what does not fit. */
static void __attribute__((format(printf, 4, 5)))
appendf(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n >= len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (r > 0)
		*n = *n + (size_t)r < len ? *n + (size_t)r : len;
}

void
event_to_text(const struct event *ev, char *buf, size_t len)
{
	const struct exit_info *ei = &ev->exit;
	const char *sig;
	size_t n = 0;

	buf[0] = '\0';
	appendf(buf, len, &n, "%s %s", event_kind_name(ev->kind),
	    enode_path(ev->node));
	if (ev->pid > 0)
		appendf(buf, len, &n, " pid=%d", ev->pid);
	switch (ev->kind) {
	case EV_EXIT:
		appendf(buf, len, &n, " reason=%s", exit_reason_name(ei->reason));
		if (ei->cause == CAUSE_SPAWN_FAILED)
			appendf(buf, len, &n, " cause=spawn_failed error=\"%s\"",
			    strerror(ei->err));
		else if (ei->cause != CAUSE_EXIT)
			appendf(buf, len, &n, " cause=%s", cause_name(ei->cause));
		if (ei->status >= 0)
			appendf(buf, len, &n, " status=%d", ei->status);
		if (ei->signal > 0) {
			sig = signal_name(ei->signal);
			if (sig)
				appendf(buf, len, &n, " signal=SIG%s", sig);
			else
				appendf(buf, len, &n, " signal=%d", ei->signal);
		}
		break;
	case EV_RESTART:
		if (ev->cause && ev->cause != ev->node)
			appendf(buf, len, &n, " cause=%s", enode_path(ev->cause));
		if (ev->delay_ms)
			appendf(buf, len, &n, " delay=%ums", ev->delay_ms);
		break;
	case EV_STOP:
		sig = signal_name(ev->signal);
		appendf(buf, len, &n, " signal=SIG%s", sig ? sig : "?");
		break;
	case EV_GIVE_UP:
		appendf(buf, len, &n, ": %s, stopping its children",
		    ev->text ? ev->text : "");
		break;
	case EV_RELOAD: {
		static const char *const names[] = { "added", "removed",
		    "changed", "updated" };
		char *const *lists[] = { ev->reload->added, ev->reload->removed,
		    ev->reload->changed, ev->reload->updated };

		for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
			if (!lists[k])
				continue;
			appendf(buf, len, &n, " %s=", names[k]);
			for (size_t i = 0; lists[k][i]; i++)
				appendf(buf, len, &n, "%s%s", i ? "," : "",
				    lists[k][i]);
		}
		break;
	}
	default:
		break;
	}
}
