/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The observability loop (arbord(8), METRICS), run by the observability
 * helper (helpers/obs/, arbord(8) FAULT DOMAINS): it reads the core's
 * queue and the BPF ring buffer, joins the two, keeps the metrics registry
 * and writes the event log. The core watches the helper
 * (daemon/obswatch.c) and restarts it when it dies or stalls.
 */
#ifndef ARBOR_OBS_H
#define ARBOR_OBS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/spec.h"
#include "../daemon/cgroup.h"
#include "../daemon/obsq.h"
#include "../daemon/outlog.h"

struct obs;
struct web_conf;
struct out_note;

/* What the observability helper's main gives the loop (helpers/obs/). */
struct obs_args {
	struct obsq *q;		/* the core's events, in the shared memfd */
	struct obs_kept *kept;	/* the kernel's exits read, in the same */
	int wake_fd;		/* eventfd the core writes after a push */
	const struct obs_helpers *helpers;	/* arbor_helper_restarts_total */
	const struct obs_sockets *sockets;	/* held by the core (backlog.h) */
	uint64_t restarts;	/* arbor_obs_restarts_total */
	enum bpf_mode bpf;
	/* The probes the core loaded (has_probes), read through their fds. */
	bool has_probes;
	struct probes_fds pfds;
	uint64_t attached_ns;
	char *event_log;	/* NULL: none; its file comes from the core */
	int evlog_fd;		/* the first one, -1: none yet */
	uint64_t event_log_max_bytes;
	char *metrics_listen;	/* NULL or "": none */
	int listen_fd;		/* bound by the core; -1: none */
	bool console;		/* observability.console: served beside it */
	struct web_conf *web;	/* observability.web_config; NULL: none */
	bool console_auth_none;	/* observability.console_auth = "none" */
	char **console_hosts;	/* observability.console_hosts; NULL: none */
	/* The console's sign-in token and session lifetimes; -1: the default
	 * (ARBOR_CONSOLE_TOKEN_TTL_MS, ARBOR_CONSOLE_SESSION_TTL_MS: tests) */
	int64_t console_token_ttl_ns, console_session_ttl_ns;
	int64_t fig_budget_ns;	/* a request's figure reads; -1: the default */
	int64_t fig_cold_ns;	/* its reads of figures not cached; -1: default */
	struct cg_view cg;	/* nodes' cgroup files; v2_base NULL: none */
	/* The helper's own descriptors, watched in the same loop. */
	int hook_fd[4];
	size_t nhooks;
	void (*on_hook)(struct obs *, size_t which, void *ctx);
	/* The join holds an event it has read, waiting for the rest of it
	 * (a test's fault point: ARBOR_HELPER_FAULT's "@held"). */
	void (*on_held)(void *ctx);
	void *hook_ctx;
	/* A read-only connection to arbord's control socket for the console,
	 * as console.h's dial. */
	int (*dial)(void *ctx, const char **why);
	/* The event log is full (full) or missing: the core is asked. */
	void (*evlog_ask)(void *ctx, bool full);
	void *ctx;		/* of dial and evlog_ask */
};

/* The loop; returns only when its set-up failed (said). */
void obs_run(struct obs_args *);
/* A control client the core handed over (m->fd, m->req; status taken). */
void obs_client(struct obs *, const struct obs_msg *);
/* Worker output's note: an exit's stderr tail, dropped lines. */
void obs_note(struct obs *, const struct out_note *);
/* A reload's web_config (taken; NULL: plain HTTP). */
void obs_set_web(struct obs *, struct web_conf *);
/* The console's connection the core made (taken; -1: refused). */
void obs_dialed(struct obs *, int fd);
/* The event log's file from the core (taken; -1: none now). */
void obs_set_evlog(struct obs *, int fd);

#endif
