/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The supervision engine: the tree and OTP's rules (arbord(8), DESCRIPTION), and nothing
 * else. It makes no system call and reads no clock: every input carries the
 * time (CLOCK_MONOTONIC ns), and every effect goes out through the ops table
 * the caller provides (the runtime in arbord, a fake in the unit tests). An
 * op must not call back into the engine.
 */
#ifndef ARBOR_ENGINE_H
#define ARBOR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/spec.h"

enum node_state {
	NS_STOPPED,
	NS_STARTING,
	NS_RUNNING,
	NS_STOPPING,
	NS_BACKOFF,
};

enum exit_reason { EXIT_NORMAL, EXIT_SHUTDOWN, EXIT_CRASH };

enum exit_cause {
	CAUSE_EXIT,		/* the process exited or was killed */
	CAUSE_SPAWN_FAILED,	/* fork or execve failed; see err */
	CAUSE_READY_TIMEOUT,	/* not ready within ready_timeout */
	CAUSE_WATCHDOG,		/* no WATCHDOG=1 within watchdog */
	CAUSE_GIVE_UP,		/* a supervisor exceeded its intensity */
	CAUSE_AUTO_SHUTDOWN,	/* a supervisor ended by auto_shutdown */
	CAUSE_UNHEALTHY,	/* its health check failed `failures` times */
};

struct exit_info {
	enum exit_reason reason;
	enum exit_cause cause;
	int status;		/* exit status, -1 if none */
	int signal;		/* terminating signal, 0 if none */
	int err;		/* errno of a failed spawn */
};

enum event_kind {
	EV_SPAWN,
	EV_EXEC,
	EV_READY,
	EV_EXIT,
	EV_RESTART,
	EV_STOP,
	EV_GIVE_UP,
	EV_CHILD_ADDED,
	EV_CHILD_REMOVED,
	EV_RELOAD,
	EV_OBS_RESTART,
	EV_HEALTH,
	EV_CASCADE,	/* the last worker of a cascade is ready again */
};

struct enode;

/* What a reload changed, as node paths. */
struct reload_summary {
	char **added;		/* NULL-terminated, like the others */
	char **removed;
	char **changed;		/* restarted with their new spec */
	char **updated;		/* supervisors changed in place */
};

struct event {
	enum event_kind kind;
	uint64_t mono_ns;
	const struct enode *node;
	int pid;			/* 0 if none */
	struct exit_info exit;		/* EV_EXIT */
	const struct enode *cause;	/* EV_RESTART: the child whose exit caused it */
	uint32_t delay_ms;		/* EV_RESTART: backoff before the start */
	int signal;			/* EV_STOP: the signal sent */
	const char *text;		/* EV_GIVE_UP: why; EV_HEALTH: detail */
	const struct reload_summary *reload;	/* EV_RELOAD */
	/*
	 * EV_HEALTH: the check's result; err its errno (0: none); failures
	 * the consecutive ones that count, failures_total all that counted
	 * for the node. quiet: a failure after a failure, no change of
	 * result: it moves the counter but is not an event of the log.
	 */
	bool ok, quiet;
	int err;
	uint32_t failures;
	uint64_t failures_total;
	/*
	 * The cascade the node is part of (0: none): what a one_for_all or
	 * rest_for_one restart, or an escalation, stopped and started
	 * because of one exit. EV_CASCADE (node: its last worker ready;
	 * text: the path whose exit began it, at since_ns): members workers
	 * were taken, ready of them came back.
	 */
	uint64_t cascade;
	uint32_t members, ready;
	uint64_t since_ns;
};

struct engine_ops {
	/*
	 * Starts the worker's process. Returns its pid once execve has
	 * succeeded, or -1 with *err set (the failure is the child's crash).
	 */
	int (*spawn)(void *ctx, struct enode *, int *err);
	/* Sends sig to the process group of pid. */
	void (*signal)(void *ctx, const struct enode *, int pid, int sig);
	void (*event)(void *ctx, const struct event *);
	/* The root has stopped: arbord exits with this code. */
	void (*exit)(void *ctx, int code);
	/* 32 random bits, for restart_delay_jitter; NULL: no jitter. */
	uint32_t (*random)(void *ctx);
};

struct engine;

/* Borrows spec, which must outlive the engine. */
struct engine *engine_new(const struct spec *, const struct engine_ops *,
    void *ctx);
void engine_free(struct engine *);

/* Inputs. */
void engine_start(struct engine *, uint64_t now);
/* The main process of a worker exited; status/signal as from waitid. */
void engine_exited(struct engine *, struct enode *, int status, int signal,
    uint64_t now);
/* sd_notify: READY=1, WATCHDOG=1, EXTEND_TIMEOUT_USEC=, STATUS=. */
void engine_ready(struct engine *, struct enode *, uint64_t now);
void engine_watchdog(struct engine *, struct enode *, uint64_t now);
void engine_watchdog_trigger(struct engine *, struct enode *, uint64_t now);
void engine_extend_timeout(struct engine *, struct enode *, uint64_t usec,
    uint64_t now);
