/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The join: the core's lifecycle events and the kernel's records (BPF)
 * about the same process arrive in either order and are joined by pid into
 * one event. Pure, as the engine is: no system call, no clock (time comes
 * in with each input), every effect through the ops table; so each of its
 * rules has a unit test on a fake clock (tests/unit/test_join.c).
 *
 * Rules:
 * - A core exec or exit waits at most JOIN_WAIT_NS for its kernel record,
 *   then goes out alone; with no kernel side (no BPF) it goes out at once.
 * - Joined, an exit carries the kernel's timestamp (mono_ns, the core's as
 *   arbord_mono_ns), oom, core_dumped, and who killed it (killer_pid and
 *   killer_comm, or "kernel"); an exec carries restart_latency_ns, from the
 *   kernel's exit of the previous process of its path to this execve.
 * - Events go out in the core's order: one that waits holds back those
 *   queued after it.
 * - An exit whose worker's stderr is captured (obs_msg.tail) also waits,
 *   as long, for the output thread's tail (join_tail), carried as
 *   stderr_tail when not empty.
 * - A restart of a worker whose stream sockets arbord holds waits for the
 *   peak of their accept queues (join_backlog: connections that wait
 *   instead of being refused), sampled from its replacement's spawn (and
 *   through a backoff), until the replacement is ready and the queue has
 *   drained: at most JOIN_BACKLOG_WAIT_NS past its backoff, or past the
 *   replacement's spawn when that came later, and JOIN_BACKLOG_HOLD_MAX_NS
 *   in all; it carries the peak as backlog_peak.
 * - Entries are bounded: one per live worker process, kernel-only ones
 *   forgotten after JOIN_FORGET_NS, never more than JOIN_MAX_PROCS.
 */
#ifndef ARBOR_JOIN_H
#define ARBOR_JOIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include <linux/types.h>

#include "../bpf/arbor.h"
#include "../daemon/event.h"

/* make tsan's build runs 5 to 15 times slower, its helpers too: an exit's
 * stderr tail, handed from the output helper through the core, could miss
 * 200 ms there (the tests' stderr_tail). So there an exec or exit waits up
 * to 1 s for its kernel record and its tail, holding back the events after
 * it as long. Plain and ASan builds wait 200 ms. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define JOIN_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(JOIN_TSAN)
#define JOIN_WAIT_NS (1000 * 1000000ULL)
#else
#define JOIN_WAIT_NS (200 * 1000000ULL)
#endif
#define JOIN_BACKLOG_WAIT_NS (1000 * 1000000ULL)
#define JOIN_BACKLOG_HOLD_MAX_NS (5000 * 1000000ULL)
#define JOIN_FORGET_NS (5 * 1000000000ULL)
#define JOIN_MAX_PROCS (1u << 18)

struct join_ops {
	/* An event is final, in order; the callee owns j. */
	void (*emit)(void *ctx, json_t *j);
	/* Metrics: as reg_observe, reg_add, reg_set, reg_forget. */
	void (*observe)(void *ctx, enum metric, const char *path, double v);
	void (*add)(void *ctx, enum metric, const char *path,
	    const char *label, double v);
	void (*set)(void *ctx, enum metric, const char *path,
	    const char *label, double v);
	void (*forget)(void *ctx, const char *path);
	/* The process pid of path is gone: fold what is kept per pid. */
	void (*proc_gone)(void *ctx, const char *path, int pid);
	/* pid was spawned before the kernel side was there: follow it. */
	void (*track)(void *ctx, int pid);
	/* arbord holds stream sockets for owner (a worker's path, or its
	 * pool's): its restarts wait for their backlog's peak. NULL: none. */
	bool (*has_backlog)(void *ctx, const char *owner);
};

struct join;

struct join *join_new(const struct join_ops *, void *ctx);
void join_free(struct join *);

/* Whether kernel records come (BPF attached at attached_ns), or not. */
void join_kernel_side(struct join *, bool on, uint64_t attached_ns);
void join_core(struct join *, const struct obs_msg *, uint64_t now);
void join_kernel(struct join *, const struct arbor_rec *, uint64_t now);
/* The last stderr lines of process pid ("" when none), for its exit. */
void join_tail(struct join *, int pid, const char *tail, uint64_t now);
/* The summed accept-queue depth of owner's held sockets, sampled now. */
void join_backlog(struct join *, const char *owner, uint64_t depth,
    uint64_t now);
/* A restart waits for samples (join_backlog, each millisecond or so). */
bool join_backlog_wanted(const struct join *);
/* How often to sample now, in ms (join_each_backlog); -1: not now. */
int join_backlog_period_ms(const struct join *);
/* fn for each owner a restart waits on (an owner may come twice). */
void join_each_backlog(const struct join *,
    void (*fn)(void *arg, const char *owner), void *arg);
/* Sends what waited its time out, forgets stale entries. */
void join_tick(struct join *, uint64_t now);
/* Something waits for the kernel (call join_tick within JOIN_WAIT_NS). */
bool join_waiting(const struct join *);
bool join_kernel_side_on(const struct join *);
/* The kernel's exit of pid came, the core's not yet. */
bool join_kexit_waits(struct join *, int pid);
/* The kernel's exits and execs that met no core event yet are forgotten
 * (those a dead helper kept, once the events it left are read again). */
void join_forget_unmet(struct join *);
/* The queue place (obs_msg.qseq) of the oldest core event not yet out, and
 * its kind (event may be NULL): false when every one is. */
bool join_first_held(const struct join *, uint64_t *qseq,
    enum event_kind *event);
size_t join_nprocs(const struct join *);

/* The label of path's series (hist: of its histograms): path, or its
 * supervisor's (obs_msg.labels). */
const char *join_label(const struct join *, const char *path, bool hist);
/* The paths known, and the pid of each one's running process (0: none). */
void join_each_path(const struct join *,
    void (*fn)(void *arg, const char *path, int live_pid), void *arg);

#endif
