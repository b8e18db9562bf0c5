/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * OTP supervision applied to OS processes. The flow of a decision follows
 * supervisor.erl: a child exits -> its restart type and the exit reason
 * decide -> the restart is recorded in the supervisor's sliding window
 * (give up past intensity) -> the strategy picks which children to stop
 * (reverse order) and start again (start order, each gated on the previous
 * being started).
 *
 * A supervisor keeps two marks on its children: to_stop (alive, must be
 * stopped by the current group restart or shutdown) and pending (must be
 * started). sup_step() drives both to completion, one child at a time where
 * order matters, and is called again whenever a child changes state.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "util.h"

enum timer_kind {
	TK_NONE,
	TK_KILL,		/* stop_signal sent; SIGKILL at deadline */
	TK_BACKOFF,		/* restart_delay elapsed at deadline */
	TK_READY,		/* ready_timeout */
	TK_FAILED_START,	/* a failed spawn, handled on the next tick */
	TK_SUP_KILL,		/* a supervisor's shutdown time ran out */
	TK_WATCHDOG,		/* no WATCHDOG=1 in time */
};

enum sup_end {
	SUP_END_STOP,		/* stopped by its parent or a command */
	SUP_END_GIVE_UP,
	SUP_END_AUTO,		/* auto_shutdown */
};

/*
 * A cascade: the workers a group strategy or an escalation stopped and
 * started again because of one exit (EV_CASCADE). Each worker it took
 * holds it until it is ready again or will not come back; a supervisor
 * that gave up holds it until its parent has restarted it (or given up
 * in turn), so an escalation stays one cascade. Freed with its last hold:
 * a worker holds one cascade at most, so they cost nothing per crash.
 */
struct cascade {
	uint64_t id;
	char *cause;		/* the path of the node whose exit began it */
	uint64_t since_ns;	/* when the engine heard of that exit */
	uint32_t members;	/* workers it took */
	uint32_t pending;	/* of them, not ready again yet */
	uint32_t ready;
	uint32_t holds;
};

struct enode {
	struct pid_link pid_link;	/* in the engine's pid index */
	struct engine *eng;
	struct enode *parent;
	const struct spec_node *spec;
	char *name;
	char *path;
	char **argv;		/* dynamic children: command + args */
	bool dynamic;
	struct spec_node *owned_spec;	/* a removed node's copy of its spec */
	char *status_text;	/* last sd_notify STATUS= */
	uintptr_t runtime;	/* the runtime's own word (enode_runtime) */
	void *capture;		/* the runtime's output pipes (enode_capture) */
	void *checker;		/* the runtime's health checks (enode_checker) */
	void *store;		/* the runtime's fd store (enode_store) */
	struct cascade *cas;	/* the cascade it is part of; NULL: none */

	enum node_state state;
	int pid;
	uint64_t started_ns;	/* entered NS_RUNNING */
	uint32_t restarts;
	bool has_exit;
	struct exit_info last_exit;
	bool ever_started;

	uint64_t deadline;
	enum timer_kind timer;
	uint64_t timer_gen;	/* engine tick generation when armed */
	struct heap_link tl;	/* in the timer heap while armed (deadline) */
	size_t due_at;		/* its place in engine_tick's batch + 1 */
	uint64_t ran_ns;	/* how long the last run lasted */

	/* Marks set by the parent (see the top of this file). */
	bool to_stop;
	bool pending;
	bool held;		/* stopped by command: never restarted */
	bool restart_after_stop;
	bool remove_after_stop;
	bool failed;		/* stopping because of fail_info */
	struct exit_info fail_info;

	/* Health checks of the current process (engine_health). */
	uint64_t spawned_ns;
	int8_t h_result;	/* last result: 1, 0, -1 none */
	int8_t h_reported;	/* last result that was an event */
	bool h_passed;		/* a pass ends start_period early */
	uint32_t h_fails;	/* consecutive, counted */
	uint64_t h_fails_total;
	uint64_t h_at;
	char *h_detail;

	/* Worker backoff. */
	uint32_t crash_streak;
	uint32_t delay_ms;	/* applied before its next start */

	/* Supervisor. */
	struct enode **children;
	size_t nchildren;
	uint64_t *rtimes;	/* ring of restart times, capacity intensity+1 */
	size_t rt_first;
	size_t rt_count;
	uint32_t next_id;	/* dynamic child names, never reused */
	size_t nremoving;	/* children marked remove_after_stop */
	enum sup_end end;
	bool in_step;
	bool step_again;
};

struct engine {
	const struct spec *spec;
	const struct engine_ops *ops;
	void *ctx;
	struct enode *root;
	bool shutting_down;
	bool exited;
	uint64_t gen;		/* counts engine_tick calls */
	/*
	 * The armed timers, a binary min-heap by deadline: arming one (a
	 * WATCHDOG=1 moves its worker's) and finding the next are O(log n)
	 * and O(1), whatever the tree's size; due: engine_tick's batch.
	 */
	struct min_heap timers;
	struct enode **due;
	size_t due_cap;
	/* Workers by pid (engine_find_pid: once per notify datagram). */
	struct pid_index pids;
	uint64_t cascades;	/* the last cascade's id */
	/*
	 * Spawns left in this batch of the loop (engine_batch_done). A start
	 * of thousands goes on in the next batch when they run out, so the
	 * loop answers status, reaps and restarts in between instead of
	 * after the whole start (some 30 s for 10,000 workers).
	 */
	unsigned spawn_budget;
	bool yielded;		/* pending children wait for the next batch */
};

#define SPAWN_BUDGET 32

static void sup_step(struct enode *s, uint64_t now);
static void start_node(struct enode *n, uint64_t now);
static void stop_node(struct enode *n, uint64_t now);
static void node_stopped(struct enode *n, const struct exit_info *ei,
    bool record, uint64_t now);
static void kill_subtree(struct enode *n);
static void arm_watchdog(struct enode *n, uint64_t now);
static void watchdog_fail(struct enode *n, uint64_t now);
static void worker_ready(struct enode *n, uint64_t now);

static void
emit(struct enode *n, struct event *ev)
{
	ev->node = n;
	if (!ev->cascade && n->cas)
		ev->cascade = n->cas->id;
	n->eng->ops->event(n->eng->ctx, ev);
}

static struct cascade *
cascade_new(struct engine *e, const struct enode *cause, uint64_t now)
{
	struct cascade *k = xcalloc(1, sizeof(*k));

	k->id = ++e->cascades;
	k->cause = xstrdup(cause->path);
	k->since_ns = now;
	return k;
}

static void
cascade_unhold(struct cascade *k)
{
	if (k && --k->holds == 0) {
		free(k->cause);
		free(k);
	}
}

/* Worker n leaves its cascade, ready again or not coming back; the last
 * to leave ends it with EV_CASCADE. */
static void
cascade_leave(struct enode *n, bool ready, uint64_t now)
{
	struct cascade *k = n->cas;

	if (!k)
		return;
	n->cas = NULL;
	k->pending--;
	if (ready)
		k->ready++;
	if (k->pending == 0 && k->ready > 0) {
		struct event ev = { .kind = EV_CASCADE, .mono_ns = now,
		    .cascade = k->id, .text = k->cause,
		    .members = k->members, .ready = k->ready,
		    .since_ns = k->since_ns };

		emit(n, &ev);
	}
	cascade_unhold(k);
}

/* The workers under n (n itself if a worker) that will start again join
 * cascade k, leaving any other. */
static void
cascade_take(struct enode *n, struct cascade *k, uint64_t now)
{
	if (n->spec->is_supervisor) {
		for (size_t i = 0; i < n->nchildren; i++)
			cascade_take(n->children[i], k, now);
		return;
	}
	if (n->cas == k || n->held || n->spec->restart == RESTART_TEMPORARY)
		return;
	cascade_leave(n, false, now);
	n->cas = k;
	k->members++;
	k->pending++;
	k->holds++;
}

/* n and what is under it are removed: out of their cascades. */
static void
cascade_gone(struct enode *n, uint64_t now)
{
	for (size_t i = 0; i < n->nchildren; i++)
		cascade_gone(n->children[i], now);
	if (!n->spec->is_supervisor)
		cascade_leave(n, false, now);
	else if (n->cas) {
		cascade_unhold(n->cas);
		n->cas = NULL;
	}
}

