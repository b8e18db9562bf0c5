/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Containment (arbord(8), CONTAINMENT): the cgroup v2 subtree that mirrors
 * the supervision tree, the limits on it, the kill of what a worker leaves
 * behind, and the guardian that empties the subtree if arbord dies. NULL
 * everywhere means process groups (daemon.cgroup = "off", or no writable
 * cgroup v2). Runs in the core; it never reads a figure (memory, CPU):
 * that is the observability thread's (exporters/cgstat.c).
 */
#ifndef ARBOR_CGROUP_H
#define ARBOR_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/spec.h"
#include "engine.h"
#include "reactor.h"

struct cgroups;

/* Where the observability thread finds a node's cgroup files. */
struct cg_view {
	char *v2_base;		/* absolute: <mount><base> */
	char *v1_base[4];	/* per enum cg_ctrl, NULL: not used */
	/* For the probes: the base's, arbord's leaf's and the helpers'
	 * cgroup ids (their inodes) and the base's depth below the v2 root. */
	uint64_t base_id, self_id, helpers_id;
	uint32_t base_level;
	unsigned v2_ctrls;	/* v2 controllers enabled below the base (1 << cg_ctrl) */
};

/*
 * Sets the subtree up per sp->cgroup: finds or makes the base, kills and
 * removes what a SIGKILLed arbord left there, moves arbord into its own leaf
 * and starts the guardian. Returns NULL for process groups (said once in
 * the log); *failed is then true when an explicit path was refused (the
 * error is logged) and arbord must not start.
 */
struct cgroups *cgroups_open(struct reactor *, const struct spec *sp,
    const char *socket_path, bool *failed);
/*
 * At exit, once the tree has stopped: kills what is left, removes the
 * subtree, puts arbord back where it came from. NULL is fine.
 */
void cgroups_close(struct cgroups *);

/* Below the v2 mount: "/arbor-run-arbor.sock" (for status). */
const char *cgroups_base(const struct cgroups *);
void cgroups_view(const struct cgroups *, struct cg_view *);
void cg_view_copy(struct cg_view *dst, const struct cg_view *src);
void cg_view_free(struct cg_view *);

/* Workers whose leaf (and its cgroup.events) stays open from one exit to
 * the next, the last to exit: two fds each. */
#define CG_KEPT_LEAVES 32

/* What a spawn needs: the leaf (CLONE_INTO_CGROUP) and v1 groups to join. */
struct cg_spawn {
	int dirfd;		/* -1: none */
	bool dir_kept;		/* dirfd is the cgroups' own (not closed) */
	int v1fd[3];		/* cgroup.procs of v1 leaves, -1: none */
	size_t nv1;
};

/*
 * Makes the worker's leaf (and its supervisors' directories) if missing,
 * applies the limits its spec gives; -1 with msg when that fails.
 */
int cgroups_prepare(struct cgroups *, struct enode *, struct cg_spawn *,
    char *msg, size_t msglen);
void cg_spawn_close(struct cg_spawn *);

/*
 * The group an exec health check of n is born in: <leaf>/health (made if
 * missing; with renew, removed first, as after a kill it must be), and
 * the worker's v1 groups; -1 with msg.
 */
int cgroups_check_prepare(struct cgroups *, struct enode *, bool renew,
    struct cg_spawn *, char *msg, size_t msglen);
/* Kills what is in n's check group; true when something was (then the
 * next check needs renew). */
bool cgroups_check_kill(struct cgroups *, const struct enode *);

/*
 * A worker's main process has exited: -1 when its cgroup is empty (no
 * wait); else everything left is killed (cgroup.kill) and the cgroup.events
 * fd is returned, to watch for EPOLLPRI until cgroups_empty says so.
 */
int cgroups_drain(struct cgroups *, struct enode *);
bool cgroups_empty(int events_fd);
/* The end of a batch of the loop: a leaf its drain found empty is spawned
 * into through the fd the drain read it by in that batch only (later, it
 * may have been removed in the meantime: it is looked up again). */
void cgroups_batch_done(struct cgroups *);
/* Once drained after a kill: the leaf is made again at the next start. */
void cgroups_renew(struct cgroups *, struct enode *);
/* The node is leaving the tree: its directories go (they are empty). */
void cgroups_removed(struct cgroups *, const struct enode *);
/* After a reload: controllers newly used, supervisors' new limits. */
void cgroups_reloaded(struct cgroups *, struct enode *root,
    const struct spec *);
/*
 * Keys the spec sets that this host cannot apply, one line each
 * ("root/api: memory_max: not applied: ..."); NULL-terminated, strv_free.
 */
char **cgroups_unapplied(const struct cgroups *, const struct spec *);
/* Keys applied to the node's cgroup (1 << enum res_key). */
unsigned cgroups_applied(const struct enode *);
/*
 * The node path of the cgroup process pid is in ("root/api/web"), from
 * /proc/PID/cgroup; false when it is not in the tree (or gone).
 */
/*
 * Freezes (on) or thaws the node's cgroup and everything below it
 * (cgroup.freeze; arborctl pause, resume). 0, or -1 with errno.
 */
int cgroups_freeze(struct cgroups *, struct enode *, bool on);
/* Whether arbord froze the node's cgroup. */
bool cgroups_frozen(const struct enode *);
/*
 * The leaf of helper process name ("checks"), <base>/helpers/NAME beside
 * arbord's, with memory.max and pids.max (v1 groups on hybrid hosts);
 * s->dirfd is the leaf, s->v1fd the v1 cgroup.procs. -1 with msg.
 */
int cgroups_helper_prepare(struct cgroups *, const char *name,
    uint64_t memory_max, uint64_t pids_max, struct cg_spawn *s, char *msg,
    size_t msglen);
/* At exit, once the helper is gone: its leaves go. */
void cgroups_helper_remove(struct cgroups *, const char *name);
bool cgroups_node_of(const struct cgroups *, int pid, char *path,
    size_t len);

#endif
