/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Health checks, the core's side. Nothing here blocks: an exec check is a
 * process spawned as the worker is and watched through its pidfd; tcp and
 * http checks are handed to the checks helper process (netcheck.c), whose
 * results come back through an eventfd. Each worker with a check has one hnode,
 * scheduled in a binary heap on its next due time: the start of its next
 * check, or the deadline of the one under way, which the core enforces for
 * every kind. One timerfd holds the heap's top.
 *
 * What a result means is the engine's (engine_health): this file only runs
 * checks, and always hands a result over as the last thing it does, since
 * the engine may act on it at once (stop the worker: health_end).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "netcheck.h"
#include "spawn.h"
#include "util.h"

/* What of an exec check's output goes into its detail. */
#define DETAIL_OUT_MAX 160
/* Until a ready = "health" worker passes: retries from this, doubling up
 * to START_RETRY_MAX_MS (or its interval, if shorter), so it is found
 * ready within half a second of being so, whatever its interval. */
#define START_RETRY_MS 10
#define START_RETRY_MAX_MS 500
/*
 * The timer fires this much after the earliest due time, and takes every
 * check due by then: a thousand workers checked each second share a
 * hundred wake-ups instead of a thousand. Checks and their timeouts are
 * that much late at most.
 */
#define SLACK_NS (10 * NSEC_PER_MSEC)

struct hnode;

/* An exec check's process; detached (hn NULL) once it timed out or its
 * worker stopped, and then only reaped. */
struct run {
	struct health *h;
	struct hnode *hn;
	pid_t pid;
	struct watch pw;	/* pidfd */
	struct watch ow;	/* its output; fd -1 once closed */
	char out[DETAIL_OUT_MAX];
	size_t outlen;
	struct run *prev, *next;
};

struct hnode {
	struct health *h;
	struct enode *node;
	struct hnode *prev, *next;
	/* In the schedule while due (key: the next check, or the running
	 * one's deadline). */
	struct heap_link due;
	uint64_t began;		/* the last check began; 0: none yet */
	bool started;		/* the worker is: checks at its interval */
	uint32_t retry_ms;
	enum health_kind busy;	/* a check under way; HEALTH_NONE: none */
	bool cg_dirty;		/* its check group was killed: renew it */
	/* Since when the next exec check waits for the killed one's group
	 * to empty (0: it does not), and the pace of its tries. */
	uint64_t held_since;
	uint32_t held_ms;
	bool held_said;		/* the wait was logged */
	struct run *run;	/* exec */
	size_t slot;		/* in health.slots: names its tcp, http checks */
	uint32_t net_gen;	/* the tcp or http check under way */
};

struct health {
	struct reactor *r;
	struct engine *eng;
	struct cgroups *cg;
	int devnull;
	struct watch tw;
	uint64_t armed;		/* what the timerfd holds; UINT64_MAX: none */
	struct min_heap sched;
	struct hnode *nodes;
	struct run *runs;
	struct helpers *hs;
	struct netcheck *net;
	struct watch nw;	/* its results */
	struct hnode **slots;	/* by hnode.slot; NULL: free */
	size_t nslots;
	size_t *free_slots;
	size_t nfree;
	/* Numbers the tcp and http checks of every hnode, so that a result
	 * of a freed hnode's is never taken for that of the one that gets
	 * its slot next. */
	uint32_t net_gen;
};

static void finish(struct hnode *, bool ok, const char *detail, int err,
    uint64_t now);

/* ---- the schedule ---- */

static void
unschedule(struct hnode *hn)
{
	heap_remove(&hn->h->sched, &hn->due);
}

static void
schedule(struct hnode *hn, uint64_t at)
{
	heap_put(&hn->h->sched, &hn->due, at);
}

static void
rearm(struct health *h)
{
	const struct heap_link *t = heap_top(&h->sched);

	timerfd_arm_at(h->tw.fd, t ? sat_add_u64(t->key, SLACK_NS) :
	    UINT64_MAX, &h->armed);
}

static const struct spec_health *
spec_of(const struct hnode *hn)
{
	return &enode_spec(hn->node)->w.health;
}

/* ---- exec checks ---- */

static void
run_read(struct run *r)
{
	char buf[4096];
	ssize_t n;

	if (r->ow.fd < 0)
		return;
	while ((n = read(r->ow.fd, buf, sizeof(buf))) > 0) {
		size_t take = sizeof(r->out) - 1 - r->outlen;

		if (take > (size_t)n)
			take = (size_t)n;
		memcpy(r->out + r->outlen, buf, take);
		r->outlen += take;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		reactor_unwatch(r->h->r, &r->ow);
		close(r->ow.fd);
		r->ow.fd = -1;
	}
}