/* A supervisor above n that gave up in n's cascade: n comes back with it. */
static bool
cascade_held_above(const struct enode *n)
{
	for (const struct enode *p = n->parent; p; p = p->parent)
		if (p->cas && p->cas == n->cas)
			return true;
	return false;
}

/* The workers under n that are not coming back leave their cascades. */
static void
cascade_drop(struct enode *n, uint64_t now)
{
	for (size_t i = 0; i < n->nchildren; i++)
		cascade_drop(n->children[i], now);
	if (!n->spec->is_supervisor && n->cas && !cascade_held_above(n))
		cascade_leave(n, false, now);
}

static struct enode *
node_new(struct engine *e, struct enode *parent, const struct spec_node *sp,
    const char *name)
{
	struct enode *n = xcalloc(1, sizeof(*n));

	n->eng = e;
	n->parent = parent;
	n->spec = sp;
	n->name = xstrdup(name);
	n->path = parent ? xasprintf("%s/%s", parent->path, name)
	    : xstrdup(name);
	n->state = NS_STOPPED;
	n->h_result = n->h_reported = -1;
	if (sp->is_supervisor) {
		n->children = xcalloc(sp->nchildren + 1, sizeof(*n->children));
		for (size_t i = 0; i < sp->nchildren; i++)
			n->children[n->nchildren++] = node_new(e, n,
			    sp->children[i], sp->children[i]->name);
		n->rtimes = xcalloc(sp->intensity + 1, sizeof(*n->rtimes));
	}
	return n;
}

static void
pid_unindex(struct enode *n)
{
	if (n->pid > 0)
		pid_index_del(&n->eng->pids, &n->pid_link);
}

static void
pid_index(struct enode *n)
{
	n->pid_link.pid = n->pid;
	pid_index_add(&n->eng->pids, &n->pid_link);
}

static void
node_free(struct enode *n)
{
	if (!n)
		return;
	pid_unindex(n);
	heap_remove(&n->eng->timers, &n->tl);
	if (n->due_at)	/* freed by a timer of the same tick */
		n->eng->due[n->due_at - 1] = NULL;
	cascade_unhold(n->cas);	/* the engine's end: no event */
	for (size_t i = 0; i < n->nchildren; i++)
		node_free(n->children[i]);
	free(n->children);
	free(n->rtimes);
	strv_free(n->argv);
	spec_node_free(n->owned_spec);
	free(n->status_text);
	free(n->h_detail);
	free(n->name);
	free(n->path);
	free(n);
}

struct engine *
engine_new(const struct spec *sp, const struct engine_ops *ops, void *ctx)
{
	struct engine *e = xcalloc(1, sizeof(*e));

	e->spec = sp;
	e->ops = ops;
	e->ctx = ctx;
	e->root = node_new(e, NULL, sp->root, sp->root->name);
	e->spawn_budget = SPAWN_BUDGET;
	return e;
}

void
engine_free(struct engine *e)
{
	if (!e)
		return;
	node_free(e->root);
	pid_index_free(&e->pids);
	heap_free(&e->timers);
	free(e->due);
	free(e);
}

static bool
alive(const struct enode *n)
{
	return n->state == NS_STARTING || n->state == NS_RUNNING ||
	    n->state == NS_STOPPING;
}

static void
arm(struct enode *n, enum timer_kind k, uint64_t at)
{
	struct engine *e = n->eng;

	n->timer = k;
	n->deadline = at;
	n->timer_gen = e->gen;
	heap_put(&e->timers, &n->tl, at);
	if (e->timers.n > e->due_cap) {
		e->due_cap = e->timers.cap;
		e->due = xreallocarray(e->due, e->due_cap, sizeof(*e->due));
	}
}

static void
disarm(struct enode *n)
{
	heap_remove(&n->eng->timers, &n->tl);
	n->timer = TK_NONE;
	n->deadline = 0;
}

static size_t
child_index(const struct enode *s, const struct enode *c)
{
	for (size_t i = 0; i < s->nchildren; i++)
		if (s->children[i] == c)
			return i;
	return s->nchildren;
}

static void
remove_child(struct enode *s, struct enode *c, uint64_t now)
{
	size_t i = child_index(s, c);
	struct event ev = { .kind = EV_CHILD_REMOVED, .mono_ns = now };

	if (i == s->nchildren)
		return;
	if (c->remove_after_stop)
		s->nremoving--;
	cascade_gone(c, now);
	emit(c, &ev);
	memmove(&s->children[i], &s->children[i + 1],
	    (s->nchildren - i - 1) * sizeof(*s->children));
	s->nchildren--;
	node_free(c);
}

/*
 * Records a restart decision at now. Returns false when it makes more than
 * intensity restarts within the last period: the supervisor must give up.
 * The ring holds at most intensity+1 entries, so memory stays bounded however
 * many times children crash.
 */
static bool
add_restart(struct enode *s, uint64_t now)
{
	uint32_t cap = s->spec->intensity + 1;
	uint64_t period = (uint64_t)s->spec->period_s * NSEC_PER_SEC;

	while (s->rt_count > 0 &&
	    now - s->rtimes[s->rt_first] >= period) {
		s->rt_first = (s->rt_first + 1) % cap;
		s->rt_count--;
	}
	if (s->rt_count == cap) {
		s->rt_first = (s->rt_first + 1) % cap;
		s->rt_count--;
	}
	s->rtimes[(s->rt_first + s->rt_count) % cap] = now;
	s->rt_count++;
	return s->rt_count <= s->spec->intensity;
}

static bool
restart_wanted(enum restart_type t, enum exit_reason r)
{
	switch (t) {
	case RESTART_PERMANENT: return r != EXIT_SHUTDOWN;
	case RESTART_TRANSIENT: return r == EXIT_CRASH;
	case RESTART_TEMPORARY: return false;
	}
	return false;
}

/* The delay before restarting n after its own exit, doubling per crash. */
static uint32_t
backoff_delay(struct enode *n)
{
	const struct spec_worker *w = &n->spec->w;
	uint64_t stable = (uint64_t)n->parent->spec->period_s * NSEC_PER_SEC;
	uint64_t d;

	if (n->spec->is_supervisor || w->restart_delay_ms == 0)
		return 0;
	if (n->ran_ns >= stable)
		n->crash_streak = 0;
	n->crash_streak++;
	d = w->restart_delay_ms;
	if (w->restart_delay_max_ms > w->restart_delay_ms) {
		for (uint32_t i = 1; i < n->crash_streak &&
		    d < w->restart_delay_max_ms; i++)
			d *= 2;
		if (d > w->restart_delay_max_ms)
			d = w->restart_delay_max_ms;
	}
	if (w->restart_delay_jitter > 0 && n->eng->ops->random) {
		/* d * (1 +- jitter), uniform: u in [-1, 1). */
		double u = (double)n->eng->ops->random(n->eng->ctx) /
		    2147483648.0 - 1.0;
		double j = (double)d * (1.0 + w->restart_delay_jitter * u);

		d = j <= 0 ? 0 : j >= (double)UINT32_MAX ? UINT32_MAX :
		    (uint64_t)(j + 0.5);
	}
	return (uint32_t)d;
}

static void
give_up(struct enode *s, uint64_t now)
{
	struct event ev = { .kind = EV_GIVE_UP, .mono_ns = now };
	char why[160];

	snprintf(why, sizeof(why),
	    "more than %u restart%s within %u s (intensity %u, period %u)",
	    s->spec->intensity, s->spec->intensity == 1 ? "" : "s",
	    s->spec->period_s, s->spec->intensity, s->spec->period_s);
	ev.text = why;
	emit(s, &ev);
	s->end = SUP_END_GIVE_UP;
	stop_node(s, now);
}

static void
auto_shutdown_check(struct enode *s, const struct enode *c, uint64_t now)
{
	if (!c->spec->significant || s->state == NS_STOPPING)
		return;
	switch (s->spec->auto_shutdown) {
	case AUTO_SHUTDOWN_NEVER:
		return;
	case AUTO_SHUTDOWN_ANY_SIGNIFICANT:
		break;
	case AUTO_SHUTDOWN_ALL_SIGNIFICANT:
		for (size_t i = 0; i < s->nchildren; i++)
			if (s->children[i]->spec->significant &&
			    (s->children[i]->state != NS_STOPPED ||
			    s->children[i]->pending))
				return;
		break;
	}
	s->end = SUP_END_AUTO;
	stop_node(s, now);
}

