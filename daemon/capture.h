/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Worker output, the core's side (arbor.conf(5), OUTPUT): the pipes of each
 * worker whose stdout or stderr is "log", made at its first start and kept
 * across restarts, and what the output helper (outproxy.h) is told. Nothing
 * here reads a pipe or blocks.
 */
#ifndef ARBOR_CAPTURE_H
#define ARBOR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../config/spec.h"
#include "engine.h"
#include "outproxy.h"

struct capture;

struct capture *capture_start(const struct spec *);
/* At exit, once every worker is gone: their last lines are written. */
void capture_stop(struct capture *);
void capture_reload(struct capture *, const struct spec *);

/*
 * Before worker n starts: fds[0] and fds[1] for its stdout and stderr (low
 * numbered copies of its pipes' write ends), -1 where a stream is not
 * captured. capture_spawned (or capture_unused, when the start failed)
 * closes the copies.
 */
void capture_fds(struct capture *, struct enode *n, int fds[2]);
void capture_spawned(struct capture *, struct enode *n, pid_t, int fds[2]);
void capture_unused(int fds[2]);
/*
 * pid, n's process, is gone with everything in its cgroup: where its
 * output ends is taken now, before a replacement writes. True when its
 * stderr is captured and it wrote there (its exit event waits for its
 * stderr_tail).
 */
bool capture_exited(struct capture *, struct enode *n, pid_t);
/* n is gone, with its subtree. */
void capture_removed(struct capture *, const struct enode *n);
/* `arborctl logs`: hands fd over; -1 with why when n's output is not
 * captured. */
int capture_logs(struct capture *, struct enode *n, int fd, unsigned lines,
    bool follow, const char **why);
/* Once per loop batch: wakes the output thread if told anything. */
void capture_kick(struct capture *);
struct outproxy *capture_outlog(struct capture *);
/* Starts the output helper, once the helpers' table is there. */
void capture_bind(struct capture *, struct helpers *);
/* File descriptors a worker with this spec holds through capture. */
unsigned capture_fds_per_worker(const struct spec_node *);

#endif
