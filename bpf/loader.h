/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loads and attaches arbor's BPF programs, and reads what they report. Used
 * by the observability thread only; a failure here never reaches the tree.
 */
#ifndef ARBOR_LOADER_H
#define ARBOR_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "arbor.h"

struct probes;

typedef void (*probes_rec_fn)(void *ctx, const struct arbor_rec *);

/* Where the supervised tasks' cgroups are (arbord(8), CONTAINMENT). */
struct probes_cgroup {
	uint64_t base_id;	/* the base's cgroup id (its inode) */
	uint64_t self_id;	/* arbord's own leaf in it */
	uint64_t helpers_id;	/* its helper processes' cgroup in it (0: none) */
	/* The base's depth below the v2 mount's root: below the hierarchy's
	 * root, in a cgroup namespace, the probes find it deeper. */
	uint32_t base_level;
};

/*
 * Follows the workers' processes and their descendants: with cg, every
 * task born into a cgroup of the tree (what a PID namespace or setsid does
 * not change); without, the children of tgid (arbord). And core_tid's
 * run-queue latency. Pids in records are those of arbord's PID namespace.
 * Returns NULL with err set when BPF is unavailable or a step fails (the
 * message names the step).
 */
struct probes *probes_open(pid_t tgid, pid_t core_tid,
    const struct probes_cgroup *cg, probes_rec_fn, void *ctx, char *err,
    size_t errlen);
/*
 * The probes' maps, as the core passes them to the observability helper
 * (arbord(8), FAULT DOMAINS): the core loads and attaches, the helper
 * reads through these alone.
 */
struct probes_fds {
	int events, runq, tracked, tasks, dropped;
	uint32_t runq_max;
};
/* The fds of p (still p's). */
void probes_export(const struct probes *, struct probes_fds *);
/*
 * The reading side over fds (taken: closed by probes_close): records to
 * fn(ctx); NULL with err set when the ring buffer cannot be mapped.
 */
struct probes *probes_adopt(const struct probes_fds *, probes_rec_fn,
    void *ctx, char *err, size_t errlen);
/* Records go to fn(ctx) from now on: a new observability thread takes over
 * probes its predecessor loaded (nothing is loaded or attached again). */
void probes_rebind(struct probes *, probes_rec_fn, void *ctx);
/* Detaches every program and frees everything. */
void probes_close(struct probes *);
/* An fd that is readable when records wait; then call probes_consume. */
int probes_fd(const struct probes *);
int probes_consume(struct probes *);
/* The run-queue histogram of key (a worker's main tgid, or ARBOR_SELF_KEY);
 * -1 when it has none. */
int probes_runq(const struct probes *, uint32_t key, struct arbor_hist *);
void probes_runq_forget(const struct probes *, uint32_t key);
/*
 * Every run-queue histogram at once (a scrape's: one system call per few
 * thousand, not one per worker): *keys and *vals (malloc'd, the caller
 * frees both) sorted by key; the count, or -1 (then none are given).
 */
long probes_runq_all(const struct probes *, uint32_t **keys,
    struct arbor_hist **vals);
/* Follows pid as a worker's main process (one started before attach). */
void probes_track(const struct probes *, pid_t pid);
/* What became of a probe (bpf/shape.h) at the last load. */
struct probe_state {
	char name[16];		/* "exit", "oom", ... */
	char program[24];	/* the program that runs it: "on_exit_v1" */
	char state[12];		/* "attached" or "off" */
	char why[200];		/* why it is off */
};
/* Copies out up to n states (thread-safe); 0 before any load. */
size_t probes_states(struct probe_state *, size_t n);
/* The states as the loading side found them (the helper's copy). */
void probes_set_states(const struct probe_state *, size_t n);
/* Records the ring buffer had no room for. */
uint64_t probes_dropped(const struct probes *);

#endif