static bool
group_strategy(const struct enode *s)
{
	return s->spec->strategy == STRATEGY_ONE_FOR_ALL ||
	    s->spec->strategy == STRATEGY_REST_FOR_ONE;
}

/* Marks sibling o for stop-and-restart because c exited (cascade k). */
static void
mark_sibling(struct enode *o, struct enode *c, struct cascade *k,
    uint64_t now)
{
	struct event ev = { .kind = EV_RESTART, .mono_ns = now, .cause = c };

	if (o->held)
		return;
	if (alive(o) || o->state == NS_BACKOFF)
		o->to_stop = true;
	if (o->spec->restart == RESTART_TEMPORARY)
		return;
	if (o->ever_started)
		o->restarts++;
	o->pending = true;
	cascade_take(o, k, now);
	emit(o, &ev);
}

/*
 * The cascade c's exit starts or goes on with: c's own (it was restarted
 * by one, or is a supervisor that gave up in one), else a new one.
 */
static struct cascade *
cascade_of(struct enode *c, uint64_t now)
{
	struct cascade *k = c->cas;

	if (!k) {
		k = cascade_new(c->eng, c, now);
		if (c->spec->is_supervisor) {
			c->cas = k;	/* released by child_died */
			k->holds++;
		}
	}
	return k;
}

/* Whether s's strategy restarts a sibling of its child at idx. */
static bool
takes_siblings(const struct enode *s, size_t idx)
{
	return (s->spec->strategy == STRATEGY_ONE_FOR_ALL &&
	    s->nchildren > 1) || (s->spec->strategy == STRATEGY_REST_FOR_ONE &&
	    idx + 1 < s->nchildren);
}

/*
 * Child c of s terminated on its own (not by s) with reason r: apply c's
 * restart type, the intensity check, and s's strategy. What it stops and
 * starts beyond c itself (siblings, or s and what is under it if s gives
 * up) is one cascade with c's exit as its cause. False when c is gone (a
 * dynamic child removed).
 */
static bool
child_died(struct enode *s, struct enode *c, enum exit_reason r, uint64_t now)
{
	struct event ev = { .kind = EV_RESTART, .mono_ns = now, .cause = c };
	struct cascade *k = NULL;
	size_t idx = child_index(s, c);
	bool dynamic = c->dynamic;

	if (!restart_wanted(c->spec->restart, r)) {
		c->pending = false;
		auto_shutdown_check(s, c, now);
		if (c->dynamic && s->state != NS_STOPPING) {
			remove_child(s, c, now);
			return false;	/* gone, with its cascade */
		}
		goto out;
	}
	if (!add_restart(s, now)) {
		c->pending = false;
		/* s and its workers: restarted with it if its parent does */
		k = cascade_of(c, now);
		if (!s->cas) {
			s->cas = k;
			k->holds++;
		}
		cascade_take(s, k, now);
		give_up(s, now);
		/* s may have stopped at once and taken its dynamic children */
		if (dynamic)
			return child_index(s, c) < s->nchildren;
		goto out;
	}
	c->delay_ms = backoff_delay(c);
	c->pending = true;
	if (c->ever_started)
		c->restarts++;
	ev.delay_ms = c->delay_ms;
	if (takes_siblings(s, idx) || c->cas) {
		k = cascade_of(c, now);
		cascade_take(c, k, now);
	}
	emit(c, &ev);

	switch (s->spec->strategy) {
	case STRATEGY_ONE_FOR_ONE:
	case STRATEGY_SIMPLE_ONE_FOR_ONE:
		break;
	case STRATEGY_ONE_FOR_ALL:
		for (size_t i = 0; i < s->nchildren; i++)
			if (i != idx)
				mark_sibling(s->children[i], c, k, now);
		break;
	case STRATEGY_REST_FOR_ONE:
		for (size_t i = idx + 1; i < s->nchildren; i++)
			mark_sibling(s->children[i], c, k, now);
		break;
	}
out:
	/* A supervisor's hold ends once its parent has dealt with it. */
	if (c->spec->is_supervisor && c->cas) {
		struct cascade *held = c->cas;

		c->cas = NULL;
		cascade_unhold(held);
	}
	return true;
}

/* A child of s has stopped, for whatever reason. */
static void
child_stopped(struct enode *s, struct enode *c, const struct exit_info *ei,
    uint64_t now)
{
	bool ordered = c->to_stop;

	c->to_stop = false;
	if (c->remove_after_stop) {
		/*
		 * Gone from the config (or terminated): removed however it
		 * stopped and whatever its supervisor is doing, so that no
		 * later start of the supervisor brings it back.
		 */
		remove_child(s, c, now);
		c = NULL;
	} else if (s->state == NS_STOPPING || s->state == NS_STOPPED) {
		c->pending = false;
	} else if (ordered) {
		/*
		 * Stopped (or died first) as part of a group restart: the
		 * decision is made already, pending says whether it returns.
		 */
		c->restart_after_stop = false;
	} else if (ei->reason == EXIT_SHUTDOWN && c->restart_after_stop) {
		c->restart_after_stop = false;
		c->held = false;
		start_node(c, now);
	} else if (ei->reason != EXIT_SHUTDOWN) {
		if (!child_died(s, c, ei->reason, now))
			c = NULL;
	}	/* else stopped by command: it stays stopped (held) */
	if (c && c->state == NS_STOPPED && !c->pending)
		cascade_drop(c, now);	/* not coming back: not waited for */
	if (s->state != NS_STOPPED)
		sup_step(s, now);
}

/*
 * n reached NS_STOPPED with ei; tell its parent (or end arbord). record is
 * false when nothing ran (a backoff cut short): last_exit keeps the exit
 * that caused the backoff.
 */
static void
node_stopped(struct enode *n, const struct exit_info *ei, bool record,
    uint64_t now)
{
	struct engine *e = n->eng;

	n->ran_ns = n->started_ns ? now - n->started_ns : 0;
	n->state = NS_STOPPED;
	pid_unindex(n);
	n->pid = 0;
	n->started_ns = 0;
	n->failed = false;
	free(n->status_text);
	n->status_text = NULL;
	disarm(n);
	if (record) {
		n->has_exit = true;
		n->last_exit = *ei;
	}
	if (n->parent) {
		child_stopped(n->parent, n, ei, now);
		return;
	}
	if (!e->exited) {
		e->exited = true;
		e->ops->exit(e->ctx, n->end == SUP_END_GIVE_UP ? 3 : 0);
	}
}

/* A supervisor's children are all stopped: it ends per s->end. */
static void
sup_finished(struct enode *s, uint64_t now)
{
	struct exit_info ei = { .status = -1 };

	/* Dynamic children do not outlive their supervisor. */
	while (s->spec->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE &&
	    s->nchildren > 0)
		remove_child(s, s->children[s->nchildren - 1], now);
	s->rt_count = 0;
	s->rt_first = 0;
	switch (s->end) {
	case SUP_END_STOP:
		ei.reason = EXIT_SHUTDOWN;
		ei.cause = CAUSE_EXIT;
		break;
	case SUP_END_GIVE_UP:
		/* As in OTP: the parent treats a give-up as an abnormal exit. */
		ei.reason = EXIT_CRASH;
		ei.cause = CAUSE_GIVE_UP;
		break;
	case SUP_END_AUTO:
		ei.reason = EXIT_NORMAL;
		ei.cause = CAUSE_AUTO_SHUTDOWN;
		break;
	}
	node_stopped(s, &ei, true, now);
}

/*
 * Drives supervisor s towards what its marks and state ask for. Re-entrant
 * calls (a child stopping synchronously inside the loop) only ask for
 * another pass, so depth stays bounded by the tree's depth.
 */
