/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "jw.h"
#include "util.h"

json_t *
json_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j || !s)
		return j;
	copy = xstrdup(s);
	utf8_scrub(copy);
	j = json_string(copy);
	free(copy);
	return j;
}

void
format_ts(int64_t realtime_ns, char *buf, size_t len)
{
	/* The date of the last second this thread formatted: a start of
	 * thousands of workers logs many lines a second. */
	static __thread time_t last;
	static __thread bool have;
	static __thread char date[32];
	time_t secs = (time_t)(realtime_ns / (int64_t)NSEC_PER_SEC);
	long usec = (long)(realtime_ns % (int64_t)NSEC_PER_SEC) / 1000;
	struct tm tm;

	if (!have || secs != last) {
		gmtime_r(&secs, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		last = secs;
		have = true;
	}
	snprintf(buf, len, "%s.%06ldZ", date, usec);
}

/* "SIGKILL", or the number of a signal without a name; NULL for none. */
static const char *
signal_text(int sig, char *buf, size_t len)
{
	const char *name;

	if (sig <= 0)
		return NULL;
	if ((name = signal_name(sig)))
		snprintf(buf, len, "SIG%s", name);
	else
		snprintf(buf, len, "%d", sig);
	return buf;
}

static json_t *
signal_json(int sig)
{
	char buf[16];
	const char *t = signal_text(sig, buf, sizeof(buf));

	return t ? json_string(t) : json_null();
}

int64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * (int64_t)NSEC_PER_SEC + ts.tv_nsec;
}

const char *
exit_cause_name(enum exit_cause c)
{
	switch (c) {
	case CAUSE_EXIT: return "exit";
	case CAUSE_SPAWN_FAILED: return "spawn_failed";
	case CAUSE_READY_TIMEOUT: return "ready_timeout";
	case CAUSE_WATCHDOG: return "watchdog";
	case CAUSE_GIVE_UP: return "give_up";
	case CAUSE_AUTO_SHUTDOWN: return "auto_shutdown";
	case CAUSE_UNHEALTHY: return "unhealthy";
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
		    json_string(exit_cause_name(ei->cause)));
	if (ei->cause == CAUSE_SPAWN_FAILED)
		json_object_set_new(o, "error", json_string(strerror(ei->err)));
}

