/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core thread's reactor: one epoll (and one inside it for the watches
 * of which there is one per worker), the watches of whoever registers
 * them (the loop, the control and notify sockets, the helpers), and frees
 * deferred to the end of a batch so that a watch
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
	int epfd;	/* the epoll it is in: the reactor's, or its bulk one */
	bool dead;	/* unwatched during the current batch */
	bool closing;	/* its fd is closed after the batch */
};

struct reactor *reactor_new(void);
void reactor_free(struct reactor *);
int reactor_watch(struct reactor *, struct watch *, int fd, uint32_t events,
    watch_fn, void *owner);
/*
 * The same, for an fd of which there is one per worker (its pidfd, its
 * cgroup's events). These share one place among the others: each batch
 * takes at most BULK_BATCH of them (loop.c's reaping on SIGCHLD takes its
 * own REAP_BATCH), so that 10,000 workers dying at once keep no command,
 * signal or timer waiting until all are restarted.
 */
int reactor_watch_bulk(struct reactor *, struct watch *, int fd,
    uint32_t events, watch_fn, void *owner);
void reactor_modify(struct reactor *, struct watch *, uint32_t events);
/*
 * Stops watching; the watch stays valid memory until the batch ends.
 * Needed before a close: closing a fd takes it out of an epoll only when
 * no other copy of its file is open, and a forked child (the event log's
 * compressor) holds copies of every fd for a while; a pidfd left in the
 * epoll then reports a freed watch.
 */
void reactor_unwatch(struct reactor *, struct watch *);
/*
 * reactor_unwatch and close of w's fd, both after the current batch of
 * events: for a fd nothing reads any more, whose closing need not come
 * before the work its event set off (a worker's exit, its restart). Once
 * per watch: a second call does nothing.
 */
void reactor_unwatch_close(struct reactor *, struct watch *);
/* Frees p with fn after the current batch of events. */
void reactor_defer_free(struct reactor *, void *p, void (*fn)(void *));
/* Waits up to timeout_ms (-1: no limit), dispatches one batch, then runs
 * the deferred frees. */
void reactor_run_once(struct reactor *, int timeout_ms);

#endif