/* Lets every supervisor of the tree act on its marks, deepest first. */
static void
sup_step_all(struct enode *s, uint64_t now)
{
	if (!s->spec->is_supervisor)
		return;
	for (size_t i = 0; i < s->nchildren; i++)
		sup_step_all(s->children[i], now);
	if (s->state != NS_STOPPED)
		sup_step(s, now);
}

/*
 * A child of s added by a reload under the name of one still being removed
 * (of another kind: a worker that became a supervisor) starts only once
 * the old one is gone, as a changed worker does.
 */
static bool
shadowed(const struct enode *s, const struct enode *k)
{
	if (s->nremoving == 0 || enode_removing(k))
		return false;	/* the common case costs no walk */
	for (size_t i = 0; i < s->nchildren; i++)
		if (s->children[i] != k && enode_removing(s->children[i]) &&
		    strcmp(s->children[i]->name, k->name) == 0)
			return true;
	return false;
}

/*
 * Whether starting k, a stopped pending child free to start, is a spawn
 * that counts against the batch's budget: a worker's spawn now (not a
 * backoff) in a start of many: a first start, a reload's addition, a
 * cascade of one_for_all or rest_for_one. A worker of a running
 * one_for_one that exited comes back at once whatever starts elsewhere in
 * the tree.
 */
static bool
bulk_spawn(const struct enode *k, bool gated)
{
	if (k->spec->is_supervisor || k->delay_ms > 0)
		return false;	/* its own children count; or no spawn now */
	return gated || !k->ever_started;
}

static void
sup_step(struct enode *s, uint64_t now)
{
	if (s->in_step) {
		s->step_again = true;
		return;
	}
	s->in_step = true;
	do {
		struct enode *c = NULL;
		bool waiting = false;

		s->step_again = false;

		/* Stop phase: marked children, last started first. */
		for (size_t i = s->nchildren; i-- > 0;) {
			struct enode *k = s->children[i];

			if (!k->to_stop)
				continue;
			if (k->state == NS_STOPPING) {
				waiting = true;
				break;
			}
			c = k;
			break;
		}
		if (c) {
			stop_node(c, now);
			s->step_again = true;
			continue;
		}
		if (waiting)
			break;
		if (s->state == NS_STOPPING) {
			/* Wait for any child still stopping (commands). */
			for (size_t i = 0; i < s->nchildren; i++)
				if (alive(s->children[i]))
					waiting = true;
			if (!waiting) {
				s->in_step = false;
				sup_finished(s, now);
				return;
			}
			break;
		}
		if (s->state == NS_STOPPED)
			break;

		/* Start phase: pending children in order. */
		bool gated = s->state == NS_STARTING || group_strategy(s);

		for (size_t i = 0; i < s->nchildren; i++) {
			struct enode *k = s->children[i];

			if (!k->pending)
				continue;
			if (k->state == NS_STOPPED && !shadowed(s, k)) {
				if (s->eng->spawn_budget == 0 &&
				    bulk_spawn(k, gated)) {
					s->eng->yielded = true;	/* next batch */
					waiting = true;
					break;
				}
				start_node(k, now);
				s->step_again = true;
			}
			if (gated && k->pending) {
				waiting = true;
				break;
			}
		}
		if (!waiting && !s->step_again && s->state == NS_STARTING) {
			s->state = NS_RUNNING;
			s->started_ns = now;
			s->pending = false;
			if (s->parent)
				sup_step(s->parent, now);
		}
	} while (s->step_again);
	s->in_step = false;
}

static void
start_worker(struct enode *n, uint64_t now)
{
	const struct engine *e = n->eng;
	struct event ev = { .mono_ns = now };
	int err = 0;
	int pid;

	n->state = NS_STARTING;
	if (n->eng->spawn_budget > 0)
		n->eng->spawn_budget--;
	pid = e->ops->spawn(e->ctx, n, &err);
	if (pid < 0) {
		/*
		 * Handled on the next tick, as OTP's try_again_restart: a
		 * child that cannot start never loops inside one input.
		 */
		n->fail_info = (struct exit_info){ .reason = EXIT_CRASH,
		    .cause = CAUSE_SPAWN_FAILED, .status = -1, .err = err };
		arm(n, TK_FAILED_START, now);
		return;
	}
	pid_unindex(n);
	n->pid = pid;
	pid_index(n);
	n->spawned_ns = now;
	n->h_result = n->h_reported = -1;
	n->h_passed = false;
	n->h_fails = 0;
	free(n->h_detail);
	n->h_detail = NULL;
	ev.kind = EV_SPAWN;
	ev.pid = pid;
	emit(n, &ev);
	ev.kind = EV_EXEC;	/* spawn returns only once execve succeeded */
	emit(n, &ev);
	if (n->spec->w.ready == READY_EXEC) {
		n->state = NS_RUNNING;
		n->started_ns = now;
		n->pending = false;
		ev.kind = EV_READY;	/* started, per its ready = "exec" */
		emit(n, &ev);
		cascade_leave(n, true, now);
	} else if (n->spec->w.ready_timeout_ms > 0) {
		arm(n, TK_READY,
		    now + n->spec->w.ready_timeout_ms * NSEC_PER_MSEC);
	}
}

static void
start_node(struct enode *n, uint64_t now)
{
	if (n->state != NS_STOPPED)
		return;
	if (n->delay_ms > 0) {
		n->state = NS_BACKOFF;
		arm(n, TK_BACKOFF, now + n->delay_ms * NSEC_PER_MSEC);
		n->delay_ms = 0;
		return;
	}
	n->ever_started = true;
	n->held = false;
	if (!n->spec->is_supervisor) {
		start_worker(n, now);
		return;
	}
	n->state = NS_STARTING;
	n->end = SUP_END_STOP;
	n->rt_count = 0;
	n->rt_first = 0;
	for (size_t i = 0; i < n->nchildren; i++) {
		struct enode *c = n->children[i];

		c->held = false;
		c->pending = true;
		c->crash_streak = 0;
		c->delay_ms = 0;
	}
	sup_step(n, now);
}

/* Stops a worker with sig (0: its stop_signal), then SIGKILL per shutdown. */
static void
stop_worker(struct enode *n, int sig, uint64_t now)
{
	const struct engine *e = n->eng;
	const struct spec_shutdown *sd = &n->spec->shutdown;
	struct event ev = { .kind = EV_STOP, .mono_ns = now, .pid = n->pid };

	if (n->timer == TK_FAILED_START) {
		/*
		 * The spawn failed and nothing runs; the failure is reported,
		 * but the stop that overtook it is what the parent sees.
		 */
		struct exit_info ei = n->fail_info;

		ev.kind = EV_EXIT;
		ev.exit = ei;
		emit(n, &ev);
		ei.reason = EXIT_SHUTDOWN;
		node_stopped(n, &ei, true, now);
		return;
	}
	n->state = NS_STOPPING;
	disarm(n);
	if (sig == 0)
		sig = sd->kind == SHUTDOWN_BRUTAL_KILL ? SIGKILL
		    : n->spec->w.stop_signal;
	ev.signal = sig;
	emit(n, &ev);
	e->ops->signal(e->ctx, n, n->pid, ev.signal);
	if (sd->kind == SHUTDOWN_TIMEOUT)
		arm(n, TK_KILL, now + sd->ms * NSEC_PER_MSEC);
}

static void
stop_node(struct enode *n, uint64_t now)
{
	struct exit_info ei = { .reason = EXIT_SHUTDOWN, .status = -1 };

	switch (n->state) {
	case NS_STOPPED:
		n->to_stop = false;
		n->pending = false;
		return;
	case NS_STOPPING:
		return;
	case NS_BACKOFF:
		node_stopped(n, &ei, false, now);
		return;
	case NS_STARTING:
	case NS_RUNNING:
		break;
	}
	if (!n->spec->is_supervisor) {
		stop_worker(n, 0, now);
		return;
	}
	n->state = NS_STOPPING;
	disarm(n);
	if (n->spec->shutdown.kind == SHUTDOWN_TIMEOUT)
		arm(n, TK_SUP_KILL, now + n->spec->shutdown.ms * NSEC_PER_MSEC);
	for (size_t i = 0; i < n->nchildren; i++) {
		n->children[i]->pending = false;
		n->children[i]->restart_after_stop = false;
		if (alive(n->children[i]) ||
		    n->children[i]->state == NS_BACKOFF)
			n->children[i]->to_stop = true;
	}
	if (n->spec->shutdown.kind == SHUTDOWN_BRUTAL_KILL)
		kill_subtree(n);
	sup_step(n, now);
}

