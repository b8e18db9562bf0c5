/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helper processes, the core's side (arbord(8), FAULT DOMAINS): a table of
 * helpers, each a separate executable that the core starts as
 * daemon.helper_user in a cgroup leaf of its own, talks to over a
 * SOCK_SEQPACKET socketpair (helpers/common/hmsg.h), watches by pidfd and
 * heartbeat and restarts with backoff, as a supervisor restarts a child.
 * The core never blocks on a helper: sends go out non-blocking or wait in
 * a bounded queue, and a helper that is down is simply not there.
 */
#ifndef ARBOR_HELPER_H
#define ARBOR_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/spec.h"
#include "cgroup.h"
#include "obsq.h"
#include "reactor.h"

enum helper_id { HELPER_CHECKS, HELPER_OUTPUT, HELPER_OBS, HELPER_N };

struct helpers;
struct helper;

/* What uses a helper: its records in, its comings and goings. */
struct helper_client {
	/*
	 * A record from the helper that hmsg_check_from_helper passed (none:
	 * detached at arbord's end, ignored). -1 with why: malformed, the
	 * helper is killed.
	 */
	int (*on_msg)(void *ctx, const void *rec, size_t len, char *why,
	    size_t whylen);
	/*
	 * The same judgement without acting on the record, for what a
	 * helper says while it finishes (helper_finish); none: only
	 * hmsg_check_from_helper's.
	 */
	int (*check)(const void *rec, size_t len, char *why, size_t whylen);
	/* A new process is up: what was under way goes to it again. */
	void (*on_up)(void *ctx);
	/* The process is gone: what it had will not come. */
	void (*on_down)(void *ctx);
	void *ctx;
};

/* For arborctl daemon and the metrics. */
struct helper_stat {
	const char *name;
	const char *state;	/* "idle", "running", "restarting", "missing" */
	pid_t pid;		/* 0: none */
	uint64_t restarts;
};

/* Sets the table up; nothing starts yet (helper_need). */
struct helpers *helpers_open(struct reactor *, struct cgroups *,
    const struct spec *, struct obs_helpers *counts);
/* At exit: every helper killed and reaped, its leaf removed. */
void helpers_close(struct helpers *);

struct helper *helpers_get(struct helpers *, enum helper_id);
void helper_attach(struct helper *, const struct helper_client *);
/* Starts the helper if it was never started; never waits for it. */
void helper_need(struct helper *);
bool helper_up(const struct helper *);
/*
 * Whether it has said nothing (not even a heartbeat) for two heartbeats:
 * a hang the core has not yet acted on. Down is silent too.
 */
bool helper_silent(const struct helper *);
/* Sends one record: 0, or -1 when the helper is down or its queue full. */
int helper_send(struct helper *, const void *rec, size_t len);
/* The same with descriptors (the caller keeps its own). */
int helper_send_fds(struct helper *, const void *rec, size_t len,
    const int *fds, int nfds);
/*
 * At exit: sends what is queued, waits up to ms for the process to end by
 * itself (it was told to), then kills it. 1 when it ended in time, 0 when
 * it did not, -1 when it sent a malformed record meanwhile (killed then,
 * not waited for; logged). The helper is not restarted after this.
 */
int helper_finish(struct helper *, unsigned ms);
/* A helper waiting out its backoff (or never started) starts now. */
void helper_start_now(struct helper *);
/* The helpers' names in counts, before the observability thread reads it. */
void helpers_names(struct obs_helpers *counts);
/* Capabilities (1 << CAP_*) the observability helper keeps: CAP_BPF for
 * the probes' maps where the kernel asks it (arbord(8), FAULT DOMAINS). */
void helpers_obs_caps(struct helpers *, uint64_t caps);
/* Its process now (0: none), and the user it runs as. */
pid_t helper_pid(const struct helper *);
void helper_user(const struct helper *, uid_t *, gid_t *);
/* The user the helpers run as (files the core hands to them). */
void helpers_user(const struct helpers *, uid_t *, gid_t *);

/* A child the core's catch-all reaper found: true when it is a helper's. */
bool helpers_reap(struct helpers *, pid_t);
size_t helpers_stats(const struct helpers *, struct helper_stat *, size_t);

#endif
