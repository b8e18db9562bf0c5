/* SPDX-License-Identifier: BSD-2-Clause */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clients.h"
#include "serve.h"
#include "trace.h"
#include "../daemon/jw.h"
#include "../daemon/log.h"
#include "../daemon/util.h"

#define RECENT_EVENTS 512	/* what `arborctl events` shows first */
#define MAX_FOLLOWERS 16

#define TRIM_DELAY_MS 1000
#define EXIT_SLOTS 256	/* recent exits by path, for a cascade's start */
#define CASCADE_SLOTS 64	/* cascades under way, for their end */

struct server {
	struct serve_ops ops;
	struct clients *clients;	/* control clients being answered */
	char *recent[RECENT_EVENTS];	/* ring of JSON lines */
	size_t recent_next;
	struct trace *trace;
	struct client *trace_client;	/* answered when the trace ends */
	uint64_t trim_at;	/* when to give the heap back; 0: no need */
	json_t *garbage;	/* a sent status, freed once it is all out */
	struct { char *path; uint64_t ns; } exits[EXIT_SLOTS];
	struct { uint64_t id, end; } ends[CASCADE_SLOTS];
};

struct server *
server_new(int epfd, uint32_t id_base, const struct serve_ops *ops)
{
	struct server *sv = xcalloc(1, sizeof(*sv));

	sv->ops = *ops;
	sv->clients = clients_new(epfd, id_base);
	return sv;
}

void
server_free(struct server *sv)
{
	if (!sv)
		return;
	trace_free(sv->trace);	/* its client is closed with the others */
	json_decref(sv->garbage);
	clients_free(sv->clients);
	for (size_t i = 0; i < RECENT_EVENTS; i++)
		free(sv->recent[i]);
	for (size_t i = 0; i < EXIT_SLOTS; i++)
		free(sv->exits[i].path);
	free(sv);
}

/* j as one line of compact JSON with its newline; NULL if jansson cannot
 * encode it. */
static char *
json_line(const json_t *j, size_t *len)
{
	/* 15 digits: what a double holds, without 28.940999999999999 */
	char *line = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));

	if (!line)
		return NULL;
	*len = strlen(line);
	line = xreallocarray(line, *len + 2, 1);
	line[(*len)++] = '\n';
	line[*len] = '\0';
	return line;
}

/*
 * A cascade's time runs from its cause's exit as the kernel saw it (the
 * exit event as joined), not from when the core heard of it, to its last
 * worker's exec or ready (a ready = "exec" worker's ready carries the
 * core's batch time, its exec the kernel's: the later counts). Exits are
 * remembered by path and ends by cascade, a slot per hash, the latest
 * wins; a cascade event takes what is there if it is its own.
 */
void
server_stamp(struct server *sv, json_t *j)
{
	const char *kind = json_string_value(json_object_get(j, "event"));
	const char *path = json_string_value(json_object_get(j, "path"));
	json_t *cid = json_object_get(j, "cascade");
	uint64_t ts = (uint64_t)json_integer_value(json_object_get(j, "mono_ns"));
	uint64_t id = json_is_integer(cid) ? (uint64_t)json_integer_value(cid) : 0;
	uint64_t start, at;
	size_t h, k = id % CASCADE_SLOTS;

	if (!kind || !path)
		return;
	h = fnv1a(2166136261u, path) % EXIT_SLOTS;
	if (strcmp(kind, "exit") == 0) {
		free(sv->exits[h].path);
		sv->exits[h].path = xstrdup(path);
		sv->exits[h].ns = ts;
	} else if (id && (strcmp(kind, "exec") == 0 ||
	    strcmp(kind, "ready") == 0)) {
		if (sv->ends[k].id != id) {
			sv->ends[k].id = id;
			sv->ends[k].end = 0;
		}
		if (ts > sv->ends[k].end)
			sv->ends[k].end = ts;
	} else if (id && strcmp(kind, "cascade") == 0) {
		start = (uint64_t)json_integer_value(json_object_get(j,
		    "since_mono_ns"));
		if (sv->ends[k].id == id && sv->ends[k].end > ts)
			ts = sv->ends[k].end;
		at = sv->exits[h].ns;
		if (sv->exits[h].path && strcmp(sv->exits[h].path, path) == 0 &&
		    at <= start && start - at < NSEC_PER_SEC) {
			start = at;
			json_object_set_new(j, "exit_mono_ns",
			    json_integer((json_int_t)at));
		}
		json_object_set_new(j, "mono_ns", json_integer((json_int_t)ts));
		json_object_set_new(j, "duration_ns",
		    json_integer((json_int_t)(ts - start)));
	}
}

void
server_event(struct server *sv, json_t *j, uint64_t now)
{
	char *line;
	size_t len;

	if (sv->trace)
		trace_event(sv->trace, j);
	line = json_line(j, &len);
	json_decref(j);
	if (!line)
		return;
	clients_broadcast(sv->clients, line, len, now);
	if (sv->ops.line)
		sv->ops.line(sv->ops.ctx, line, len);
	free(sv->recent[sv->recent_next]);
	sv->recent[sv->recent_next] = line;
	sv->recent_next = (sv->recent_next + 1) % RECENT_EVENTS;
}

void
server_recent(struct server *sv, void (*fn)(void *arg, const char *line,
    size_t len), void *arg)
{
	for (size_t i = 0; i < RECENT_EVENTS; i++) {
		const char *l = sv->recent[(sv->recent_next + i) % RECENT_EVENTS];

		if (l)
			fn(arg, l, strlen(l));
	}
}