/*
 * A worker's inputs from its process and from sd_notify, and which of them
 * each state acts on: every pair not marked is a no-op, here and nowhere
 * else (a late READY=1 after a crash, an exit reported twice, a watchdog
 * ping while starting...). Supervisors take none of them.
 */
enum worker_input {
	WI_EXITED,		/* its main process ended */
	WI_READY,		/* READY=1 */
	WI_WATCHDOG,		/* WATCHDOG=1 */
	WI_WATCHDOG_TRIGGER,	/* WATCHDOG=trigger */
	WI_EXTEND,		/* EXTEND_TIMEOUT_USEC= */
	WI_STATUS,		/* STATUS= */
	WI_HEALTH,		/* a health check ended */
	WI_COUNT,
};

static const bool worker_takes[][WI_COUNT] = {
	/*		 exited ready  wdog   trigger extend status health */
	[NS_STOPPED] =	{ false, false, false, false, false, true,  false },
	[NS_STARTING] =	{ true,  true,  false, false, true,  true,  true },
	[NS_RUNNING] =	{ true,  false, true,  true,  false, true,  true },
	[NS_STOPPING] =	{ true,  false, false, false, false, true,  false },
	[NS_BACKOFF] =	{ false, false, false, false, false, true,  false },
};

struct worker_args {
	int status, signal;	/* WI_EXITED */
	uint64_t usec;		/* WI_EXTEND */
	const char *text;	/* WI_STATUS; WI_HEALTH: detail */
	bool ok;		/* WI_HEALTH */
	int err;		/* WI_HEALTH */
};

static bool
is_success(const struct spec_worker *w, int status)
{
	for (size_t i = 0; i < w->nsuccess; i++)
		if (w->success_codes[i] == status)
			return true;
	return false;
}

static void
worker_exited(struct enode *n, int status, int sig, uint64_t now)
{
	struct exit_info ei = { .cause = CAUSE_EXIT, .status = status,
	    .signal = sig };
	struct event ev = { .kind = EV_EXIT, .mono_ns = now, .pid = n->pid };

	if (n->state == NS_STOPPING)
		ei.reason = n->failed ? EXIT_CRASH : EXIT_SHUTDOWN;
	else if (n->state == NS_STARTING)
		ei.reason = EXIT_CRASH;	/* exited before it was ready */
	else if (sig == 0 && is_success(&n->spec->w, status))
		ei.reason = EXIT_NORMAL;
	else
		ei.reason = EXIT_CRASH;
	if (n->failed)
		ei.cause = n->fail_info.cause;
	ev.exit = ei;
	emit(n, &ev);
	node_stopped(n, &ei, true, now);
}

static void
worker_ready(struct enode *n, uint64_t now)
{
	struct event ev = { .kind = EV_READY, .mono_ns = now, .pid = n->pid };

	disarm(n);
	n->state = NS_RUNNING;
	n->started_ns = now;
	n->pending = false;
	arm_watchdog(n, now);
	emit(n, &ev);
	cascade_leave(n, true, now);
	if (n->parent)
		sup_step(n->parent, now);
}

/* Failing its check `failures` times is a crash: its stop_signal, then
 * SIGKILL after shutdown, as any stop. */
static void
unhealthy_fail(struct enode *n, uint64_t now)
{
	n->failed = true;
	n->fail_info = (struct exit_info){ .reason = EXIT_CRASH,
	    .cause = CAUSE_UNHEALTHY, .status = -1 };
	stop_worker(n, 0, now);
}

/*
 * A check's result. Failures count once the worker is started and out of
 * its start_period (which a pass ends early, as Docker's does); before
 * that they are kept for status only: a ready = "health" worker is simply
 * not ready yet (ready_timeout bounds that), and a notify one not started.
 */
static void
worker_health(struct enode *n, const struct worker_args *a, uint64_t now)
{
	const struct spec_health *h = &n->spec->w.health;
	struct event ev = { .kind = EV_HEALTH, .mono_ns = now, .pid = n->pid,
	    .ok = a->ok, .text = a->text ? a->text : "", .err = a->err };
	uint64_t period_end;

	if (h->kind == HEALTH_NONE || n->pid <= 0)
		return;
	free(n->h_detail);
	n->h_detail = xstrdup(ev.text);
	n->h_at = now;
	n->h_result = a->ok;
	if (a->ok) {
		n->h_fails = 0;
		n->h_passed = true;
		ev.failures_total = n->h_fails_total;
		if (n->h_reported != 1) {
			n->h_reported = 1;
			emit(n, &ev);
		}
		if (n->state == NS_STARTING && n->spec->w.ready == READY_HEALTH)
			worker_ready(n, now);
		return;
	}
	period_end = sat_add_u64(n->spawned_ns,
	    (uint64_t)h->start_period_ms * NSEC_PER_MSEC);
	if (n->state != NS_RUNNING || (!n->h_passed && now < period_end))
		return;
	ev.failures = ++n->h_fails;
	ev.failures_total = ++n->h_fails_total;
	ev.quiet = n->h_reported == 0;
	n->h_reported = 0;
	emit(n, &ev);
	if (n->h_fails >= h->failures)
		unhealthy_fail(n, now);
}

/* Applies input in to worker n of e, if its state takes it (worker_takes). */
static void
worker_input(struct engine *e, struct enode *n, enum worker_input in,
    const struct worker_args *a, uint64_t now)
{
	uint64_t until;

	if (n->eng != e || n->spec->is_supervisor ||
	    !worker_takes[n->state][in])
		return;
	switch (in) {
	case WI_EXITED:
		worker_exited(n, a->status, a->signal, now);
		break;
	case WI_READY:
		if (n->pid > 0)
			worker_ready(n, now);
		break;
	case WI_WATCHDOG:
		if (n->timer == TK_WATCHDOG)
			arm_watchdog(n, now);
		break;
	case WI_WATCHDOG_TRIGGER:
		watchdog_fail(n, now);
		break;
	case WI_EXTEND:
		/* As systemd: the timeout becomes "usec from now" if that is
		 * later. Saturated: a huge one is "no timeout", never tiny. */
		until = sat_add_u64(now, sat_mul_u64(a->usec, 1000));
		if (n->timer == TK_READY && until > n->deadline) {
			n->deadline = until;
			heap_put(&e->timers, &n->tl, until);
		}
		break;
	case WI_STATUS:
		free(n->status_text);
		n->status_text = xstrdup(a->text);
		break;
	case WI_HEALTH:
		worker_health(n, a, now);
		break;
	case WI_COUNT:
		break;
	}
}

void
engine_exited(struct engine *e, struct enode *n, int status, int sig,
    uint64_t now)
{
	const struct worker_args a = { .status = status, .signal = sig };

	worker_input(e, n, WI_EXITED, &a, now);
}

void
engine_ready(struct engine *e, struct enode *n, uint64_t now)
{
	worker_input(e, n, WI_READY, NULL, now);
}

void
engine_watchdog(struct engine *e, struct enode *n, uint64_t now)
{
	worker_input(e, n, WI_WATCHDOG, NULL, now);
}

void
engine_watchdog_trigger(struct engine *e, struct enode *n, uint64_t now)
{
	worker_input(e, n, WI_WATCHDOG_TRIGGER, NULL, now);
}

void
engine_extend_timeout(struct engine *e, struct enode *n, uint64_t usec,
    uint64_t now)
{
	const struct worker_args a = { .usec = usec };

	worker_input(e, n, WI_EXTEND, &a, now);
}

void
engine_set_status_text(struct engine *e, struct enode *n, const char *text)
{
	const struct worker_args a = { .text = text };

	worker_input(e, n, WI_STATUS, &a, 0);
}

void
engine_health(struct engine *e, struct enode *n, bool ok, const char *detail,
    int err, uint64_t now)
{
	const struct worker_args a = { .ok = ok, .text = detail, .err = err };

	worker_input(e, n, WI_HEALTH, &a, now);
}

