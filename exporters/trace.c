/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "../daemon/util.h"

#define MAX_TRACE_EVENTS 200000	/* a crash loop cannot grow it forever */

enum phase { PH_NONE, PH_DOWN, PH_START, PH_UP };

struct track {
	char *path;
	int tid;
	enum phase phase;
	uint64_t since;
	/* The restart's backlog_peak, for the down span's args; -1: none. */
	json_int_t backlog_peak;
	struct track *next;
};

struct trace {
	int fd;
	uint64_t begin, end;
	json_t *events;
	struct track *tracks;
	int ntracks;
	size_t dropped;
	uint64_t flows;		/* the last flow's id */
};

struct trace *
trace_start(int fd, uint64_t begin_ns, uint64_t end_ns)
{
	struct trace *t = xcalloc(1, sizeof(*t));

	t->fd = fd;
	t->begin = begin_ns;
	t->end = end_ns;
	t->events = json_array();
	json_array_append_new(t->events, json_pack("{s:s, s:s, s:i, s:{s:s}}",
	    "name", "process_name", "ph", "M", "pid", 1, "args", "name",
	    "arbord"));
	return t;
}

static struct track *
track(struct trace *t, const char *path)
{
	struct track *k;

	for (k = t->tracks; k; k = k->next)
		if (strcmp(k->path, path) == 0)
			return k;
	k = xcalloc(1, sizeof(*k));
	k->path = xstrdup(path);
	k->tid = ++t->ntracks;
	k->backlog_peak = -1;
	k->next = t->tracks;
	t->tracks = k;
	json_array_append_new(t->events, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}",
	    "name", "thread_name", "ph", "M", "pid", 1, "tid", k->tid, "args",
	    "name", path));
	return k;
}

static void
add(struct trace *t, json_t *e)
{
	if (json_array_size(t->events) >= MAX_TRACE_EVENTS) {
		t->dropped++;
		json_decref(e);
		return;
	}
	json_array_append_new(t->events, e);
}

static double
us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* Ends k's current phase at ts (never before it began) with a span. */
static void
close_span(struct trace *t, struct track *k, uint64_t ts, json_t *args)
{
	static const char *const names[] = { [PH_DOWN] = "down",
	    [PH_START] = "start", [PH_UP] = "up" };

	if (k->phase == PH_NONE) {
		json_decref(args);
		return;
	}
	if (ts < k->since)
		ts = k->since;	/* core and kernel clocks of one instant */
	add(t, json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:i, s:o}",
	    "name", names[k->phase], "cat", "lifecycle", "ph", "X",
	    "ts", us(k->since), "dur", us(ts - k->since), "pid", 1,
	    "tid", k->tid, "args", args ? args : json_object()));
}

static void
enter(struct track *k, enum phase p, uint64_t ts)
{
	k->phase = p;
	k->since = ts < k->since ? k->since : ts;
}

void
trace_running(struct trace *t, const char *path)
{
	enter(track(t, path), PH_UP, t->begin);
}