/* One JSON line to c, queued without ever blocking (clients.h). */
static void
send_json(struct server *sv, struct client *c, json_t *reply, uint64_t now)
{
	char *line;
	size_t len;

	if (!reply)	/* json_pack refused a value: still answer */
		reply = json_pack("{s:b, s:s}", "ok", 0, "error",
		    "internal error: the reply could not be encoded");
	if ((line = json_line(reply, &len)))
		client_put(sv->clients, c, line, len, now);
	free(line);
	/* A big status's tree takes a fifth of its time to free: once the
	 * reply is out (server_tick), not while its client waits for it. */
	json_decref(sv->garbage);
	sv->garbage = reply;
}

static void
send_error(struct server *sv, struct client *c, const char *why,
    uint64_t now)
{
	send_json(sv, c, json_pack("{s:b, s:s}", "ok", 0, "error", why), now);
}

/* `arborctl events [--follow]`: the recent ring, then (if following) more. */
static void
serve_events(struct server *sv, struct client *c, bool follow, uint64_t now)
{
	if (follow && clients_followers(sv->clients) >= MAX_FOLLOWERS) {
		send_error(sv, c, "too many followers", now);
		client_end(sv->clients, c);
		return;
	}
	send_json(sv, c, json_pack("{s:b}", "ok", 1), now);
	for (size_t i = 0; i < RECENT_EVENTS; i++) {
		const char *line = sv->recent[(sv->recent_next + i) % RECENT_EVENTS];

		if (line)
			client_put(sv->clients, c, line, strlen(line), now);
	}
	if (follow)
		client_follow(c);
	else
		client_end(sv->clients, c);
}

static void
trace_path(void *arg, const char *path, int live_pid)
{
	struct server *sv = arg;

	if (live_pid)
		trace_running(sv->trace, path);
}

/* The core's status text, mapped from its memfd (helpers/obs/main.c). */
static void
status_text_free(const struct obs_request *r)
{
	if (r->status_text)
		munmap(r->status_text, r->status_len);
}

void
server_client(struct server *sv, const struct obs_msg *m, uint64_t now)
{
	struct client *c = clients_add(sv->clients, m->fd, now);
	struct jw out = { 0 };
	char *text;
	size_t len;

	if (!c && m->req.kind == OBS_REQ_STATUS)
		status_text_free(&m->req);
	if (!c) {
		log_msg(LOG_WARN, "observability: %d clients are being answered; one more was closed",
		    MAX_CLIENTS);
		return;
	}
	switch (m->req.kind) {
	case OBS_REQ_METRICS:
		text = sv->ops.render(sv->ops.ctx, &len);
		send_json(sv, c, json_pack("{s:b, s:s}", "ok", 1, "metrics",
		    text), now);
		free(text);
		break;
	case OBS_REQ_CONSOLE:
		send_json(sv, c, sv->ops.console(sv->ops.ctx), now);
		break;
	case OBS_REQ_EVENTS:
		serve_events(sv, c, m->req.follow, now);
		return;
	case OBS_REQ_TRACE:
		if (sv->trace) {
			send_error(sv, c, "a trace is already being recorded", now);
			break;
		}
		sv->trace = trace_start(m->fd, now, now + m->req.trace_ns);
		sv->trace_client = c;
		sv->ops.each_path(sv->ops.ctx, trace_path, sv);
		return;	/* answered when it ends */
	case OBS_REQ_STATUS:
		/* The core's text with the figures spliced in: no tree is
		 * parsed or built here (a status of 10,000 is 2 MB). */
		out.p = clients_spare(sv->clients, &out.cap);
		sv->ops.status(sv->ops.ctx, m->req.status_text,
		    m->req.status_len, &out);
		status_text_free(&m->req);
		client_give(sv->clients, c, out.p, out.len, out.cap, now);
		/*
		 * Megabytes were had and freed here (but the reply's buffer,
		 * kept for the next: clients_spare): give them back, or the
		 * helper's RSS keeps the largest; but once the requests stop
		 * (a trim costs a status of 10,000 workers a tenth of its
		 * time), TRIM_DELAY_MS after the last.
		 */
		sv->trim_at = now + TRIM_DELAY_MS * NSEC_PER_MSEC;
		break;
	}
	client_end(sv->clients, c);
}

bool
server_on_event(struct server *sv, uint32_t id, uint64_t now)
{
	return clients_on_event(sv->clients, id, now);
}

int
server_tick(struct server *sv, uint64_t now)
{
	int t = clients_sweep(sv->clients, now);

	if (sv->garbage && (clients_buffered(sv->clients) == 0 ||
	    (sv->trim_at && now >= sv->trim_at))) {
		json_decref(sv->garbage);
		sv->garbage = NULL;
	}
	if (sv->trim_at && now >= sv->trim_at) {
		malloc_trim(0);
		sv->trim_at = 0;
	}
	if (sv->trim_at) {
		int due = (int)((sv->trim_at - now) / NSEC_PER_MSEC) + 1;

		if (t < 0 || due < t)
			t = due;
	}

	if (sv->trace && now >= trace_end(sv->trace)) {
		/* The trace's time is up: its client gets it, then is closed. */
		json_t *tr = trace_finish(sv->trace, now);

		sv->trace = NULL;
		send_json(sv, sv->trace_client, json_pack("{s:b, s:o}", "ok", 1,
		    "trace", tr), now);
		client_end(sv->clients, sv->trace_client);
		sv->trace_client = NULL;
	}
	if (sv->trace && (t < 0 || t > 100))
		t = 100;	/* the trace's end is looked for every 100 ms */
	return t;
}
