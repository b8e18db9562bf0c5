/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core loop: one epoll over pidfds, a signalfd, one timerfd (the
 * engine's next deadline) and the control socket. It turns kernel facts into
 * engine inputs and engine effects into system calls.
 */
#ifndef ARBOR_LOOP_H
#define ARBOR_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "log.h"

struct loop;

typedef void (*watch_fn)(struct loop *, void *owner, uint32_t events);

/* A watched fd; owned by whoever embeds it. */
struct watch {
	watch_fn fn;
	void *owner;
	int fd;
	bool dead;	/* unwatched during the current batch */
};

struct loop_options {
	const char *config_file;
	const char *socket_path;
	enum log_format log_format;
	bool no_bpf;
};

/*
 * Runs the tree of *spec until shutdown; returns arbord's exit code. A
 * reload replaces *spec (freeing the old one): the caller frees what it
 * finds there afterwards.
 */
int loop_run(struct spec **spec, const struct loop_options *);
/*
 * Re-reads the configuration and applies it (SPEC §6 reload). Returns 0, or
 * -1 with every problem in *errors (a JSON array of strings) and nothing
 * changed. *summary, if asked, gets what changed as a JSON object.
 */
int loop_reload(struct loop *, const char *why, json_t **errors,
    json_t **summary);

int loop_watch(struct loop *, struct watch *, int fd, uint32_t events,
    watch_fn, void *owner);
void loop_modify(struct loop *, struct watch *, uint32_t events);
/* Stops watching; the watch stays valid memory until the batch ends. */
void loop_unwatch(struct loop *, struct watch *);
/* Frees p with fn after the current batch of events. */
void loop_defer_free(struct loop *, void *p, void (*fn)(void *));

uint64_t loop_now(void);
struct engine *loop_engine(struct loop *);
struct obswatch *loop_obs(struct loop *);
void loop_shutdown(struct loop *, const char *why);

#endif
