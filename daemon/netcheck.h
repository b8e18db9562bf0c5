/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tcp and http health checks, the core's side: a client of the checks
 * helper process (helpers/checks/, arbord(8) FAULT DOMAINS). The core
 * (daemon/health.c) schedules the checks, bounds them by their timeout and
 * judges their results; the helper only connects, asks and says what it
 * saw. Requests go to it as records on its socket, never waiting; results
 * come back as records, which this file hands to health.c through
 * netcheck_fd and netcheck_take.
 *
 * The helper may die at any time. The checks it had are kept and sent
 * again to the next one; one whose result never came is "disturbed"
 * (netcheck_disturbed), and health.c does not count it as a failure.
 */
#ifndef ARBOR_NETCHECK_H
#define ARBOR_NETCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/spec.h"
#include "helper.h"

#define NETCHECK_DETAIL 256

struct netcheck;

struct nc_result {
	uint64_t id;
	bool ok;
	int err;		/* errno of a failed system call, 0: none */
	char detail[NETCHECK_DETAIL];
};

/* Starts the checks helper (helper_need); never waits for it. */
struct netcheck *netcheck_start(struct helpers *);
void netcheck_stop(struct netcheck *);

/* Queues a tcp or http check of sh (copied); id names its result. */
void netcheck_begin(struct netcheck *, uint64_t id,
    const struct spec_health *sh);
/* Drops the check id if it is still under way: no result comes. */
void netcheck_cancel(struct netcheck *, uint64_t id);
/* Kept for health.c's loop: records go out as they are made. */
void netcheck_flush(struct netcheck *);
/*
 * Whether the check id, still under way, lost its helper since it began
 * (or never reached one), or its helper is silent now (a hang): its
 * missing result is no failure.
 */
bool netcheck_disturbed(const struct netcheck *, uint64_t id);

/* The fd to watch for results (readable: netcheck_take). */
int netcheck_fd(const struct netcheck *);
/* Swaps out the results so far; *v is the caller's until the next call. */
size_t netcheck_take(struct netcheck *, struct nc_result **v);

#endif