static void
on_run_output(void *owner, uint32_t events)
{
	(void)events;
	run_read(owner);
}

/* Kills the check and what it started; it is reaped when it is gone. */
static void
run_kill(struct run *r)
{
	struct health *h = r->h;

	syscall(SYS_pidfd_send_signal, r->pw.fd, SIGKILL, NULL, 0);
	if (!h->cg)
		kill(-r->pid, SIGKILL);
	else if (r->hn && cgroups_check_kill(h->cg, r->hn->node))
		r->hn->cg_dirty = true;
}

static void
run_detach(struct run *r)
{
	run_kill(r);
	if (r->hn)
		r->hn->run = NULL;
	r->hn = NULL;
}

static void
run_exited(struct run *r)
{
	struct health *h = r->h;
	struct hnode *hn = r->hn;
	char detail[DETAIL_OUT_MAX + 64], line[DETAIL_OUT_MAX];
	siginfo_t si;
	bool ok;

	/* Its group's leftovers, while the zombie still holds the group id. */
	if (!h->cg)
		kill(-r->pid, SIGKILL);
	memset(&si, 0, sizeof(si));
	/* __WALL: it was cloned with no exit signal (spawn_check). */
	if (waitid(P_PIDFD, (id_t)r->pw.fd, &si, WEXITED | WNOHANG | __WALL) < 0 ||
	    si.si_pid == 0)
		return;
	reactor_unwatch(h->r, &r->pw);
	close(r->pw.fd);
	run_read(r);
	if (r->ow.fd >= 0) {
		reactor_unwatch(h->r, &r->ow);
		close(r->ow.fd);
		r->ow.fd = -1;
	}
	if (hn && h->cg && cgroups_check_kill(h->cg, hn->node))
		hn->cg_dirty = true;	/* it left processes behind */
	if (r->prev)
		r->prev->next = r->next;
	else
		h->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	reactor_defer_free(h->r, r, free);
	if (!hn || hn->run != r)
		return;
	hn->run = NULL;
	first_line(r->out, r->outlen, line, sizeof(line));
	ok = si.si_code == CLD_EXITED && si.si_status == 0;
	if (si.si_code == CLD_EXITED)
		snprintf(detail, sizeof(detail), "exit status %d%s%s",
		    si.si_status, line[0] ? ": " : "", line);
	else
		snprintf(detail, sizeof(detail), "killed by signal SIG%s%s%s",
		    signal_name(si.si_status) ? signal_name(si.si_status) : "?",
		    line[0] ? ": " : "", line);
	finish(hn, ok, detail, 0, mono_ns());
}

static void
on_run_exit(void *owner, uint32_t events)
{
	(void)events;
	run_exited(owner);
}

/*
 * The check group of a check killed at its timeout cannot be renewed while
 * its processes are still dying: the next check, due at once when the
 * timeout is not shorter than the interval, waits until it is empty, and
 * is tried again 10 ms later, doubling up to its interval. That is no
 * failure (the killed check's was counted); it is said once when it lasts
 * longer than the check's timeout.
 */
static void
hold_back(struct hnode *hn, uint64_t now, const char *msg)
{
	const struct spec_health *sh = spec_of(hn);

	hn->busy = HEALTH_NONE;
	unschedule(hn);
	if (!hn->held_since) {
		hn->held_since = now;
		hn->held_ms = START_RETRY_MS;
		hn->held_said = false;
	} else
		hn->held_ms = hn->held_ms * 2 < sh->interval_ms ?
		    hn->held_ms * 2 : sh->interval_ms;
	if (!hn->held_said && now - hn->held_since >=
	    (uint64_t)sh->timeout_ms * NSEC_PER_MSEC) {
		hn->held_said = true;
		log_msg(LOG_WARN, "%s: the next health check waits: %s",
		    enode_path(hn->node), msg);
	}
	schedule(hn, now + (uint64_t)hn->held_ms * NSEC_PER_MSEC);
}

