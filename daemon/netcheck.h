/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tcp and http health checks, run by a thread of the core's own
 * ("arbord-checks"): the core (daemon/health.c) schedules them, bounds them
 * by their timeout and judges their results; this thread only connects,
 * asks and says what it saw. It owns nothing of the engine's, reads no
 * spec: a request carries a copy of what it needs. Requests and results
 * go through two mutex-guarded vectors, each woken by an eventfd once per
 * batch; neither side ever waits for the other.
 */
#ifndef ARBOR_NETCHECK_H
#define ARBOR_NETCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/spec.h"

#define NETCHECK_DETAIL 256

struct netcheck;

struct nc_result {
	uint64_t id;
	bool ok;
	int err;		/* errno of a failed system call, 0: none */
	char detail[NETCHECK_DETAIL];
};

/* Once per process, before any thread starts (curl_global_init). */
void netcheck_global_init(void);
void netcheck_global_cleanup(void);

struct netcheck *netcheck_start(void);
void netcheck_stop(struct netcheck *);

/* Queues a tcp or http check of sh (copied); id names its result. */
void netcheck_begin(struct netcheck *, uint64_t id,
    const struct spec_health *sh);
/* Drops the check id if it is still under way: no result comes. */
void netcheck_cancel(struct netcheck *, uint64_t id);
/* Wakes the thread for what was queued since the last call. */
void netcheck_flush(struct netcheck *);

/* The fd to watch for results (readable: netcheck_take). */
int netcheck_fd(const struct netcheck *);
/* Swaps out the results so far; *v is the caller's until the next call. */
size_t netcheck_take(struct netcheck *, struct nc_result **v);

#endif