void
trace_event(struct trace *t, json_t *e)
{
	const char *kind = json_string_value(json_object_get(e, "event"));
	const char *path = json_string_value(json_object_get(e, "path"));
	uint64_t ts = (uint64_t)json_integer_value(json_object_get(e, "mono_ns"));
	json_t *comm = json_object_get(e, "killer_comm");
	struct track *k;

	if (!kind || !path || ts < t->begin)
		return;
	if (strcmp(kind, "restart") == 0 && json_is_integer(json_object_get(e,
	    "cascade")) && json_is_string(json_object_get(e, "cause")) &&
	    strcmp(json_string_value(json_object_get(e, "cause")), path) != 0) {
		/* An arrow from the exit that caused it (Perfetto flows). */
		struct track *from = track(t, json_string_value(
		    json_object_get(e, "cause")));
		uint64_t at = from->phase == PH_DOWN ? from->since : ts;

		k = track(t, path);
		t->flows++;
		add(t, json_pack("{s:s, s:s, s:s, s:I, s:f, s:i, s:i}", "name",
		    "cascade", "cat", "cascade", "ph", "s", "id",
		    (json_int_t)t->flows, "ts", us(at), "pid", 1, "tid", from->tid));
		add(t, json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:i, s:i}",
		    "name", "cascade", "cat", "cascade", "ph", "f", "bp", "e",
		    "id", (json_int_t)t->flows, "ts", us(ts), "pid", 1, "tid",
		    k->tid));
		return;
	}
	if (strcmp(kind, "cascade") == 0) {
		json_t *d = json_object_get(e, "duration_ns");
		uint64_t dur = json_is_integer(d) ? (uint64_t)json_integer_value(d) : 0;
		char *name = xasprintf("cascade from %s", path);

		k = track(t, "cascades");
		add(t, json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:i, s:{s:O, s:O, s:O, s:O}}",
		    "name", name, "cat", "cascade", "ph", "X",
		    "ts", us(ts > dur ? ts - dur : 0), "dur", us(dur), "pid", 1,
		    "tid", k->tid, "args", "cascade", json_object_get(e, "cascade"),
		    "workers", json_object_get(e, "workers"), "last",
		    json_object_get(e, "last"), "duration_ns", d));
		free(name);
		return;
	}
	if (strcmp(kind, "restart") == 0) {
		json_t *peak = json_object_get(e, "backlog_peak");

		/* Connections that waited while it was down: on that span. */
		if (json_is_integer(peak))
			track(t, path)->backlog_peak = json_integer_value(peak);
	} else if (strcmp(kind, "exec") == 0) {
		json_t *lat = json_object_get(e, "restart_latency_ns");
		json_t *args = lat ? json_pack("{s:O}", "restart_latency_ns", lat)
		    : NULL;

		k = track(t, path);
		if (k->backlog_peak >= 0) {
			if (!args)
				args = json_object();
			json_object_set_new(args, "backlog_peak",
			    json_integer(k->backlog_peak));
			k->backlog_peak = -1;
		}
		close_span(t, k, ts, args);
		enter(k, PH_START, ts);
	} else if (strcmp(kind, "ready") == 0) {
		k = track(t, path);
		if (k->phase == PH_START)
			close_span(t, k, ts, NULL);
		enter(k, PH_UP, ts);
	} else if (strcmp(kind, "exit") == 0) {
		k = track(t, path);
		close_span(t, k, ts, json_pack("{s:O, s:O, s:O}", "reason",
		    json_object_get(e, "reason"), "status",
		    json_object_get(e, "status"), "signal",
		    json_object_get(e, "signal")));
		enter(k, PH_DOWN, ts);
		if (json_is_string(comm)) {
			char name[128];

			snprintf(name, sizeof(name), "%s from %s",
			    json_string_value(json_object_get(e, "signal")) ?
			    json_string_value(json_object_get(e, "signal")) : "signal",
			    json_string_value(comm));
			add(t, json_pack("{s:s, s:s, s:s, s:s, s:f, s:i, s:i, s:{s:O}}",
			    "name", name, "cat", "signal", "ph", "i", "s", "t",
			    "ts", us(k->since), "pid", 1, "tid", k->tid, "args",
			    "killer_pid", json_object_get(e, "killer_pid")));
		}
		if (json_is_true(json_object_get(e, "oom")))
			add(t, json_pack("{s:s, s:s, s:s, s:s, s:f, s:i, s:i}",
			    "name", "OOM kill", "cat", "oom", "ph", "i", "s", "t",
			    "ts", us(k->since), "pid", 1, "tid", k->tid));
	}
}

uint64_t trace_end(const struct trace *t) { return t->end; }
int trace_fd(const struct trace *t) { return t->fd; }

json_t *
trace_finish(struct trace *t, uint64_t now_ns)
{
	json_t *out;

	for (struct track *k = t->tracks; k; k = k->next)
		close_span(t, k, now_ns, NULL);
	out = json_pack("{s:O, s:s, s:{s:I}}", "traceEvents", t->events,
	    "displayTimeUnit", "ms", "otherData", "dropped_events",
	    (json_int_t)t->dropped);
	trace_free(t);
	return out;
}

void
trace_free(struct trace *t)
{
	if (!t)
		return;
	for (struct track *k = t->tracks, *n; k; k = n) {
		n = k->next;
		free(k->path);
		free(k);
	}
	json_decref(t->events);
	free(t);
}
