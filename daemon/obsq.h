/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one thing the core and the observability thread share: a bounded,
 * lock-free, single-producer (core) single-consumer (observability) queue
 * of fixed-size messages. The producer never waits: when the queue is full
 * the message is dropped and counted.
 */
#ifndef ARBOR_OBSQ_H
#define ARBOR_OBSQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "../bpf/loader.h"

#define OBSQ_CAPACITY 4096	/* a power of two */
/* A node's path whole, and its NUL (config.c refuses longer ones). */
#define OBSQ_PATH (SPEC_PATH_MAX + 1)
#define OBSQ_TEXT 240

enum obs_msg_kind {
	OBS_MSG_EVENT,		/* a lifecycle event of the engine */
	OBS_MSG_CLIENT,		/* a control client handed over (fd) */
	OBS_MSG_NONE,		/* taken back by the core (obswatch.c) */
};

/* A control request the observability thread answers, as typed fields. */
enum obs_request_kind {
	OBS_REQ_METRICS, OBS_REQ_EVENTS, OBS_REQ_TRACE, OBS_REQ_STATUS,
	OBS_REQ_CONSOLE,	/* a sign-in link for the console */
};

/* A status reply begins so, its tree after it (control.c, exporters/obs.c). */
#define STATUS_REPLY_HEAD "{\"ok\":true,\"status\":"

struct obs_request {
	enum obs_request_kind kind;
	bool follow;		/* OBS_REQ_EVENTS: then live ones */
	uint64_t trace_ns;	/* OBS_REQ_TRACE: how long to record */
	/* OBS_REQ_STATUS: the status tree as the core wrote it (compact
	 * JSON, control.c), which the observability helper completes with
	 * the cgroup figures as it sends it. In the core the caller's; in
	 * the helper malloc'd, and the helper's. */
	char *status_text;
	size_t status_len;
};

/*
 * Where a worker's series go (arbord(8), METRICS): a simple_one_for_one's
 * children all go under their supervisor's path (POOLED, histograms too);
 * with observability.histograms = "supervisor" a static worker's
 * histograms go under its supervisor's (HIST_PARENT).
 */
enum { OBS_LABEL_POOLED = 1, OBS_LABEL_HIST_PARENT = 2 };

struct obs_msg {
	enum obs_msg_kind kind;
	enum event_kind event;
	uint64_t mono_ns;
	int64_t real_ns;
	int32_t pid;
	struct exit_info exit;
	uint32_t delay_ms;
	int32_t signal;
	bool oom;		/* EV_EXIT: the cgroup counted an OOM kill (obs only) */
	bool tail;		/* EV_EXIT: its stderr_tail comes from the output thread */
	/* Metrics label the node's parent, not the node (OBS_LABEL_*). */
	uint8_t labels;
	bool ok, quiet;		/* EV_HEALTH (struct event) */
	uint8_t check;		/* EV_HEALTH: enum health_kind */
	int32_t err;		/* EV_HEALTH */
	uint32_t failures;	/* EV_HEALTH */
	uint64_t failures_total;	/* EV_HEALTH */
	/* EV_SPAWN: the core's clock as it called clone, and once the
	 * worker's execve had succeeded (spawn returns then); the child's as
	 * it began and as it called execve (struct spawn_times). */
	uint64_t clone_ns, spawned_ns, child_ns, exec_ns;
	/* The node's cascade (0: none); EV_CASCADE: path is its cause, cause
	 * its last worker ready, since_ns the core's clock at the cause's
	 * exit, members and ready its workers (struct event). */
	uint64_t cascade, since_ns;
	uint32_t members, ready;
	char path[OBSQ_PATH];
	char cause[OBSQ_PATH];	/* EV_RESTART: the child whose exit caused it */
	char text[OBSQ_TEXT];	/* EV_GIVE_UP: why; EV_RELOAD: what changed */
	int fd;			/* OBS_MSG_CLIENT */
	uint64_t qseq;		/* its place in the queue, set by the reader */
	struct obs_request req;	/* OBS_MSG_CLIENT: what it asks */
};

struct obsq {
	/* Given back by the consumer (obsq_commit): slots before it are the
	 * producer's again. */
	_Atomic uint64_t head;
	_Atomic uint64_t tail;	/* next to write; written by the producer */
	/* The consumer's read cursor, as it last said (obsq_said_read). */
	_Atomic uint64_t read;
	_Atomic uint64_t dropped;
	/* The consumer's, across its restarts: the slot it is taking now
	 * (+1; 0: none), and the one its last starts died taking, how many
	 * times (obsq_resume). */
	_Atomic uint64_t working;
	uint64_t died_at;
	uint32_t died_times;
	/* Set by the producer at its stop: everything held goes out now. */
	_Atomic uint32_t finish;
	struct obs_msg slots[OBSQ_CAPACITY];
};

/* Producer side: false (and counted) when full. */
/*
 * The core's helper processes, for arbor_helper_restarts_total: names set
 * once, counts written by the core (helper.c) and read by the
 * observability thread.
 */