static void
start_exec(struct hnode *hn, uint64_t now)
{
	struct health *h = hn->h;
	char msg[512];
	struct cg_spawn cgs = { .dirfd = -1 };
	struct run *r;
	int p[2], pidfd, err, high;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		err = errno;
		snprintf(msg, sizeof(msg), "pipe: %s", strerror(err));
		finish(hn, false, msg, err, now);
		return;
	}
	if (h->cg && cgroups_check_prepare(h->cg, hn->node, hn->cg_dirty, &cgs,
	    msg, sizeof(msg)) < 0) {
		err = errno;
		close(p[0]);
		close(p[1]);
		if (hn->cg_dirty && err == EBUSY)
			hold_back(hn, now, msg);
		else
			finish(hn, false, msg, err, now);
		return;
	}
	hn->cg_dirty = false;
	hn->held_since = 0;
	pid = spawn_check(hn->node, h->devnull, p[1], h->cg ? &cgs : NULL,
	    &pidfd, &err, msg, sizeof(msg));
	cg_spawn_close(&cgs);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		finish(hn, false, msg, err, now);
		return;
	}
	if ((high = fcntl(p[0], F_DUPFD_CLOEXEC, SPAWN_FD_BASE)) >= 0) {
		close(p[0]);
		p[0] = high;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	r = xcalloc(1, sizeof(*r));
	r->h = h;
	r->hn = hn;
	r->pid = pid;
	if (reactor_watch_bulk(h->r, &r->pw, pidfd, EPOLLIN, on_run_exit, r) < 0 ||
	    reactor_watch_bulk(h->r, &r->ow, p[0], EPOLLIN, on_run_output, r) < 0)
		fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
	r->next = h->runs;
	if (h->runs)
		h->runs->prev = r;
	h->runs = r;
	hn->run = r;
}

/* ---- tcp and http checks: the checks thread's ---- */

static uint64_t
net_id(const struct hnode *hn)
{
	return (uint64_t)hn->slot << 32 | hn->net_gen;
}

static void on_net_results(void *owner, uint32_t events);

/* The checks helper starts with the first tcp or http check: a tree
 * without one has no such process. */
static struct netcheck *
net_of(struct health *h)
{
	if (h->net)
		return h->net;
	h->net = netcheck_start(h->hs);
	if (reactor_watch(h->r, &h->nw, netcheck_fd(h->net), EPOLLIN,
	    on_net_results, h) < 0)
		fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
	return h->net;
}

static void
start_net(struct hnode *hn)
{
	hn->net_gen = ++hn->h->net_gen;
	netcheck_begin(net_of(hn->h), net_id(hn), spec_of(hn));
}

/* The results the helper sent, each judged. */
static void
take_net_results(struct health *h)
{
	struct nc_result *v;
	size_t n;

	n = netcheck_take(h->net, &v);
	for (size_t i = 0; i < n; i++) {
		size_t slot = (size_t)(v[i].id >> 32);
		struct hnode *hn = slot < h->nslots ? h->slots[slot] : NULL;

		/* Not one cancelled, or of a worker gone, since. */
		if (!hn || hn->net_gen != (uint32_t)v[i].id ||
		    (hn->busy != HEALTH_TCP && hn->busy != HEALTH_HTTP))
			continue;
		finish(hn, v[i].ok, v[i].detail, v[i].err, mono_ns());
	}
}

static void
on_net_results(void *owner, uint32_t events)
{
	struct health *h = owner;

	(void)events;
	read_counter(h->nw.fd);
	take_net_results(h);
	rearm(h);
}

/* ---- one check ---- */

/* Ends the check under way without a result. */
static void
abort_check(struct hnode *hn)
{
	switch (hn->busy) {
	case HEALTH_EXEC:
		if (hn->run)
			run_detach(hn->run);
		break;
	case HEALTH_TCP:
	case HEALTH_HTTP:
		netcheck_cancel(hn->h->net, net_id(hn));
		break;
	case HEALTH_NONE:
		break;
	}
	hn->busy = HEALTH_NONE;
}

static void
start_check(struct hnode *hn, uint64_t now)
{
	const struct spec_health *sh = spec_of(hn);

	hn->began = now;
	hn->busy = sh->kind;
	schedule(hn, now + (uint64_t)sh->timeout_ms * NSEC_PER_MSEC);
	switch (sh->kind) {
	case HEALTH_EXEC: start_exec(hn, now); break;
	case HEALTH_TCP:
	case HEALTH_HTTP: start_net(hn); break;
	case HEALTH_NONE: hn->busy = HEALTH_NONE; unschedule(hn); break;
	}
}

/*
 * A check without a result that is no failure: its helper died while it
 * was under way. The next one comes at its interval.
 */
