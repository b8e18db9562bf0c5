/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The observability thread (arbord(8), METRICS): it reads the core's queue and the BPF
 * ring buffer, joins the two, keeps the metrics registry and writes the
 * event log. It never reads or writes core state; the core watches it
 * (daemon/obswatch.c) and restarts it when it dies or stalls.
 */
#ifndef ARBOR_OBS_H
#define ARBOR_OBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/spec.h"
#include "../daemon/cgroup.h"
#include "../daemon/obsq.h"
#include "../daemon/outproxy.h"

enum obs_fault { OBS_FAULT_NONE, OBS_FAULT_STALL, OBS_FAULT_CRASH, OBS_FAULT_BPF };

/* web_config as a reload left it: the watcher's, shared with the thread. */
struct obs_web {
	pthread_mutex_t mu;
	struct web_conf **web;	/* under mu */
	atomic_uint gen;	/* moves at each change */
};

/* What one incarnation of the thread is given; the core frees it after join. */
struct obs_args {
	struct obsq *q;		/* shared with the core, outlives the thread */
	int wake_fd;		/* eventfd the core writes after a push */
	int exit_fd;		/* eventfd the thread writes when it ends */
	int stall_fd;		/* the core's timerfd: each heartbeat pushes it on */
	pid_t tgid;		/* arbord */
	pid_t core_tid;
	enum bpf_mode bpf;
	char *event_log;	/* NULL: none */
	uint64_t event_log_max_bytes;
	uint32_t event_log_keep;
	char *metrics_listen;	/* NULL or "": none */
	bool console;		/* observability.console: served beside it */
	struct web_conf *web;	/* observability.web_config; NULL: none */
	unsigned web_gen;	/* web_now->gen when web was taken */
	struct obs_web *web_now;	/* a reload's, taken when gen moves */
	char *control_socket;	/* what the console asks for status and logs */
	bool console_auth_none;	/* observability.console_auth = "none" */
	char **console_hosts;	/* observability.console_hosts; NULL: none */
	/* The console's sign-in token and session lifetimes; -1: the default
	 * (ARBOR_CONSOLE_TOKEN_TTL_MS, ARBOR_CONSOLE_SESSION_TTL_MS: tests) */
	int64_t console_token_ttl_ns, console_session_ttl_ns;
	enum obs_fault fault;
	int64_t fig_budget_ns;	/* a request's figure reads; -1: the default */
	uint64_t restarts;	/* for arbor_obs_restarts_total */
	const struct obs_helpers *helpers;	/* the watcher's, for arbor_helper_restarts_total */
	struct cg_view cg;	/* nodes' cgroup files; v2_base NULL: none */
	struct outproxy *out;	/* worker output's notes; NULL: none */
	/*
	 * The probes, kept by the watcher across the thread's restarts: the
	 * first thread loads and attaches them, the next ones take them over
	 * (a BPF load is the verifier's tens of milliseconds of CPU, beside
	 * the core's). Written by the thread, read by the watcher after the
	 * join; the watcher closes them when arbord ends.
	 */
	struct probes **kept;
	uint64_t *kept_ns;	/* when they were attached */
};

/* A thread's heartbeat period, and how long without one is a stall. */
#define OBS_HEARTBEAT_MS 500
#define OBS_STALL_MS 3000

void *obs_thread_main(void *args);

#endif
