/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core thread's reactor: one epoll, the watches of whoever registers
 * them (the loop, the control and notify sockets, the observability
 * watchdog), and frees deferred to the end of a batch so that a watch
 * unregistered while its batch is being dispatched stays valid memory.
 * It owns nobody and knows nothing of the engine.
 */
#ifndef ARBOR_REACTOR_H
#define ARBOR_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

struct reactor;

typedef void (*watch_fn)(void *owner, uint32_t events);

/* A watched fd; owned by whoever embeds it. */
struct watch {
	watch_fn fn;
	void *owner;
	int fd;
	bool dead;	/* unwatched during the current batch */
};

struct reactor *reactor_new(void);
void reactor_free(struct reactor *);
int reactor_watch(struct reactor *, struct watch *, int fd, uint32_t events,
    watch_fn, void *owner);
void reactor_modify(struct reactor *, struct watch *, uint32_t events);
/* Stops watching; the watch stays valid memory until the batch ends. */
void reactor_unwatch(struct reactor *, struct watch *);
/* Frees p with fn after the current batch of events. */
void reactor_defer_free(struct reactor *, void *p, void (*fn)(void *));
/* Waits up to timeout_ms (-1: no limit), dispatches one batch, then runs
 * the deferred frees. */
void reactor_run_once(struct reactor *, int timeout_ms);

#endif