static void
no_result(struct hnode *hn, uint64_t now)
{
	uint64_t next = hn->began + (uint64_t)spec_of(hn)->interval_ms *
	    NSEC_PER_MSEC;

	abort_check(hn);
	schedule(hn, next < now ? now : next);
}

/* Whether the check's process has ended (it stays a zombie to reap). */
static bool
run_ended(const struct run *r)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PIDFD, (id_t)r->pw.fd, &si,
	    WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && si.si_pid != 0;
}

static void
timed_out(struct hnode *hn, uint64_t now)
{
	char detail[96];

	/* Ended in time, its exit still queued in the bulk epoll behind a
	 * storm of others (reactor.h): judged by its result. */
	if (hn->busy == HEALTH_EXEC && hn->run && run_ended(hn->run)) {
		run_exited(hn->run);
		return;
	}

	if ((hn->busy == HEALTH_TCP || hn->busy == HEALTH_HTTP) &&
	    netcheck_disturbed(hn->h->net, net_id(hn))) {
		no_result(hn, now);
		return;
	}

	snprintf(detail, sizeof(detail), "timed out after %u ms%s",
	    spec_of(hn)->timeout_ms, hn->busy == HEALTH_EXEC ? ", killed" : "");
	abort_check(hn);
	finish(hn, false, detail, ETIMEDOUT, now);
}

/*
 * The check's result: the next one is scheduled, then the engine hears
 * (last: it may stop the worker, which ends its checks).
 */
static void
finish(struct hnode *hn, bool ok, const char *detail, int err, uint64_t now)
{
	const struct spec_health *sh = spec_of(hn);
	uint64_t interval = (uint64_t)sh->interval_ms * NSEC_PER_MSEC;
	uint64_t next = hn->began + interval;

	hn->busy = HEALTH_NONE;
	/* Paused (arborctl pause) since the check began: its result, which a
	 * frozen worker cannot answer for, does not count. */
	if (hn->h->cg && cgroups_frozen(hn->node)) {
		schedule(hn, now + interval);
		return;
	}
	if (!hn->started && !ok &&
	    enode_spec(hn->node)->w.ready == READY_HEALTH) {
		uint32_t most = sh->interval_ms < START_RETRY_MAX_MS ?
		    sh->interval_ms : START_RETRY_MAX_MS;

		next = now + (uint64_t)hn->retry_ms * NSEC_PER_MSEC;
		hn->retry_ms = hn->retry_ms * 2 < most ? hn->retry_ms * 2 : most;
	}
	if (next < now)
		next = now;
	schedule(hn, next);
	engine_health(hn->h->eng, hn->node, ok, detail, err, now);
}

static void
on_timer(void *owner, uint32_t events)
{
	struct health *h = owner;
	uint64_t now = mono_ns();
	struct heap_link *t;

	(void)events;
	read_counter(h->tw.fd);
	h->armed = UINT64_MAX;
	/* Results already here come before any timeout: the timer and the
	 * helper's records may be ready in the same turn, either first. */
	if (h->net && (t = heap_top(&h->sched)) && t->key <= now)
		take_net_results(h);
	while ((t = heap_top(&h->sched)) && t->key <= now) {
		struct hnode *hn = container_of(t, struct hnode, due);

		unschedule(hn);
		if (h->cg && cgroups_frozen(hn->node)) {
			/* Paused (arborctl pause): no check runs or counts
			 * until it is resumed; one it froze midway is ended
			 * uncounted. */
			abort_check(hn);
			schedule(hn, now + (uint64_t)spec_of(hn)->interval_ms *
			    NSEC_PER_MSEC);
		} else if (hn->busy != HEALTH_NONE)
			timed_out(hn, now);
		else
			start_check(hn, now);
	}
	rearm(h);
}

/* ---- the worker's side ---- */

