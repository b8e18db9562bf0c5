/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the observability thread serves to control clients: the ring of
 * recent events and the followers after it (`arborctl events [--follow]`),
 * the exposition (`arborctl metrics`), and a trace being recorded (`arborctl
 * trace`). Final events come in through serve_event; nothing here joins,
 * counts or blocks (replies go out through clients.h).
 */
#ifndef ARBOR_SERVE_H
#define ARBOR_SERVE_H

#include <jansson.h>
#include <stdint.h>

#include "../daemon/obsq.h"

struct jw;
struct server;

struct serve_ops {
	/* The exposition, malloc'd. */
	char *(*render)(void *ctx, size_t *len);
	/* Calls fn for each path with its live pid (0: none), for a trace. */
	void (*each_path)(void *ctx,
	    void (*fn)(void *arg, const char *path, int live_pid), void *arg);
	/* `arborctl status`'s reply line, written to out: the core's tree
	 * (text, len) with each node's cgroup figures in. */
	void (*status)(void *ctx, const char *text, size_t len,
	    struct jw *out);
	/* A final event's line, to the console's streams; NULL: none. */
	void (*line)(void *ctx, const char *line, size_t len);
	/* `arborctl console`'s reply (a new reference). */
	json_t *(*console)(void *ctx);
	void *ctx;
};

/* Clients' epoll events carry data.u32 = id_base + slot. */
struct server *server_new(int epfd, uint32_t id_base, const struct serve_ops *);
void server_free(struct server *);

/* Before a final event is written anywhere: a cascade's start and
 * duration from its cause's kernel exit (exit_mono_ns, duration_ns). */
void server_stamp(struct server *, json_t *j);
/* A final event (taking j): the ring, the followers, a trace. */
void server_event(struct server *, json_t *j, uint64_t now);
/* Calls fn with each line of the recent ring, oldest first. */
void server_recent(struct server *, void (*fn)(void *arg, const char *line,
    size_t len), void *arg);
/* A control client the core handed over (m->fd, m->req). */
void server_client(struct server *, const struct obs_msg *m, uint64_t now);
/* An epoll event of a client: true if it was one. */
bool server_on_event(struct server *, uint32_t id, uint64_t now);
/* Ends a trace whose time is up, drops stalled clients; the ms until it
 * needs calling again (-1: no limit). */
int server_tick(struct server *, uint64_t now);

#endif
