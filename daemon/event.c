/* SPDX-License-Identifier: BSD-2-Clause */
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
	default:
		break;
	}
	return o;
}

void
event_to_text(const struct event *ev, char *buf, size_t len)
{
	const struct exit_info *ei = &ev->exit;
	int n = snprintf(buf, len, "%s %s", event_kind_name(ev->kind),
	    enode_path(ev->node));
	const char *sig;

	if (n < 0 || (size_t)n >= len)
		return;
	if (ev->pid > 0)
		n += snprintf(buf + n, len - (size_t)n, " pid=%d", ev->pid);
	switch (ev->kind) {
	case EV_EXIT:
		n += snprintf(buf + n, len - (size_t)n, " reason=%s",
		    exit_reason_name(ei->reason));
		if (ei->cause == CAUSE_SPAWN_FAILED)
			n += snprintf(buf + n, len - (size_t)n,
			    " cause=spawn_failed error=\"%s\"", strerror(ei->err));
		else if (ei->cause != CAUSE_EXIT)
			n += snprintf(buf + n, len - (size_t)n, " cause=%s",
			    cause_name(ei->cause));
		if (ei->status >= 0)
			n += snprintf(buf + n, len - (size_t)n, " status=%d",
			    ei->status);
		if (ei->signal > 0) {
			sig = signal_name(ei->signal);
			if (sig)
				snprintf(buf + n, len - (size_t)n,
				    " signal=SIG%s", sig);
			else
				snprintf(buf + n, len - (size_t)n,
				    " signal=%d", ei->signal);
		}
		break;
	case EV_RESTART:
		if (ev->cause && ev->cause != ev->node)
			n += snprintf(buf + n, len - (size_t)n, " cause=%s",
			    enode_path(ev->cause));
		if (ev->delay_ms)
			snprintf(buf + n, len - (size_t)n, " delay=%ums",
			    ev->delay_ms);
		break;
	case EV_STOP:
		sig = signal_name(ev->signal);
		snprintf(buf + n, len - (size_t)n, " signal=SIG%s",
		    sig ? sig : "?");
		break;
	case EV_GIVE_UP:
		snprintf(buf + n, len - (size_t)n, ": %s, stopping its children",
		    ev->text ? ev->text : "");
		break;
	default:
		break;
	}
}