/* Signals every live worker under n; used when a supervisor's time ran out. */
static void
kill_subtree(struct enode *n)
{
	const struct engine *e = n->eng;

	if (!n->spec->is_supervisor) {
		if (alive(n) && n->pid > 0)
			e->ops->signal(e->ctx, n, n->pid, SIGKILL);
		return;
	}
	for (size_t i = 0; i < n->nchildren; i++)
		kill_subtree(n->children[i]);
}

/* A missed watchdog is a crash: SIGABRT first, as systemd does. */
static void
watchdog_fail(struct enode *n, uint64_t now)
{
	n->failed = true;
	n->fail_info = (struct exit_info){ .reason = EXIT_CRASH,
	    .cause = CAUSE_WATCHDOG, .status = -1 };
	stop_worker(n, SIGABRT, now);
}

static void
arm_watchdog(struct enode *n, uint64_t now)
{
	if (n->spec->w.watchdog_ms > 0)
		arm(n, TK_WATCHDOG, now + n->spec->w.watchdog_ms * NSEC_PER_MSEC);
}

static void
fire(struct enode *n, uint64_t now)
{
	const struct engine *e = n->eng;
	enum timer_kind k = n->timer;
	struct exit_info ei;

	disarm(n);
	switch (k) {
	case TK_NONE:
		break;
	case TK_KILL:
		if (n->state == NS_STOPPING && n->pid > 0)
			e->ops->signal(e->ctx, n, n->pid, SIGKILL);
		break;
	case TK_SUP_KILL:
		if (n->state == NS_STOPPING)
			kill_subtree(n);
		break;
	case TK_BACKOFF:
		if (n->state == NS_BACKOFF) {
			n->state = NS_STOPPED;
			if (n->parent)
				sup_step(n->parent, now);
		}
		break;
	case TK_FAILED_START: {
		struct event ev = { .kind = EV_EXIT, .mono_ns = now };

		ei = n->fail_info;
		ev.exit = ei;
		emit(n, &ev);
		node_stopped(n, &ei, true, now);
		break;
	}
	case TK_READY:
		if (n->state == NS_STARTING) {
			n->failed = true;
			n->fail_info = (struct exit_info){ .reason = EXIT_CRASH,
			    .cause = CAUSE_READY_TIMEOUT, .status = -1 };
			stop_worker(n, 0, now);
		}
		break;
	case TK_WATCHDOG:
		if (n->state == NS_RUNNING)
			watchdog_fail(n, now);
		break;
	}
}

/*
 * Fires every timer due at now that was armed before this tick, earliest
 * first; a timer a firing arms for "now" (a failed start's retry) waits for
 * the next tick, so the loop serves other inputs in between. The due ones
 * are taken off the heap first: a firing may disarm or re-arm another.
 */
void
engine_tick(struct engine *e, uint64_t now)
{
	uint64_t gen = ++e->gen;
	struct heap_link *t;
	size_t ndue = 0;

	while ((t = heap_top(&e->timers)) && t->key <= now) {
		struct enode *n = container_of(t, struct enode, tl);

		heap_remove(&e->timers, t);
		e->due[ndue++] = n;
		n->due_at = ndue;
	}
	for (size_t i = 0; i < ndue; i++) {
		struct enode *n = e->due[i];

		if (!n)
			continue;	/* freed by an earlier one's firing */
		n->due_at = 0;
		/* Still armed as it was (not off, not re-armed this tick). */
		if (n->timer != TK_NONE && !n->tl.at && n->timer_gen < gen)
			fire(n, now);
	}
	/* After the timers: a backoff's restart comes before a start's step. */
	if (e->yielded) {
		e->yielded = false;
		sup_step_all(e->root, now);
	}
}

uint64_t
engine_next_deadline(struct engine *e)
{
	const struct heap_link *t = heap_top(&e->timers);

	if (e->yielded)
		return 1;	/* at once: engine_tick goes on with the start */
	return t ? t->key : UINT64_MAX;
}

void
engine_batch_done(struct engine *e)
{
	e->spawn_budget = SPAWN_BUDGET;
}

void
engine_start(struct engine *e, uint64_t now)
{
	start_node(e->root, now);
}

void
engine_shutdown(struct engine *e, uint64_t now)
{
	e->shutting_down = true;
	if (e->root->state == NS_STOPPED) {
		struct exit_info ei = { .reason = EXIT_SHUTDOWN, .status = -1 };

		e->root->end = SUP_END_STOP;
		node_stopped(e->root, &ei, true, now);
		return;
	}
	if (e->root->state != NS_STOPPING)
		e->root->end = SUP_END_STOP;
	stop_node(e->root, now);
}

bool
engine_started(const struct engine *e)
{
	return e->root->state == NS_RUNNING;
}

bool
engine_stopping(const struct engine *e)
{
	return e->shutting_down || e->root->state == NS_STOPPING;
}

/*
 * What becomes of a node once the stop asked for it is done: the marks
 * that say it, set here only (commands, reload, terminate-child).
 */
enum after_stop {
	STAY_STOPPED,	/* held: nothing restarts it until a start */
	START_AGAIN,	/* started again (restart command, changed spec) */
	REMOVE,		/* removed from its supervisor */
};

static void
mark_for_stop(struct enode *n, enum after_stop after)
{
	bool was = n->remove_after_stop;

	n->pending = false;
	n->held = after != START_AGAIN;
	n->restart_after_stop = after == START_AGAIN;
	n->remove_after_stop = after == REMOVE;
	if (n->parent && was != n->remove_after_stop)
		n->parent->nremoving += n->remove_after_stop ? 1 : -1;
}

/*
 * stop or restart by command: the marks, then a stop unless one is under
 * way (a stop by command still turns a supervisor's give-up into a stop).
 */
static void
command_stop(struct enode *n, enum after_stop after, uint64_t now)
{
	mark_for_stop(n, after);
	if (n->state == NS_STOPPED ||
	    (after == START_AGAIN && n->state == NS_STOPPING))
		return;
	if (n->spec->is_supervisor)
		n->end = SUP_END_STOP;
	stop_node(n, now);
}

/* Whether commands may act on n of e now; why not, if they may not. */
static bool
parent_running(const struct engine *e, const struct enode *n,
    const char **why)
{
	if (n->eng != e) {
		*why = "not a node of this tree";
		return false;
	}
	if (e->shutting_down) {
		*why = "arbord is shutting down";
		return false;
	}
	if (enode_removing(n)) {
		*why = n->dynamic ? "being terminated"
		    : "being removed (gone from the configuration)";
		return false;
	}
	if (!n->parent) {
		*why = "the root cannot be started or stopped alone (use shutdown)";
		return false;
	}
	if (n->parent->state != NS_RUNNING && n->parent->state != NS_STARTING) {
		*why = "its supervisor is not running";
		return false;
	}
	return true;
}

int
engine_cmd_start(struct engine *e, struct enode *n, uint64_t now,
    const char **why)
{
	if (!parent_running(e, n, why))
		return -1;
	if (n->state == NS_BACKOFF) {
		/* Skip the rest of the backoff: the user asked for it now. */
		n->state = NS_STOPPED;
		disarm(n);
	} else if (n->state != NS_STOPPED) {
		*why = "already running";
		return -1;
	}
	n->held = false;
	n->delay_ms = 0;
	n->pending = false;
	start_node(n, now);
	return 0;
}

int
engine_cmd_stop(struct engine *e, struct enode *n, uint64_t now,
    const char **why)
{
	if (!parent_running(e, n, why))
		return -1;
	command_stop(n, STAY_STOPPED, now);
	return 0;
}

int
engine_cmd_restart(struct engine *e, struct enode *n, uint64_t now,
    const char **why)
{
	if (!parent_running(e, n, why))
		return -1;
	if (n->state == NS_STOPPED || n->state == NS_BACKOFF)
		return engine_cmd_start(e, n, now, why);
	command_stop(n, START_AGAIN, now);
	return 0;
}

int
engine_cmd_signal(struct engine *e, struct enode *n, int sig,
    const char **why)
{
	if (n->spec->is_supervisor) {
		*why = "not a worker";
		return -1;
	}
	if (!alive(n) || n->pid <= 0) {
		*why = "not running";
		return -1;
	}
	e->ops->signal(e->ctx, n, n->pid, sig);
	return 0;
}

