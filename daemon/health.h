/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Health checks (arbor.conf(5), HEALTH CHECKS): the runtime that runs them
 * in the core thread without ever blocking it, and hands each result to the
 * engine (engine_health), which decides what it means. exec checks are
 * processes spawned as the worker is (spawn_check), in a group below its
 * cgroup; tcp checks non-blocking connects; http checks libcurl's multi
 * interface, driven by the core's epoll. The schedule is a heap of due
 * times on one timerfd of its own.
 */
#ifndef ARBOR_HEALTH_H
#define ARBOR_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "engine.h"
#include "helper.h"
#include "reactor.h"

struct health;

/* Once per process, before any thread starts (curl_global_init). */

/* cg NULL: process groups; devnull the check's stdin. */
struct health *health_new(struct reactor *, struct engine *,
    struct cgroups *, struct helpers *, int devnull);
/* Kills the checks under way (their processes are reaped by the caller). */
void health_close(struct health *);

/* Worker n was spawned (it is starting): its checks begin. */
void health_begin(struct health *, struct enode *n, uint64_t now);
/* It is started: checks go at its interval from now on. */
void health_ready(struct health *, const struct enode *n, uint64_t now);
/* It is stopping or exited: a check under way is dropped (killed). */
void health_end(struct health *, const struct enode *n);
/* It leaves the tree. */
void health_removed(struct health *, const struct enode *n);
/*
 * pid is a child of arbord's that can be reaped: true when it is an exec
 * check's (then it is reaped, and its result taken, here).
 */
bool health_reap(struct health *, pid_t pid);
/* After each batch of the loop: tcp and http checks it started go. */
void health_flush(struct health *);

#endif