void
health_begin(struct health *h, struct enode *n, uint64_t now)
{
	const struct spec_worker *w = &enode_spec(n)->w;
	struct hnode *hn = enode_checker(n);

	if (!hn && w->health.kind == HEALTH_NONE)
		return;
	if (!hn) {
		hn = xcalloc(1, sizeof(*hn));
		hn->h = h;
		hn->node = n;
		if (h->nfree)
			hn->slot = h->free_slots[--h->nfree];
		else {
			h->slots = xreallocarray(h->slots, h->nslots + 1,
			    sizeof(*h->slots));
			h->free_slots = xreallocarray(h->free_slots,
			    h->nslots + 1, sizeof(*h->free_slots));
			hn->slot = h->nslots++;
		}
		h->slots[hn->slot] = hn;
		hn->next = h->nodes;
		if (h->nodes)
			h->nodes->prev = hn;
		h->nodes = hn;
		enode_set_checker(n, hn);
	}
	abort_check(hn);
	unschedule(hn);
	hn->started = false;
	hn->began = 0;
	hn->retry_ms = START_RETRY_MS;
	hn->held_since = 0;
	if (w->health.kind == HEALTH_NONE)
		return;
	/* A ready = "health" worker is checked at once; others first after
	 * an interval, as Docker and Kubernetes do. */
	schedule(hn, w->ready == READY_HEALTH ? now :
	    now + (uint64_t)w->health.interval_ms * NSEC_PER_MSEC);
	rearm(h);
}

void
health_ready(struct health *h, const struct enode *n, uint64_t now)
{
	struct hnode *hn = enode_checker(n);

	if (!hn || spec_of(hn)->kind == HEALTH_NONE)
		return;
	hn->started = true;
	/* Passed its first check (ready = "health"): the next comes an
	 * interval after that one began, not at the start's retry pace. */
	if (hn->busy == HEALTH_NONE && hn->began) {
		uint64_t next = hn->began +
		    (uint64_t)spec_of(hn)->interval_ms * NSEC_PER_MSEC;

		schedule(hn, next > now ? next : now);
	}
	rearm(h);
}

void
health_end(struct health *h, const struct enode *n)
{
	struct hnode *hn = enode_checker(n);

	if (!hn)
		return;
	abort_check(hn);
	unschedule(hn);
	rearm(h);
}

static void
hnode_free(struct hnode *hn)
{
	struct health *h = hn->h;

	abort_check(hn);
	unschedule(hn);
	h->slots[hn->slot] = NULL;
	h->free_slots[h->nfree++] = hn->slot;
	if (hn->prev)
		hn->prev->next = hn->next;
	else
		h->nodes = hn->next;
	if (hn->next)
		hn->next->prev = hn->prev;
	enode_set_checker(hn->node, NULL);
	free(hn);
}

void
health_removed(struct health *h, const struct enode *n)
{
	/*
	 * The engine says it once, for the top of a removed subtree, and frees
	 * all of it: every checker below goes too, or it would keep pointing
	 * at a freed node.
	 */
	for (size_t i = 0; i < enode_nchildren(n); i++)
		health_removed(h, enode_child(n, i));
	if (!enode_checker(n))
		return;
	hnode_free(enode_checker(n));
	rearm(h);
}

void
health_flush(struct health *h)
{
	if (h && h->net)
		netcheck_flush(h->net);
}

bool
health_reap(struct health *h, pid_t pid)
{
	if (!h)
		return false;
	for (struct run *r = h->runs; r; r = r->next)
		if (r->pid == pid) {
			run_exited(r);
			rearm(h);
			return true;
		}
	return false;
}

/* ---- setup ---- */

struct health *
health_new(struct reactor *r, struct engine *eng, struct cgroups *cg,
    struct helpers *hs, int devnull)
{
	struct health *h = xcalloc(1, sizeof(*h));
	int fd;

	h->hs = hs;
	h->r = r;
	h->eng = eng;
	h->cg = cg;
	h->devnull = devnull;
	h->armed = UINT64_MAX;
	if ((fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    reactor_watch(r, &h->tw, fd, EPOLLIN, on_timer, h) < 0)
		fatal("%s: timerfd: %s", __func__, strerror(errno));
	return h;
}

void
health_close(struct health *h)
{
	if (!h)
		return;
	while (h->nodes)
		hnode_free(h->nodes);
	/* Detached runs: killed; their zombies are reaped at exit. */
	for (struct run *r = h->runs, *next; r; r = next) {
		next = r->next;
		run_kill(r);
		reactor_unwatch(h->r, &r->pw);
		close(r->pw.fd);
		if (r->ow.fd >= 0) {
			reactor_unwatch(h->r, &r->ow);
			close(r->ow.fd);
		}
		free(r);
	}
	if (h->net) {
		reactor_unwatch(h->r, &h->nw);
		netcheck_stop(h->net);
	}
	reactor_unwatch(h->r, &h->tw);
	close(h->tw.fd);
	heap_free(&h->sched);
	free(h->slots);
	free(h->free_slots);
	free(h);
}