/* As exit_info_to_json, written as text (a status, control.c). */
void
exit_info_write(struct jw *w, const struct exit_info *ei)
{
	char buf[16];

	jw_str(w, "reason", exit_reason_name(ei->reason));
	if (ei->status >= 0)
		jw_int(w, "status", ei->status);
	else
		jw_null(w, "status");
	jw_str(w, "signal", signal_text(ei->signal, buf, sizeof(buf)));
	if (ei->cause != CAUSE_EXIT)
		jw_str(w, "cause", exit_cause_name(ei->cause));
	if (ei->cause == CAUSE_SPAWN_FAILED)
		jw_str(w, "error", strerror(ei->err));
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

static void
copy_str(char *dst, size_t len, const char *src)
{
	size_t n;

	if (len == 0)
		return;
	n = src ? strnlen(src, len - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* A text longer than the message's field ends in "...", never cut unseen. */
static void
mark_cut(char *dst, size_t len, size_t need)
{
	if (need >= len && len > 4)
		memcpy(dst + len - 4, "...", 4);
}

/* "added=a,b removed=c ...": what a reload changed, in one line. */
static void
reload_text(const struct reload_summary *r, char *buf, size_t len)
{
	static const char *const names[] = { "added", "removed", "changed",
	    "updated" };
	char *const *lists[] = { r->added, r->removed, r->changed, r->updated };
	size_t n = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
		if (!lists[k])
			continue;
		appendf(buf, len, &n, "%s%s=", n ? " " : "", names[k]);
		for (size_t i = 0; lists[k][i]; i++)
			appendf(buf, len, &n, "%s%s", i ? "," : "", lists[k][i]);
	}
	mark_cut(buf, len, n);
}

void
event_to_msg(const struct event *ev, struct obs_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = OBS_MSG_EVENT;
	m->event = ev->kind;
	m->mono_ns = ev->mono_ns;
	m->real_ns = realtime_ns();
	m->pid = ev->pid;
	m->exit = ev->exit;
	m->delay_ms = ev->delay_ms;
	m->signal = ev->signal;
	m->fd = -1;
	if (ev->kind == EV_HEALTH) {
		m->ok = ev->ok;
		m->quiet = ev->quiet;
		m->err = ev->err;
		m->failures = ev->failures;
		m->failures_total = ev->failures_total;
		m->check = (uint8_t)enode_spec(ev->node)->w.health.kind;
	}
	m->cascade = ev->cascade;
	copy_str(m->path, sizeof(m->path), ev->node ? enode_path(ev->node) : "arbord");
	if (ev->cause)
		copy_str(m->cause, sizeof(m->cause), enode_path(ev->cause));
	if (ev->kind == EV_CASCADE) {
		m->since_ns = ev->since_ns;
		m->members = ev->members;
		m->ready = ev->ready;
		copy_str(m->cause, sizeof(m->cause), m->path);
		copy_str(m->path, sizeof(m->path), ev->text);
		return;
	}
	if (ev->kind == EV_RELOAD && ev->reload)
		reload_text(ev->reload, m->text, sizeof(m->text));
	else {
		copy_str(m->text, sizeof(m->text), ev->text);
		mark_cut(m->text, sizeof(m->text), ev->text ? strlen(ev->text) : 0);
	}
}

json_t *
msg_to_json(const struct obs_msg *m)
{
	json_t *o = json_object();
	char ts[48];

	format_ts(m->real_ns, ts, sizeof(ts));
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "mono_ns", json_integer((json_int_t)m->mono_ns));
	json_object_set_new(o, "event", json_string(event_kind_name(m->event)));
	json_object_set_new(o, "path", json_text(m->path));
	if (m->pid > 0)
		json_object_set_new(o, "pid", json_integer(m->pid));
	if (m->cascade)
		json_object_set_new(o, "cascade",
		    json_integer((json_int_t)m->cascade));
	switch (m->event) {
	case EV_CASCADE:
		json_object_set_new(o, "last", json_text(m->cause));
		json_object_set_new(o, "workers", json_integer(m->members));
		json_object_set_new(o, "ready", json_integer(m->ready));
		json_object_set_new(o, "since_mono_ns",
		    json_integer((json_int_t)m->since_ns));
		json_object_set_new(o, "duration_ns", json_integer(
		    (json_int_t)(m->mono_ns - m->since_ns)));
		break;
	case EV_EXIT:
		exit_info_to_json(o, &m->exit);
		if (m->oom)
			json_object_set_new(o, "oom", json_true());
		break;
	case EV_RESTART:
		if (m->cause[0])
			json_object_set_new(o, "cause", json_text(m->cause));
		json_object_set_new(o, "delay_ms", json_integer(m->delay_ms));
		break;
	case EV_STOP:
		json_object_set_new(o, "signal", signal_json(m->signal));
		break;
	case EV_SPAWN:
		if (m->clone_ns) {
			json_object_set_new(o, "clone_mono_ns",
			    json_integer((json_int_t)m->clone_ns));
			json_object_set_new(o, "spawned_mono_ns",
			    json_integer((json_int_t)m->spawned_ns));
			json_object_set_new(o, "child_mono_ns",
			    json_integer((json_int_t)m->child_ns));
			json_object_set_new(o, "exec_mono_ns",
			    json_integer((json_int_t)m->exec_ns));
		}
		break;
	case EV_GIVE_UP:
	case EV_RELOAD:
	case EV_OBS_RESTART:
		json_object_set_new(o, "detail", json_text(m->text));
		break;
	case EV_HEALTH:
		json_object_set_new(o, "ok", json_boolean(m->ok));
		json_object_set_new(o, "check",
		    json_string(health_kind_name((enum health_kind)m->check)));
		json_object_set_new(o, "detail", json_text(m->text));
		if (m->err)
			json_object_set_new(o, "errno", json_integer(m->err));
		json_object_set_new(o, "failures", json_integer(m->failures));
		break;
	default:
		break;
	}
	return o;
}

void
msg_to_text(const struct obs_msg *m, char *buf, size_t len)
{
	const struct exit_info *ei = &m->exit;
	const char *sig;
	size_t n = 0;

	buf[0] = '\0';
	appendf(buf, len, &n, "%s %s", event_kind_name(m->event), m->path);
	if (m->pid > 0)
		appendf(buf, len, &n, " pid=%d", m->pid);
	switch (m->event) {
	case EV_EXIT:
		appendf(buf, len, &n, " reason=%s", exit_reason_name(ei->reason));
		if (ei->cause == CAUSE_SPAWN_FAILED)
			appendf(buf, len, &n, " cause=spawn_failed error=\"%s\"",
			    strerror(ei->err));
		else if (ei->cause != CAUSE_EXIT)
			appendf(buf, len, &n, " cause=%s",
			    exit_cause_name(ei->cause));
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
		if (m->cause[0] && strcmp(m->cause, m->path) != 0)
			appendf(buf, len, &n, " cause=%s", m->cause);
		if (m->delay_ms)
			appendf(buf, len, &n, " delay=%ums", m->delay_ms);
		break;
	case EV_STOP:
		sig = signal_name(m->signal);
		appendf(buf, len, &n, " signal=SIG%s", sig ? sig : "?");
		break;
	case EV_CASCADE:
		appendf(buf, len, &n, ": %u of %u workers ready again in %.1f ms (the last %s)",
		    m->ready, m->members,
		    (double)(m->mono_ns - m->since_ns) / 1e6, m->cause);
		break;
	case EV_GIVE_UP:
		appendf(buf, len, &n, ": %s, stopping its children", m->text);
		break;
	case EV_RELOAD:
	case EV_OBS_RESTART:
		if (m->text[0])
			appendf(buf, len, &n, " %s", m->text);
		break;
	case EV_HEALTH:
		appendf(buf, len, &n, " %s %s: %s", health_kind_name(
		    (enum health_kind)m->check), m->ok ? "passed" : "failed",
		    m->text);
		if (!m->ok)
			appendf(buf, len, &n, " (%u in a row)", m->failures);
		break;
	default:
		break;
	}
}