#define OBS_HELPERS_MAX 4
struct obs_helpers {
	char name[OBS_HELPERS_MAX][16];	/* "": no more */
	_Atomic uint64_t restarts[OBS_HELPERS_MAX];
};

/*
 * The stream sockets arbord holds for workers (held.c), for
 * arbor_socket_backlog and a restart's backlog_peak: the observability
 * helper finds each one's accept queue by its inode (sock_diag). Written
 * by the core whenever they change, under a sequence count (odd while it
 * writes; the reader copies and compares). Past OBS_SOCKETS_MAX, the rest
 * are not watched.
 */
#define OBS_SOCKETS_MAX 256
struct obs_socket {
	uint64_t inode;
	uint32_t family;	/* AF_INET, AF_INET6, AF_UNIX */
	char owner[OBSQ_PATH];	/* the worker's path, or its pool's */
	char name[256];		/* its LISTEN_FDNAMES name */
};
struct obs_sockets {
	_Atomic uint64_t seq;
	uint32_t n;
	struct obs_socket v[OBS_SOCKETS_MAX];
};

/*
 * What the observability helper is given, written by the core before each
 * start (arbord(8), FAULT DOMAINS); strings NUL-terminated by the core.
 */
#define OBS_CONF_PATH 4096
#define OBS_CONF_HOSTS 4096
#define OBS_CONF_STATES 16
struct obs_conf {
	uint32_t bpf;		/* enum bpf_mode */
	uint8_t console, console_auth_none, has_probes;
	uint64_t event_log_max_bytes;
	uint32_t event_log_keep;
	int64_t console_token_ttl_ns, console_session_ttl_ns;	/* -1: default */
	int64_t fig_budget_ns;	/* -1: default */
	int64_t fig_cold_ns;	/* -1: default */
	uint64_t restarts;	/* the helper's, for arbor_obs_restarts_total */
	/* The probes the core loaded: when, each one's state, the run-queue
	 * map's size (HMSG_OBS_PROBES gives their fds). */
	uint64_t attached_ns;
	uint32_t runq_max, nstates;
	struct probe_state states[OBS_CONF_STATES];
	char metrics_listen[256];
	char event_log[OBS_CONF_PATH];	/* "": none */
	char console_hosts[OBS_CONF_HOSTS];	/* each NUL-ended, "" ends */
	/* struct cg_view, its strings in place ("": none) */
	char cg_v2_base[OBS_CONF_PATH];
	char cg_v1_base[4][OBS_CONF_PATH];
	uint64_t cg_base_id, cg_self_id, cg_helpers_id;
	uint32_t cg_base_level, cg_v2_ctrls;
};

/*
 * The kernel's exit and exec records of workers, the last ones the observability
 * helper took from the BPF ring buffer (which forgets each one as it is
 * read), kept before it is read on: if the helper dies before their exits
 * are written out, the next one joins them again with the core's exits it
 * reads again (obsq_resume). Written by the helper only; its next one
 * checks every record it takes from here.
 */
#define OBS_KEPT_MAX 256
struct obs_kept {
	/* kept so far; the next goes to n % OBS_KEPT_MAX (release: the slot
	 * is whole before n counts it) */
	_Atomic uint64_t n;
	/* A start is giving them to its join: one that died doing it makes
	 * the next skip them. */
	_Atomic uint32_t replaying;
	struct arbor_rec r[OBS_KEPT_MAX];
};

/* The shared memfd: the core writes all of it but the consumer's fields of
 * q (head, read, working, died_*) and kept; read it sets before each
 * start. */
struct obs_shm {
	struct obs_conf conf;
	struct obs_helpers helpers;
	struct obs_sockets sockets;
	struct obsq q;
	struct obs_kept kept;
};

bool obsq_push(struct obsq *, const struct obs_msg *);
/* Producer side: the next push would succeed. */
bool obsq_room(struct obsq *);
/*
 * Consumer side, for a consumer that may die holding what it read (the
 * observability helper): it reads at a cursor of its own (false when
 * nothing is there), from where obsq_resume says, and gives the slots back (obsq_commit) only once what it
 * read from them is written out. Its successor reads again from there.
 */
bool obsq_read(struct obsq *, uint64_t at, struct obs_msg *);
/*
 * Where a consumer's start reads from. *skip is a slot it must not take
 * (UINT64_MAX: none): the last OBSQ_RESUME_MAX starts died taking it
 * (obsq_working), so it is given up, dropped and counted: an event that
 * kills its reader must not kill every reader after it.
 */
#define OBSQ_RESUME_MAX 2
uint64_t obsq_resume(struct obsq *, uint64_t *skip);
/* The consumer takes the slot at (working), or has taken it (done). */
void obsq_working(struct obsq *, uint64_t at, bool done);
void obsq_commit(struct obsq *, uint64_t to);
/* The consumer has read up to at (what the core waits for at its stop). */
void obsq_said_read(struct obsq *, uint64_t at);

#endif