struct enode *
engine_start_child(struct engine *e, struct enode *s, char *const *args,
    uint64_t now, const char **why)
{
	const struct spec_node *t = s->spec->template;
	struct event ev = { .kind = EV_CHILD_ADDED, .mono_ns = now };
	struct enode *c;
	size_t nargs = strv_len(args);
	char *name;

	if (!s->spec->is_supervisor ||
	    s->spec->strategy != STRATEGY_SIMPLE_ONE_FOR_ONE) {
		*why = "not a simple_one_for_one supervisor";
		return NULL;
	}
	if (s->state != NS_RUNNING && s->state != NS_STARTING) {
		*why = "the supervisor is not running";
		return NULL;
	}
	if (s->spec->max_children && s->nchildren >= s->spec->max_children) {
		*why = "max_children reached";
		return NULL;
	}
	name = xasprintf("%s.%u", t->name, ++s->next_id);
	c = node_new(e, s, t, name);
	free(name);
	c->dynamic = true;
	c->argv = xcalloc(t->w.argc + nargs + 1, sizeof(*c->argv));
	for (size_t i = 0; i < t->w.argc; i++)
		c->argv[i] = xstrdup(t->w.argv[i]);
	for (size_t i = 0; i < nargs; i++)
		c->argv[t->w.argc + i] = xstrdup(args[i]);
	s->children = xreallocarray(s->children, s->nchildren + 1,
	    sizeof(*s->children));
	s->children[s->nchildren++] = c;
	emit(c, &ev);
	start_node(c, now);
	return c;
}

int
engine_terminate_child(struct engine *e, struct enode *n, uint64_t now,
    const char **why)
{
	if (n->eng != e || !n->dynamic) {
		*why = "not a dynamic child (see start-child)";
		return -1;
	}
	mark_for_stop(n, REMOVE);
	if (n->state == NS_STOPPED) {
		remove_child(n->parent, n, now);
		return 0;
	}
	stop_node(n, now);
	return 0;
}

static void
summary_add(char ***list, const char *path)
{
	size_t n = strv_len(*list);

	*list = xreallocarray(*list, n + 2, sizeof(**list));
	(*list)[n] = xstrdup(path);
	(*list)[n + 1] = NULL;
}

void
reload_summary_free(struct reload_summary *sum)
{
	strv_free(sum->added);
	strv_free(sum->removed);
	strv_free(sum->changed);
	strv_free(sum->updated);
	memset(sum, 0, sizeof(*sum));
}

/*
 * Siblings by name, for a reload of 20,000 of them: chains of indices in
 * ascending order (the first of a name is met first), so that matching the
 * new children to the old is linear, not quadratic.
 */
struct name_index {
	size_t nb;		/* buckets, a power of 2 */
	size_t *head;		/* per bucket: first index + 1, 0: none */
	size_t *next;		/* per index: next index + 1 of its bucket */
};

static size_t
name_bucket(const struct name_index *x, const char *name)
{
	return fnv1a(FNV1A_INIT, name) & (x->nb - 1);
}

/* names[i] for i < n; a NULL name is left out. */
static void
name_index_build(struct name_index *x, const char *const *names, size_t n)
{
	for (x->nb = 16; x->nb < n; x->nb *= 2)
		;
	x->head = xcalloc(x->nb, sizeof(*x->head));
	x->next = xcalloc(n + 1, sizeof(*x->next));
	for (size_t i = n; i-- > 0;)
		if (names[i]) {
			size_t b = name_bucket(x, names[i]);

			x->next[i] = x->head[b];
			x->head[b] = i + 1;
		}
}

static void
name_index_free(struct name_index *x)
{
	free(x->head);
	free(x->next);
}

/* The indices of one bucket: for (i = first(); i; i = then(i)) at i - 1. */
static size_t name_first(const struct name_index *x, const char *name) { return x->head[name_bucket(x, name)]; }
static size_t name_then(const struct name_index *x, size_t i) { return x->next[i - 1]; }

/* Points n and its subtree at sp, a tree of the same shape. */
static void
adopt_spec(struct enode *n, const struct spec_node *sp)
{
	struct name_index x;
	const char **names;

	n->spec = sp;
	if (!n->nchildren)
		return;
	names = xcalloc(sp->nchildren + 1, sizeof(*names));
	for (size_t k = 0; k < sp->nchildren; k++)
		names[k] = sp->children[k]->name;
	name_index_build(&x, names, sp->nchildren);
	for (size_t i = 0; i < n->nchildren; i++) {
		struct enode *c = n->children[i];

		if (c->dynamic) {
			adopt_spec(c, sp->template);
			continue;
		}
		for (size_t k = name_first(&x, c->name); k; k = name_then(&x, k))
			if (strcmp(sp->children[k - 1]->name, c->name) == 0)
				adopt_spec(c, sp->children[k - 1]);
	}
	name_index_free(&x);
	free(names);
}

/* The same kind of node: worker, simple_one_for_one, other supervisor. */
static bool
same_kind(const struct spec_node *a, const struct spec_node *b)
{
	if (a->is_supervisor != b->is_supervisor)
		return false;
	return !a->is_supervisor ||
	    (a->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE) ==
	    (b->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE);
}

/* Keeps the newest restart times that fit a new intensity. */
static void
resize_window(struct enode *s, uint32_t old_intensity)
{
	uint32_t oldcap = old_intensity + 1, cap = s->spec->intensity + 1;
	uint64_t *r = xcalloc(cap, sizeof(*r));
	size_t keep = s->rt_count < cap ? s->rt_count : cap;

	for (size_t i = 0; i < keep; i++)
		r[i] = s->rtimes[(s->rt_first + s->rt_count - keep + i) % oldcap];
	free(s->rtimes);
	s->rtimes = r;
	s->rt_first = 0;
	s->rt_count = keep;
}

static void reconcile(struct enode *s, const struct spec_node *sp,
    uint64_t now, struct reload_summary *sum);

/* A child of s is gone from the spec: it stops and is removed. */
static void
retire(struct enode *c, uint64_t now, struct reload_summary *sum)
{
	if (enode_removing(c))
		return;		/* removed by an earlier reload, still stopping */
	summary_add(&sum->removed, c->path);
	c->owned_spec = spec_node_dup(c->spec);
	adopt_spec(c, c->owned_spec);
	mark_for_stop(c, REMOVE);
	c->to_stop = false;	/* its own stop, not a group restart's */
	if (c->spec->is_supervisor)
		c->end = SUP_END_STOP;
	if (c->state == NS_STOPPED)
		remove_child(c->parent, c, now);
	else
		stop_node(c, now);
}

/*
 * c, removed by an earlier reload and still stopping, is in the config
 * again: it loses its removal marks and its own copy of the spec, and
 * starts again with cs once it has stopped (as a changed worker does).
 */
static void
revive(struct enode *c, const struct spec_node *cs, uint64_t now,
    struct reload_summary *sum)
{
	struct spec_node *owned = c->owned_spec;

	summary_add(&sum->added, c->path);
	c->owned_spec = NULL;
	mark_for_stop(c, START_AGAIN);
	if (cs->is_supervisor)
		reconcile(c, cs, now, sum);	/* points the subtree at cs */
	else
		c->spec = cs;
	spec_node_free(owned);
}

static void
reconcile(struct enode *s, const struct spec_node *sp, uint64_t now,
    struct reload_summary *sum)
{
	uint32_t old_intensity = s->spec->intensity;
	bool running = s->state == NS_RUNNING || s->state == NS_STARTING;
	struct enode **next, **old = s->children;
	size_t nold = s->nchildren, n = 0;
	struct enode **gone;
	size_t ngone = 0;
	struct name_index x;
	const char **names;

	if (!spec_supervisor_equal(s->spec, sp))
		summary_add(&sum->updated, s->path);
	s->spec = sp;
	if (sp->intensity != old_intensity)
		resize_window(s, old_intensity);
	if (sp->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE) {
		/* Dynamic children stay; they restart from the new template. */
		for (size_t i = 0; i < nold; i++)
			old[i]->spec = sp->template;
		return;
	}