void engine_set_status_text(struct engine *, struct enode *, const char *);
/*
 * A health check of the worker ended (arbor.conf(5), HEALTH CHECKS): ok or
 * not, with what it saw (detail, errno err or 0). A pass makes a
 * ready = "health" worker started; once started, `failures` failures in a
 * row (outside its start_period) stop it as a crash, cause unhealthy.
 */
void engine_health(struct engine *, struct enode *, bool ok,
    const char *detail, int err, uint64_t now);
void engine_tick(struct engine *, uint64_t now);
/* Orderly shutdown of the whole tree; ops->exit(0) when done. */
void engine_shutdown(struct engine *, uint64_t now);

/* Commands; on refusal they return -1 and set *why (static text). */
int engine_cmd_start(struct engine *, struct enode *, uint64_t now,
    const char **why);
int engine_cmd_stop(struct engine *, struct enode *, uint64_t now,
    const char **why);
int engine_cmd_restart(struct engine *, struct enode *, uint64_t now,
    const char **why);
int engine_cmd_signal(struct engine *, struct enode *, int sig,
    const char **why);
/* New child of a simple_one_for_one supervisor; args appended to the template. */
struct enode *engine_start_child(struct engine *, struct enode *sup,
    char *const *args, uint64_t now, const char **why);
int engine_terminate_child(struct engine *, struct enode *, uint64_t now,
    const char **why);

/*
 * Applies the difference from the running spec to spec (arborctl(8), reload):
 * removed children stop, added ones start in their place, changed workers
 * restart with their new spec (no crash counted), supervisors' own keys
 * change in place, the rest keep running. Borrows spec from now on; the
 * caller frees the old one after success. Fills *sum (free it with
 * reload_summary_free). Returns -1 with *why when it refuses, changing
 * nothing.
 */
int engine_reload(struct engine *, const struct spec *, uint64_t now,
    struct reload_summary *sum, const char **why);
void reload_summary_free(struct reload_summary *);

/*
 * The earliest timer deadline, UINT64_MAX when none is armed; 1 (at once)
 * when a start ran out of spawns for this batch and goes on in engine_tick.
 */
uint64_t engine_next_deadline(struct engine *);
/* The loop's batch is over: the next may spawn SPAWN_BUDGET workers. */
void engine_batch_done(struct engine *);
bool engine_stopping(const struct engine *);
/* The root has started all its children (once true, stays so until it stops). */
bool engine_started(const struct engine *);

/* Read-only views, for status and the runtime. */
struct enode *engine_root(const struct engine *);
struct enode *engine_find(const struct engine *, const char *path);
struct enode *engine_find_pid(const struct engine *, int pid);
size_t enode_nchildren(const struct enode *);
struct enode *enode_child(const struct enode *, size_t i);
const struct spec_node *enode_spec(const struct enode *);
const char *enode_path(const struct enode *);
const char *enode_name(const struct enode *);
bool enode_is_supervisor(const struct enode *);
enum node_state enode_state(const struct enode *);
int enode_pid(const struct enode *);
uint32_t enode_restarts(const struct enode *);
uint64_t enode_started_ns(const struct enode *);	/* 0: not running */
const struct exit_info *enode_last_exit(const struct enode *);	/* NULL: none */
const char *enode_status_text(const struct enode *);	/* NULL: none */
/* Stopping to be removed: gone from the config, or a terminated child. */
bool enode_removing(const struct enode *);
struct enode *enode_parent(const struct enode *);	/* NULL: the root */
/*
 * A word the runtime keeps per node (containment state); the engine only
 * stores it, and it starts at 0.
 */
uintptr_t enode_runtime(const struct enode *);
void enode_set_runtime(struct enode *, uintptr_t);
/* The runtime's worker-output state (daemon/capture.c); NULL: none. */
void *enode_capture(const struct enode *);
void enode_set_capture(struct enode *, void *);
/* The runtime's health-check state (daemon/health.c); NULL: none. */
void *enode_checker(const struct enode *);
void enode_set_checker(struct enode *, void *);
/* The runtime's fd store (daemon/held.c); NULL: none. */
void *enode_store(const struct enode *);
void enode_set_store(struct enode *, void *);

/* The last health check of the current process, for status. */
struct health_view {
	int result;		/* 1 passed, 0 failed, -1 none yet */
	const char *detail;	/* NULL: none yet */
	uint64_t at_ns;		/* when it ended */
	uint32_t failures;	/* consecutive failures that count */
	uint64_t failures_total;	/* every failure that counted, all runs */
};
void enode_health(const struct enode *, struct health_view *);

/* The full argv: the spec's command plus a dynamic child's arguments. */
char *const *enode_argv(const struct enode *);

const char *node_state_name(enum node_state);
const char *exit_reason_name(enum exit_reason);
const char *event_kind_name(enum event_kind);

#endif