	next = xcalloc(sp->nchildren + nold + 1, sizeof(*next));
	gone = xcalloc(nold + 1, sizeof(*gone));
	names = xcalloc(nold + 1, sizeof(*names));
	for (size_t i = 0; i < nold; i++)
		names[i] = old[i]->dynamic ? NULL : old[i]->name;
	name_index_build(&x, names, nold);
	for (size_t k = 0; k < sp->nchildren; k++) {
		const struct spec_node *cs = sp->children[k];
		struct enode *c = NULL;

		/*
		 * One node per name: a live one first (the removed ones are
		 * listed after it), then one still being removed, which is
		 * brought back (revive).
		 */
		for (size_t pass = 0; pass < 2 && !c; pass++)
			for (size_t j = name_first(&x, cs->name); j && !c;
			    j = name_then(&x, j)) {
				size_t i = j - 1;

				if (old[i] && (pass == 1 || !enode_removing(old[i])) &&
				    !old[i]->dynamic &&
				    strcmp(old[i]->name, cs->name) == 0 &&
				    same_kind(old[i]->spec, cs)) {
					c = old[i];
					old[i] = NULL;
				}
			}
		if (c && enode_removing(c)) {
			revive(c, cs, now, sum);
			next[n++] = c;
			continue;
		}
		if (!c) {
			c = node_new(s->eng, s, cs, cs->name);
			c->pending = running;
			summary_add(&sum->added, c->path);
		}
		next[n++] = c;
	}
	name_index_free(&x);
	free(names);
	/* The rest are gone; they stay listed (after the others) until stopped. */
	for (size_t i = 0; i < nold; i++)
		if (old[i]) {
			gone[ngone++] = old[i];
			next[n++] = old[i];
		}
	free(s->children);
	s->children = next;
	s->nchildren = n;

	for (size_t i = 0; i < n - ngone; i++) {
		struct enode *c = next[i];
		const struct spec_node *cs = sp->children[i];

		if (c->spec == cs)
			continue;	/* added just now, or revived */
		if (cs->is_supervisor) {
			reconcile(c, cs, now, sum);
			continue;
		}
		if (spec_worker_equal(c->spec, cs)) {
			c->spec = cs;
			continue;
		}
		summary_add(&sum->changed, c->path);
		if (alive(c) && c->state != NS_STOPPING) {
			/* Stopped per the old spec, started per the new one. */
			c->restart_after_stop = true;
			stop_node(c, now);
		}
		c->spec = cs;
	}
	for (size_t i = 0; i < ngone; i++)
		retire(gone[i], now, sum);
	free(gone);
}

int
engine_reload(struct engine *e, const struct spec *sp, uint64_t now,
    struct reload_summary *sum, const char **why)
{
	struct event ev = { .kind = EV_RELOAD, .mono_ns = now, .reload = sum };
	struct enode *root = e->root;

	memset(sum, 0, sizeof(*sum));
	if (strcmp(sp->root->name, root->name) != 0) {
		*why = "the root's name cannot change on reload (restart arbord)";
		return -1;
	}
	if (!same_kind(root->spec, sp->root)) {
		*why = "the root cannot change to or from simple_one_for_one on reload (restart arbord)";
		return -1;
	}
	e->spec = sp;
	/* Steps are taken once the whole tree is consistent again. */
	root->in_step = true;
	reconcile(root, sp->root, now, sum);
	root->in_step = false;
	emit(root, &ev);
	sup_step_all(root, now);
	return 0;
}

struct enode *
engine_root(const struct engine *e)
{
	return e->root;
}

struct enode *
engine_find(const struct engine *e, const char *path)
{
	struct enode *n = e->root;
	size_t len = strlen(n->name);

	if (strncmp(path, n->name, len) != 0 ||
	    (path[len] != '\0' && path[len] != '/'))
		return NULL;
	path += len;
	while (*path == '/') {
		const char *seg = path + 1;
		const char *end = strchrnul(seg, '/');
		struct enode *next = NULL;

		/* The first of a name: one being removed is listed after
		 * the node a reload put in its place. */
		for (size_t i = 0; i < n->nchildren && !next; i++)
			if (strlen(n->children[i]->name) == (size_t)(end - seg) &&
			    strncmp(n->children[i]->name, seg,
			    (size_t)(end - seg)) == 0)
				next = n->children[i];
		if (!next)
			return NULL;
		n = next;
		path = end;
	}
	return *path ? NULL : n;
}

struct enode *
engine_find_pid(const struct engine *e, int pid)
{
	if (pid <= 0)
		return NULL;
	for (struct pid_link *l = pid_index_bucket(&e->pids, pid); l; l = l->next) {
		struct enode *n = container_of(l, struct enode, pid_link);

		if (l->pid == pid && n->pid == pid && alive(n))
			return n;
	}
	return NULL;
}

size_t enode_nchildren(const struct enode *n) { return n->nchildren; }
struct enode *enode_child(const struct enode *n, size_t i) { return n->children[i]; }
const struct spec_node *enode_spec(const struct enode *n) { return n->spec; }
const char *enode_path(const struct enode *n) { return n->path; }
const char *enode_name(const struct enode *n) { return n->name; }
bool enode_is_supervisor(const struct enode *n) { return n->spec->is_supervisor; }
int enode_pid(const struct enode *n) { return n->pid; }
uint32_t enode_restarts(const struct enode *n) { return n->restarts; }
uint64_t enode_started_ns(const struct enode *n) { return n->started_ns; }

enum node_state
enode_state(const struct enode *n)
{
	/* Supervisors show running, stopping or stopped (arborctl(8), status). */
	if (n->spec->is_supervisor && n->state == NS_STARTING)
		return NS_RUNNING;
	return n->state;
}

const char *enode_status_text(const struct enode *n) { return n->status_text; }
bool enode_removing(const struct enode *n) { return n->remove_after_stop; }
struct enode *enode_parent(const struct enode *n) { return n->parent; }
uintptr_t enode_runtime(const struct enode *n) { return n->runtime; }
void enode_set_runtime(struct enode *n, uintptr_t v) { n->runtime = v; }
void *enode_capture(const struct enode *n) { return n->capture; }
void enode_set_capture(struct enode *n, void *c) { n->capture = c; }
void *enode_checker(const struct enode *n) { return n->checker; }
void enode_set_checker(struct enode *n, void *c) { n->checker = c; }
void *enode_store(const struct enode *n) { return n->store; }
void enode_set_store(struct enode *n, void *st) { n->store = st; }

void
enode_health(const struct enode *n, struct health_view *v)
{
	v->result = n->h_result;
	v->detail = n->h_detail;
	v->at_ns = n->h_at;
	v->failures = n->h_fails;
	v->failures_total = n->h_fails_total;
}

const struct exit_info *
enode_last_exit(const struct enode *n)
{
	return n->has_exit ? &n->last_exit : NULL;
}

char *const *
enode_argv(const struct enode *n)
{
	return n->argv ? n->argv : n->spec->w.argv;
}

const char *
node_state_name(enum node_state s)
{
	static const char *const names[] = {
		[NS_STOPPED] = "stopped", [NS_STARTING] = "starting",
		[NS_RUNNING] = "running", [NS_STOPPING] = "stopping",
		[NS_BACKOFF] = "backoff",
	};

	return NAME_OF(names, s);
}

const char *
exit_reason_name(enum exit_reason r)
{
	static const char *const names[] = {
		[EXIT_NORMAL] = "normal", [EXIT_SHUTDOWN] = "shutdown",
		[EXIT_CRASH] = "crash",
	};

	return NAME_OF(names, r);
}

const char *
event_kind_name(enum event_kind k)
{
	static const char *const names[] = {
		[EV_SPAWN] = "spawn", [EV_EXEC] = "exec", [EV_READY] = "ready",
		[EV_EXIT] = "exit", [EV_RESTART] = "restart", [EV_STOP] = "stop",
		[EV_GIVE_UP] = "give_up", [EV_CHILD_ADDED] = "child_added",
		[EV_CASCADE] = "cascade",
		[EV_CHILD_REMOVED] = "child_removed", [EV_RELOAD] = "reload",
		[EV_OBS_RESTART] = "obs_restart", [EV_HEALTH] = "health",
	};

	return NAME_OF(names, k);
}
