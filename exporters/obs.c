/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The observability thread. Core events and kernel records about the same
 * process arrive on two channels in either order; they are joined by pid,
 * each side waiting at most JOIN_WAIT_NS for the other. Tables are bounded
 * and forget a process once its exit is written, so a crash loop costs
 * nothing over time.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "obs.h"
#include "backlog.h"
#include "cgstat.h"
#include "../config/webconf.h"
#include "eventlog.h"
#include "http.h"
#include "join.h"
#include "metrics.h"
#include "serve.h"
#include "../bpf/loader.h"
#include "../daemon/event.h"
#include "../daemon/jw.h"
#include "../daemon/log.h"
#include "../daemon/util.h"

#define CLIENT_IDS 16	/* epoll ids of clients: 16, 17, ... (0-5 are taken) */
#define HOOK_IDS 6	/* the helper's own: 6 to 9 */
#define HTTP_RETRY_MAX_MS 30000
#define RUNQ_BUCKETS 4096
/*
 * Cgroup figures: a file costs some 12 us to open and read, and 10,000
 * workers' would hold a scrape or a status for half a second. A request
 * reads figures itself for READ_BUDGET_NS (a small tree's, some 80
 * workers, are all read fresh), then takes them from a cache that a
 * sampler keeps: while a request in the last WATCH_NS was served from it,
 * the thread rereads every cached figure, SWEEP_SLICE records between two
 * turns of its loop (a request waits behind one slice: a millisecond or
 * so), one sweep every SWEEP_PERIOD_NS or ten times a sweep's own cost,
 * whichever is longer (at most a tenth of a CPU); a request that reads
 * figures past its budget turns it on too. A figure older than a period
 * and a sweep, or missing, is read by a scrape whatever the budget, by a
 * status while it is younger than COLD_BUDGET_NS; after that the status
 * shows the node's figures as null and the sampler reads them next. So
 * the first status after a start of 10,000, or after WATCH_NS without a
 * request, answers in time (reading its 20,000 files took 0.5 to 0.9 s
 * here), and a later one has them all; a small tree's are all there at
 * once. A scrape has no null to give (the registry would keep the
 * series' last value), so it reads them.
 */
#define READ_BUDGET_NS (3 * NSEC_PER_MSEC)
#define COLD_BUDGET_NS (15 * NSEC_PER_MSEC)
#define WATCH_NS (300 * NSEC_PER_SEC)
#define SWEEP_PERIOD_NS (2 * NSEC_PER_SEC)
/* The kernel's records a dead helper kept are read again by the next one
 * if this young: a hung helper is killed after 3 s, restarted after up to
 * 1 s of backoff, and may take 2 s to start (a slow machine's VM more). */
#define KEPT_WINDOW_NS (60 * NSEC_PER_SEC)
#define SWEEP_SLICE 32
/*
 * The sampler steps aside for the requests it serves: no slice within
 * SWEEP_YIELD_NS of one's start (a burst of statuses, each some 25 ms at
 * 10,000 workers, would otherwise share the CPUs with a sweep at full
 * pace), for at most SWEEP_PERIOD_NS of a sweep or of its start.
 */
#define SWEEP_YIELD_NS (30 * NSEC_PER_MSEC)

/* The run-queue histograms of a path's processes that are gone, added up. */
/* What the thread keeps per path: run-queue slots, OOM kills seen. */
struct runq {
	char *path;
	uint64_t slots[ARBOR_HIST_SLOTS];
	int64_t oom_seen;	/* the cgroup's oom_kill count last read */
	uint64_t dropped_seen;	/* dropped log lines already added */
	bool sum;		/* slots: the gone processes of the workers
				 * labelled path (a supervisor's), not its own */
	char *tail;		/* the stderr tail of its last exit, NULL: none */
	/* Its cgroup figures as the sampler last read them (fig_ns; 0:
	 * none): what (CG_FIG_*) and how (leaf) they were asked for. */
	struct cg_fig fig;
	uint64_t fig_ns;
	unsigned fig_what;
	bool fig_leaf;
	unsigned applied;	/* struct obs.applied when its pressure was set */
	struct runq *next;
};

struct obs {
	struct obs_args *a;
	struct registry *reg;
	struct probes *probes;
	bool kernel_oom;		/* the probes mark OOM kills (exit and oom run) */
	struct eventlog *log;
	struct http *http;
	uint64_t http_retry_at;
	uint32_t http_backoff_ms;
	bool http_said;
	struct server *server;		/* control clients: events, metrics, traces */
	const char *setup_failed;	/* what failed in setup_loop */
	struct join *join;
	uint64_t qread;		/* the next of the core's queue to read */
	uint64_t qcommitted;	/* given back up to here (commit) */
	uint64_t qskip;		/* a slot not to take (obsq_resume) */
	bool kexit_held;	/* on_record: a worker's exit waits for the core's */
	struct backlog *backlog;	/* held sockets' accept queues */
	uint64_t backlog_at;	/* the next sample while a restart waits */
	struct runq *runq[RUNQ_BUCKETS];
	int epfd, hb_fd;
	uint64_t attached_ns;	/* when BPF was attached; 0: it is not */
	/* The figure sampler (fig_sweep): on while someone looks. */
	uint64_t req_ns;	/* when the request being served began */
	uint64_t budget_ns;	/* how long it reads figures itself */
	uint64_t cold_ns;	/* ... and a status those not cached, or too old */
	uint64_t req_cold_ns;	/* the request's: cold_ns, or none (a scrape) */
	uint64_t watched_ns;	/* the last request the cache served, or that
				 * had more to read than its budget */
	uint64_t sweep_start_ns, next_sweep_ns, sweep_cost_ns;
	uint64_t sweep_work_ns;	/* this sweep's slices, not its pauses */
	uint64_t sweep_wall_ns;	/* the last sweep, pauses and all */
	size_t sweep_bucket;	/* the next bucket to read; RUNQ_BUCKETS: idle */
	unsigned applied;	/* refresh's generation (struct runq.applied) */
	/* refresh's snapshot of the run-queue map (rq_n -1: none) */
	uint32_t *rq_keys;
	struct arbor_hist *rq_vals;
	long rq_n;
};

/* An event is final: to the event log, then to the clients (serve.c). */
static void
write_now(void *ctx, json_t *j)
{
	struct obs *o = ctx;
	char *line;

	server_stamp(o->server, j);
	if (o->log && (line = json_dumps(j, JSON_COMPACT))) {
		eventlog_write(o->log, line, strlen(line));
		free(line);
	}
	server_event(o->server, j, mono_ns());
}

static struct runq **
runq_slot(struct obs *o, const char *path)
{
	struct runq **b = &o->runq[fnv1a(FNV1A_INIT, path) % RUNQ_BUCKETS];

	while (*b && strcmp((*b)->path, path) != 0)
		b = &(*b)->next;
	return b;
}

static void
runq_free(struct runq *r)
{
	free(r->path);
	free(r->tail);
	free(r);
}

/* The join's effects on the registry and the probes. */
static void
op_observe(void *ctx, enum metric m, const char *path, double v)
{
	reg_observe(((struct obs *)ctx)->reg, m, path, v);
}

static void
op_add(void *ctx, enum metric m, const char *path, const char *label,
    double v)
{
	reg_add(((struct obs *)ctx)->reg, m, path, label, v);
}

static void
op_set(void *ctx, enum metric m, const char *path, const char *label,
    double v)
{
	reg_set(((struct obs *)ctx)->reg, m, path, label, v);
}

static struct runq *
path_rec(struct obs *o, const char *path)
{
	struct runq **b = runq_slot(o, path);

	if (!*b) {
		*b = xcalloc(1, sizeof(**b));
		(*b)->path = xstrdup(path);
	}
	return *b;
}

static void
op_forget(void *ctx, const char *path)
{
	struct obs *o = ctx;

	/* A removed supervisor takes every path below it along. */
	reg_forget(o->reg, path);
	for (size_t i = 0; i < RUNQ_BUCKETS; i++)
		for (struct runq **b = &o->runq[i]; *b;)
			if (path_within((*b)->path, path)) {
				struct runq *dead = *b;

				*b = dead->next;
				runq_free(dead);
			} else
				b = &(*b)->next;
}

/* A process of path is gone: its run-queue histogram joins the path's. */
static void
op_proc_gone(void *ctx, const char *path, int pid)
{
	struct obs *o = ctx;
	const char *label = join_label(o->join, path, true);
	struct arbor_hist h;
	struct runq *r;

	if (!o->probes || probes_runq(o->probes, (uint32_t)pid, &h) < 0)
		return;
	/* Kept by the label's record, which outlives a removed worker. */
	r = path_rec(o, label);
	r->sum = strcmp(label, path) != 0;
	for (int k = 0; k < ARBOR_HIST_SLOTS; k++)
		r->slots[k] += h.slots[k];
	probes_runq_forget(o->probes, (uint32_t)pid);
}

static void
op_track(void *ctx, int pid)
{
	struct obs *o = ctx;

	if (o->probes && kill(pid, 0) == 0)
		probes_track(o->probes, pid);
}

static bool
op_has_backlog(void *ctx, const char *owner)
{
	return backlog_has(((struct obs *)ctx)->backlog, owner);
}

static const struct join_ops join_ops = {
	.emit = write_now, .observe = op_observe, .add = op_add,
	.set = op_set, .forget = op_forget, .proc_gone = op_proc_gone,
	.track = op_track, .has_backlog = op_has_backlog,
};

/*
 * A sample of the held sockets' accept queues: each one's gauge, and
 * for a restart that waits on them (join_backlog), each owner's sum.
 */
struct bl_sum {
	struct obs *o;
	char owner[OBSQ_PATH];
	uint64_t sum;
};

static void
bl_gauge(void *arg, const char *owner, const char *name, int64_t depth)
{
	struct obs *o = arg;

	if (depth >= 0)
		reg_set(o->reg, M_SOCKET_BACKLOG, owner, name, (double)depth);
}

static void
bl_add(void *arg, const char *owner, const char *name, int64_t depth)
{
	struct bl_sum *s = arg;

	bl_gauge(s->o, owner, name, depth);
	if (depth > 0 && strcmp(owner, s->owner) == 0)
		s->sum += (uint64_t)depth;
}

static void
bl_owner(void *arg, const char *owner)
{
	struct bl_sum *s = arg;

	snprintf(s->owner, sizeof(s->owner), "%s", owner);
	s->sum = 0;
	backlog_sample(s->o->backlog, bl_add, s);
	join_backlog(s->o->join, owner, s->sum, mono_ns());
}

/* Each millisecond while a restart waits for its backlog's peak
 * (join_backlog_period_ms). */
static int
backlog_tick(struct obs *o, uint64_t now)
{
	struct bl_sum s = { .o = o };
	int period = join_backlog_period_ms(o->join);

	if (period < 0)
		return -1;
	if (now >= o->backlog_at) {
		o->backlog_at = now + (uint64_t)period * NSEC_PER_MSEC;
		join_each_backlog(o->join, bl_owner, &s);
	}
	return period;
}

/*
 * A record from the BPF ring buffer, which forgets it once this returns: a
 * worker's exit is kept first in the shared memfd, in case the helper dies
 * before the exit it joins is written out (resume_kept).
 */
static void
on_record(void *ctx, const struct arbor_rec *r)
{
	struct obs *o = ctx;
	struct obs_kept *k = o->a->kept;

	if (k && (r->kind == ARBOR_REC_EXIT || r->kind == ARBOR_REC_EXEC) &&
	    r->tgid == r->worker) {
		uint64_t n = atomic_load_explicit(&k->n, memory_order_relaxed);

		k->r[n % OBS_KEPT_MAX] = *r;
		atomic_store_explicit(&k->n, n + 1, memory_order_release);
	}
	join_kernel(o->join, r, mono_ns());
	if (r->kind == ARBOR_REC_EXIT && r->tgid == r->worker &&
	    join_kexit_waits(o->join, (int)r->tgid))
		o->kexit_held = true;
}

/*
 * The kernel's records the last helper kept (on_record), given to the join
 * again, before the core's events it reads again (drain_queue, from the
 * last one written out): those meet theirs. Each is checked, as anything
 * the last helper left: a worker's exit or exec, of the last
 * KEPT_WINDOW_NS. The slot the last one may have died writing is not
 * read.
 */
static void
resume_kept(struct obs *o)
{
	const struct obs_kept *k = o->a->kept;
	uint64_t now = mono_ns(), n, from;

	if (!k || !join_kernel_side_on(o->join))
		return;
	/* The last start died giving them: this one does without. */
	if (atomic_exchange(&k->replaying, 1)) {
		log_msg(LOG_WARN, "observability: the helper died taking the kernel's records it had kept; the next start does without them");
		atomic_store(&k->n, 0);
		atomic_store(&k->replaying, 0);
		return;
	}
	n = atomic_load_explicit(&k->n, memory_order_acquire);
	from = n > OBS_KEPT_MAX - 1 ? n - (OBS_KEPT_MAX - 1) : 0;
	for (uint64_t i = from; i < n; i++) {
		struct arbor_rec r = k->r[i % OBS_KEPT_MAX];

		if ((r.kind != ARBOR_REC_EXIT && r.kind != ARBOR_REC_EXEC) ||
		    r.tgid == 0 || r.tgid != r.worker || r.ts > now ||
		    now - r.ts > KEPT_WINDOW_NS)
			continue;
		r.comm[sizeof(r.comm) - 1] = '\0';
		r.fatal.sender_comm[sizeof(r.fatal.sender_comm) - 1] = '\0';
		join_kernel(o->join, &r, now);
	}
	atomic_store(&k->replaying, 0);
}

/* pid's run-queue histogram: from refresh's snapshot of the map, if any. */
static bool
runq_of(const struct obs *o, uint32_t pid, struct arbor_hist *h)
{
	size_t lo = 0, hi;

	if (o->rq_n < 0)
		return probes_runq(o->probes, pid, h) == 0;
	hi = (size_t)o->rq_n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->rq_keys[mid] == pid) {
			*h = o->rq_vals[mid];
			return true;
		}
		if (o->rq_keys[mid] < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static void
refresh_path(void *arg, const char *path, int live_pid)
{
	struct obs *o = arg;
	struct runq *r = *runq_slot(o, path);
	uint64_t slots[ARBOR_HIST_SLOTS];
	struct arbor_hist h;

	if (r && !r->sum)
		memcpy(slots, r->slots, sizeof(slots));
	else
		memset(slots, 0, sizeof(slots));
	if (live_pid && runq_of(o, (uint32_t)live_pid, &h))
		for (int k = 0; k < ARBOR_HIST_SLOTS; k++)
			slots[k] += h.slots[k];
	/* Summed into its label's histogram, cleared before the round. */
	reg_add_log2(o->reg, M_RUNQ_LATENCY, join_label(o->join, path, true),
	    slots, ARBOR_HIST_SLOTS);
}

/*
 * New OOM kills of path's cgroup since it was last read (its counter
 * starts again when the cgroup is made anew). Without the probes these
 * are the OOM kills arbord counts; with them, the probes count.
 */
static int64_t
oom_since(struct obs *o, const char *path, int64_t count)
{
	struct runq *r;
	int64_t d;

	if (count < 0 || (count == 0 && !*runq_slot(o, path)))
		return 0;	/* nothing seen, nothing to keep */
	r = path_rec(o, path);
	d = count >= r->oom_seen ? count - r->oom_seen : count;
	r->oom_seen = count;
	if (d > 0 && !o->kernel_oom)
		reg_add(o->reg, M_OOM_KILLS, join_label(o->join, path, true),
		    NULL, (double)d);
	return d;
}

/* Reads r's figures now; false (and none kept) when it has no cgroup. */
static bool
fig_read(struct obs *o, struct runq *r, uint64_t now)
{
	if (!cgstat_read(&o->a->cg, r->path, r->fig_leaf, r->fig_what,
	    &r->fig)) {
		r->fig_ns = 0;
		r->fig_what = 0;	/* the sampler passes it by */
		return false;
	}
	r->fig_ns = now;
	return true;
}

/* The sampler's pace: a sweep every SWEEP_PERIOD_NS or ten times its cost. */
static uint64_t
sweep_period(const struct obs *o)
{
	return o->sweep_cost_ns * 10 > SWEEP_PERIOD_NS ? o->sweep_cost_ns * 10 :
	    SWEEP_PERIOD_NS;
}

/*
 * path's figures (what, of a leaf or not): read now while the request's
 * READ_BUDGET_NS lasts, then from the cache. Read now whatever the budget
 * when the cache has them only as asked otherwise (other flags); when it
 * has none, or too old, while the request is younger than its req_cold_ns
 * (a status's COLD_BUDGET_NS; a scrape's has no end), after which there
 * are none (NULL) and the sampler reads them next.
 */
static const struct cg_fig *
fig_get(struct obs *o, const char *path, bool leaf, unsigned what)
{
	uint64_t now = mono_ns(), period = sweep_period(o);
	struct runq *r = path_rec(o, path);
	bool stale = !r->fig_ns || now - r->fig_ns > period + o->sweep_wall_ns +
	    NSEC_PER_SEC;

	if (stale || (r->fig_what & what) != what || r->fig_leaf != leaf ||
	    (now - o->req_ns < o->budget_ns &&
	    r->fig_ns < o->req_ns)) {	/* a pool's: once per request */
		r->fig_what |= what;
		r->fig_leaf = leaf;
		if (stale && now - o->req_ns >= o->req_cold_ns) {
			r->fig_ns = 0;
			o->watched_ns = now;	/* the sampler reads it next */
			return NULL;
		}
		/* A tree too big for the budget: the sampler is needed. */
		if (now - o->req_ns >= o->budget_ns)
			o->watched_ns = now;
		if (!fig_read(o, r, now))
			return NULL;
	} else
		o->watched_ns = now;	/* the cache served: keep it fresh */
	return &r->fig;
}

/*
 * One slice of the sampler's sweep over the cached figures; the loop's
 * next timeout (0: more to read now, -1: nothing until someone looks).
 */
static int
fig_sweep(struct obs *o)
{
	uint64_t now = mono_ns();
	size_t done = 0;

	if (o->sweep_bucket >= RUNQ_BUCKETS) {
		if (!o->watched_ns || now - o->watched_ns > WATCH_NS)
			return -1;
		if (now < o->next_sweep_ns)
			return (int)((o->next_sweep_ns - now) / NSEC_PER_MSEC) + 1;
		if (now - o->req_ns < SWEEP_YIELD_NS &&
		    now - o->next_sweep_ns < SWEEP_PERIOD_NS)
			return (int)((o->req_ns + SWEEP_YIELD_NS - now) /
			    NSEC_PER_MSEC) + 1;
		o->sweep_bucket = 0;
		o->sweep_start_ns = now;
		o->sweep_work_ns = 0;
	} else if (now - o->req_ns < SWEEP_YIELD_NS &&
	    now - o->sweep_start_ns < SWEEP_PERIOD_NS)
		return (int)((o->req_ns + SWEEP_YIELD_NS - now) /
		    NSEC_PER_MSEC) + 1;
	for (; o->sweep_bucket < RUNQ_BUCKETS && done < SWEEP_SLICE;
	    o->sweep_bucket++)
		for (struct runq *r = o->runq[o->sweep_bucket]; r; r = r->next)
			if (r->fig_what && r->fig_ns < o->sweep_start_ns) {
				fig_read(o, r, now);
				done++;
			}
	o->sweep_work_ns += mono_ns() - now;
	if (o->sweep_bucket < RUNQ_BUCKETS)
		return 0;
	now = mono_ns();
	o->sweep_cost_ns = o->sweep_work_ns;
	o->sweep_wall_ns = now - o->sweep_start_ns;
	o->next_sweep_ns = o->sweep_start_ns + sweep_period(o);
	return fig_sweep(o);
}

/*
 * A worker's figures into the registry: CPU, memory and processes under
 * its series label (a pool's children: the pool's cgroup, which holds
 * them all; v1 groups are for leaves only), pressure under its histogram
 * label (a supervisor's cgroup counts the stalls of all below it).
 */
static void
cg_refresh_path(void *arg, const char *path, int live_pid)
{
	struct obs *o = arg;
	const char *label = join_label(o->join, path, false);
	const char *hist = join_label(o->join, path, true);
	bool pooled = strcmp(label, path) != 0;
	bool own_psi = strcmp(hist, label) == 0;
	const struct cg_fig *f;
	struct cg_fig oom;
	struct runq *h;

	(void)live_pid;
	/* OOM kills, each worker's own, are the probes' when they run. */
	if (!o->kernel_oom && cgstat_read(&o->a->cg, path, true, CG_FIG_OOM, &oom))
		oom_since(o, path, oom.oom_kills);
	if (!(f = fig_get(o, label, !pooled, CG_FIG_BASIC |
	    (own_psi ? CG_FIG_PRESSURE : 0))))
		return;
	if (f->cpu_user_s >= 0)
		reg_set(o->reg, M_CHILD_CPU, label, "user", f->cpu_user_s);
	if (f->cpu_system_s >= 0)
		reg_set(o->reg, M_CHILD_CPU, label, "system", f->cpu_system_s);
	if (f->memory_bytes >= 0)
		reg_set(o->reg, M_CHILD_MEMORY, label, NULL,
		    (double)f->memory_bytes);
	if (f->pids >= 0)
		reg_set(o->reg, M_CHILD_PIDS, label, NULL, (double)f->pids);
	if (!own_psi) {
		/* Once per refresh for all the workers that share it. */
		if ((h = path_rec(o, hist))->applied == o->applied)
			return;
		h->applied = o->applied;
		if (!(f = fig_get(o, hist, false, CG_FIG_PRESSURE)))
			return;
	}
	for (int p = 0; p < PSI_N; p++)
		if (f->pressure_s[p] >= 0)
			reg_set(o->reg, M_CHILD_PRESSURE, own_psi ? label : hist,
			    cg_psi_name((enum cg_psi)p), f->pressure_s[p]);
}

/*
 * `arborctl status`: the core's tree as it wrote it (compact JSON), sent on
 * with each node's figures spliced in, never parsed into a tree here.
 * What the splice looks for cannot occur inside a JSON string (its quotes
 * are bare), and the core writes each node's members in this order:
 *   "path":"P","kind":"worker"|"supervisor", ... "last_exit":{ ... },
 *   ... "memory_bytes":null,"cpu_seconds":null,"pids":null, ... children
 * (control.c, status_json; loop.c, ops_node_status). So the figures of
 * the node whose "path" came last go in place of its three nulls, and its
 * stderr tail, when this helper has one, first into its "last_exit".
 */
#define ST_PATH "\"path\":\""
#define ST_EXIT "\"last_exit\":{"
#define ST_NULLS "\"memory_bytes\":null,\"cpu_seconds\":null,\"pids\":null"
#define ST_WORKER ",\"kind\":\"worker\""

/*
 * The first of the three at or after at (end when none), and which in *k:
 * one pass over the quotes, not a search of the whole text for each (at
 * 10,000 workers the searches were a fifth of a status's time here).
 */
static const char *
next_mark(const char *at, const char *end, const char *const what[3],
    const size_t wlen[3], int *k)
{
	for (const char *q = at; (q = memchr(q, '"', (size_t)(end - q)));
	    q++)
		for (int i = 0; i < 3; i++)
			if ((size_t)(end - q) >= wlen[i] && q[1] == what[i][1] &&
			    memcmp(q, what[i], wlen[i]) == 0) {
				*k = i;
				return q;
			}
	*k = -1;
	return end;
}

/* A figure, or null where it could not be read. */
static void
put_fig(struct jw *w, const char *key, long long v)
{
	if (v >= 0)
		jw_int(w, key, v);
	else
		jw_null(w, key);
}

static void
status_reply(void *ctx, const char *text, size_t len, struct jw *w)
{
	struct obs *o = ctx;
	const char *at = text, *end = text + len;
	static const char *const what[3] = { ST_PATH, ST_EXIT, ST_NULLS };
	const size_t wlen[3] = { strlen(ST_PATH), strlen(ST_EXIT),
	    strlen(ST_NULLS) };
	char path[4096];
	bool have = false, leaf = false;

	o->req_ns = mono_ns();
	o->req_cold_ns = o->cold_ns;
	w->len = 0;
	/* The figures add some 10% to the core's text. */
	jw_reserve(w, len + len / 8 + 4096);
	jw_raw(w, STATUS_REPLY_HEAD, strlen(STATUS_REPLY_HEAD));
	for (;;) {
		int k;
		const char *p = next_mark(at, end, what, wlen, &k), *q;
		struct runq *r;
		const struct cg_fig *fig;

		jw_raw(w, at, (size_t)(p - at));
		if (p == end)
			break;
		at = p + wlen[k];
		if (k == 0) {
			/* The node's path: a name with a backslash in it
			 * (escaped) gets no figures, as one without a cgroup. */
			q = memchr(at, '"', (size_t)(end - at));
			have = q && !memchr(at, '\\', (size_t)(q - at)) &&
			    (size_t)(q - at) < sizeof(path);
			if (have) {
				memcpy(path, at, (size_t)(q - at));
				path[q - at] = '\0';
				leaf = (size_t)(end - q - 1) >= strlen(ST_WORKER) &&
				    memcmp(q + 1, ST_WORKER,
				    strlen(ST_WORKER)) == 0;
			}
			jw_raw(w, p, wlen[k]);
		} else if (k == 1) {
			jw_raw(w, p, wlen[k]);
			if (have && (r = *runq_slot(o, path)) && r->tail) {
				w->comma = false;
				jw_str(w, "stderr_tail", r->tail);
				if (!(at < end && *at == '}'))
					jw_raw(w, ",", 1);
			}
		} else if (have && o->a->cg.v2_base && (fig = fig_get(o, path,
		    leaf, CG_FIG_BASIC))) {
			w->comma = false;
			put_fig(w, "memory_bytes", fig->memory_bytes);
			if (fig->cpu_user_s >= 0)
				jw_real(w, "cpu_seconds", fig->cpu_user_s +
				    fig->cpu_system_s);
			else
				jw_null(w, "cpu_seconds");
			put_fig(w, "pids", fig->pids);
		} else
			jw_raw(w, p, wlen[k]);
	}
	jw_raw(w, "}\n", 2);
}

/* Each probe's state, once the probes were tried (arbor_bpf_programs). */
static void
bpf_programs(struct obs *o)
{
	struct probe_state st[16];
	size_t n = probes_states(st, 16);

	for (size_t i = 0; i < n; i++) {
		bool on = strcmp(st[i].state, "attached") == 0;

		reg_set(o->reg, M_BPF_PROGRAMS, st[i].name, "attached", on);
		reg_set(o->reg, M_BPF_PROGRAMS, st[i].name, "off", !on);
	}
}

/* The registry's view of things only read on demand. */
static void
refresh(struct obs *o)
{
	struct arbor_hist h;
	uint64_t slots[ARBOR_HIST_SLOTS];

	reg_set(o->reg, M_BPF_ENABLED, NULL, NULL, o->probes ? 1 : 0);
	bpf_programs(o);
	reg_set(o->reg, M_EVENTS_DROPPED, "core", NULL,
	    (double)atomic_load(&o->a->q->dropped));
	reg_set(o->reg, M_EVENTS_DROPPED, "bpf", NULL,
	    o->probes ? (double)probes_dropped(o->probes) : 0);
	reg_set(o->reg, M_EVENTS_DROPPED, "event_log", NULL,
	    (double)eventlog_dropped(o->log));
	reg_set(o->reg, M_OBS_RESTARTS, NULL, NULL, (double)o->a->restarts);
	backlog_sample(o->backlog, bl_gauge, o);
	for (size_t i = 0; o->a->helpers && i < OBS_HELPERS_MAX &&
	    o->a->helpers->name[i][0] && memchr(o->a->helpers->name[i], '\0',
	    sizeof(o->a->helpers->name[i])); i++)
		reg_set(o->reg, M_HELPER_RESTARTS, o->a->helpers->name[i], NULL,
		    (double)atomic_load(&o->a->helpers->restarts[i]));
	if (o->a->cg.v2_base) {
		o->req_ns = mono_ns();
		o->req_cold_ns = UINT64_MAX;	/* a scrape has them all */
		o->applied++;
		join_each_path(o->join, cg_refresh_path, o);
	}
	if (!o->probes)
		return;
	reg_clear(o->reg, M_RUNQ_LATENCY);
	o->rq_n = probes_runq_all(o->probes, &o->rq_keys, &o->rq_vals);
	join_each_path(o->join, refresh_path, o);
	free(o->rq_keys);
	free(o->rq_vals);
	o->rq_keys = NULL;
	o->rq_vals = NULL;
	o->rq_n = -1;
	for (size_t b = 0; b < RUNQ_BUCKETS; b++)
		for (struct runq *r = o->runq[b]; r; r = r->next)
			if (r->sum)
				reg_add_log2(o->reg, M_RUNQ_LATENCY, r->path,
				    r->slots, ARBOR_HIST_SLOTS);
	if (probes_runq(o->probes, ARBOR_SELF_KEY, &h) == 0) {
		for (int k = 0; k < ARBOR_HIST_SLOTS; k++)
			slots[k] = h.slots[k];
		reg_set_log2(o->reg, M_RUNQ_LATENCY, "arbord", slots,
		    ARBOR_HIST_SLOTS);
	}
}

/* The exposition, as /metrics and `arborctl metrics` serve it. */
static char *
render(void *ctx, size_t *len)
{
	struct obs *o = ctx;
	char *text = NULL;
	FILE *f;

	*len = 0;
	refresh(o);
	if (!(f = open_memstream(&text, len)))
		fatal("%s: open_memstream: out of memory", __func__);
	__fsetlocking(f, FSETLOCKING_BYCALLER);	/* this thread's alone */
	registry_format(o->reg, f);
	fclose(f);
	return text;
}

static void
each_path(void *ctx, void (*fn)(void *arg, const char *path, int live_pid),
    void *arg)
{
	join_each_path(((struct obs *)ctx)->join, fn, arg);
}

static void
console_line(void *ctx, const char *line, size_t len)
{
	struct obs *o = ctx;

	if (http_console(o->http))
		console_event(http_console(o->http), line, len);
}

static void
console_recent(void *ctx, void (*fn)(void *, const char *, size_t), void *arg)
{
	server_recent(((struct obs *)ctx)->server, fn, arg);
}

/* `arborctl console`: a sign-in link, or why there is none. */
static json_t *
console_reply(void *ctx)
{
	struct obs *o = ctx;
	char err[256] = "", *url;
	json_t *r;

	if (!o->a->metrics_listen || !*o->a->metrics_listen)
		return json_pack("{s:b, s:s}", "ok", 0, "error",
		    "the console is off: observability.metrics_listen is \"\"");
	if (!o->a->console)
		return json_pack("{s:b, s:s}", "ok", 0, "error",
		    "the console is off (observability.console = false)");
	if (!o->http)
		return json_pack("{s:b, s:s}", "ok", 0, "error",
		    "the console is not listening yet (see arbord's log: metrics)");
	if (!(url = console_sign_in(http_console(o->http), err, sizeof(err))))
		return json_pack("{s:b, s:s}", "ok", 0, "error", err);
	r = o->a->console_auth_none ? json_pack("{s:b, s:s, s:s}", "ok", 1,
	    "url", url, "auth", "none") : json_pack("{s:b, s:s, s:s, s:I}",
	    "ok", 1, "url", url, "auth", "token", "expires_in_ms",
	    (json_int_t)(console_token_ttl_ns(http_console(o->http)) /
	    NSEC_PER_MSEC));
	free(url);
	return r;
}

/* Listens for scrapes; a taken port is said once and retried with backoff. */
static void
try_http(struct obs *o)
{
	const struct http_console hc = { .epfd = o->epfd,
	    .dial = o->a->dial, .dial_ctx = o->a->ctx,
	    .ops = { .recent = console_recent, .ctx = o },
	    .conf = { .listen = o->a->metrics_listen,
	    .scheme = o->a->web && o->a->web->cert ? "https" : "http",
	    .auth_none = o->a->console_auth_none,
	    .hosts = o->a->console_hosts,
	    .token_ttl_ns = o->a->console_token_ttl_ns,
	    .session_ttl_ns = o->a->console_session_ttl_ns } };
	char err[256];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 3 };

	if (o->http || o->a->listen_fd < 0 || mono_ns() < o->http_retry_at)
		return;
	o->http = http_open(o->a->metrics_listen, o->a->listen_fd, render, o,
	    o->a->console ? &hc : NULL, o->a->web, err, sizeof(err));
	if (o->http) {
		epoll_ctl(o->epfd, EPOLL_CTL_ADD, http_fd(o->http), &ev);
		ev.data.u32 = 4;
		epoll_ctl(o->epfd, EPOLL_CTL_ADD, http_listen_fd(o->http), &ev);
		if (o->http_said)
			log_msg(LOG_INFO, "metrics: listening on %s now",
			    o->a->metrics_listen);
		o->http_backoff_ms = 0;
		return;
	}
	o->http_backoff_ms = o->http_backoff_ms ? o->http_backoff_ms * 2 : 1000;
	if (o->http_backoff_ms > HTTP_RETRY_MAX_MS)
		o->http_backoff_ms = HTTP_RETRY_MAX_MS;
	o->http_retry_at = mono_ns() + o->http_backoff_ms * NSEC_PER_MSEC;
	if (!o->http_said)
		log_msg(LOG_WARN, "metrics: %s; retrying with backoff (supervision is unaffected)",
		    err);
	o->http_said = true;
}

/*
 * A reload changed web_config: the listener is opened anew with it (its
 * connections, the console's streams among them, closed; browsers
 * reconnect), so a renewed certificate or a new user needs no restart.
 */
void
obs_set_web(struct obs *o, struct web_conf *web)
{
	webconf_free(o->a->web);
	o->a->web = web;
	if (!o->http)
		return;		/* try_http opens it with the new one */
	http_close(o->http);
	o->http = NULL;
	o->http_retry_at = 0;
	o->http_backoff_ms = 0;
	o->http_said = false;
	try_http(o);
	if (o->http)
		log_msg(LOG_INFO, "metrics: %s reopened with observability.web_config as reloaded",
		    o->a->metrics_listen);
}

void
obs_client(struct obs *o, const struct obs_msg *m)
{
	server_client(o->server, m, mono_ns());
}

/*
 * The queue's slots are given back up to the oldest core event not yet
 * written out, so that if the helper dies, the next one reads it again.
 */
static void
commit(struct obs *o)
{
	uint64_t to = o->qread, held;

	/* Held while half the queue came behind it: out as it is, with
	 * everything else held, rather than keep the core's queue full. */
	if (join_first_held(o->join, &held, NULL) &&
	    o->qread - held > OBSQ_CAPACITY / 2)
		join_tick(o->join, UINT64_MAX);
	if (join_first_held(o->join, &held, NULL))
		to = held;
	if (to != o->qcommitted) {
		obsq_commit(o->a->q, to);
		o->qcommitted = to;
	}
}

static void
drain_queue(struct obs *o)
{
	struct obs_msg m;

	while (obsq_read(o->a->q, o->qread, &m)) {
		m.qseq = o->qread++;
		obsq_said_read(o->a->q, o->qread);
		if (m.qseq == o->qskip) {	/* it killed two helpers */
			commit(o);
			continue;
		}
		/* Only events come this way; anything else is not the core's. */
		if (m.kind != OBS_MSG_EVENT)
			continue;
		m.path[sizeof(m.path) - 1] = m.cause[sizeof(m.cause) - 1] =
		    m.text[sizeof(m.text) - 1] = '\0';
		/* An exit with no tail to come: the last one is not its. */
		if (m.event == EV_EXIT && !m.tail) {
			struct runq *r = *runq_slot(o, m.path);

			if (r) {
				free(r->tail);
				r->tail = NULL;
			}
		}
		/* Without the probes, the cgroup says whether it was an OOM kill. */
		if (m.event == EV_EXIT && !o->kernel_oom && o->a->cg.v2_base) {
			struct cg_fig f;

			if (cgstat_read(&o->a->cg, m.path, true, CG_FIG_OOM, &f))
				m.oom = oom_since(o, m.path, f.oom_kills) > 0;
		}
		obsq_working(o->a->q, m.qseq, false);
		join_core(o->join, &m, mono_ns());
		obsq_working(o->a->q, m.qseq, true);
		commit(o);
	}
}

/*
 * A turn of the loop's work after its events: the kernel's records, the
 * core's events, what waited its time out; then the queue's slots given
 * back.
 */
static void
turn(struct obs *o)
{
	uint64_t held;
	enum event_kind kind;

	if (o->probes)
		probes_consume(o->probes);
	/* arbord stops: what is held goes out as it is (obswatch_stop). */
	if (atomic_load_explicit(&o->a->q->finish, memory_order_acquire))
		join_tick(o->join, UINT64_MAX);
	commit(o);
	if (o->kexit_held && o->a->on_held)
		o->a->on_held(o->a->hook_ctx);
	o->kexit_held = false;
	drain_queue(o);
	/* An exec waits for the kernel's at each start: not a test's point. */
	if (o->a->on_held && join_first_held(o->join, &held, &kind) &&
	    kind != EV_EXEC)
		o->a->on_held(o->a->hook_ctx);
	join_tick(o->join, mono_ns());
	commit(o);
}

/*
 * A worker's dropped lines (its running count) under its label, as
 * histograms are: a supervisor's sums its workers', added as they grow.
 */
static void
log_dropped(struct obs *o, const char *path, uint64_t total)
{
	const char *label = join_label(o->join, path, true);
	struct runq *r;

	if (strcmp(label, path) == 0) {
		reg_set(o->reg, M_LOG_DROPPED, path, NULL, (double)total);
		return;
	}
	r = path_rec(o, path);
	if (total > r->dropped_seen)
		reg_add(o->reg, M_LOG_DROPPED, label, NULL,
		    (double)(total - r->dropped_seen));
	r->dropped_seen = total;
}

/* Worker output's notes: exits' stderr tails, dropped lines. */
void
obs_note(struct obs *o, const struct out_note *t)
{
	struct runq *r;

	if (t->exited) {
		join_tail(o->join, t->pid, t->tail ? t->tail : "", mono_ns());
		commit(o);
		if (t->tail) {
			r = path_rec(o, t->path);
			free(r->tail);
			r->tail = xstrdup(t->tail);
		} else if ((r = *runq_slot(o, t->path))) {
			free(r->tail);
			r->tail = NULL;
		}
	}
	if (t->dropped)
		log_dropped(o, t->path, t->dropped);
}

/* Whether the probes named (a NULL-ended list) are all attached. */
static bool
probes_attached(const char *const *names)
{
	struct probe_state st[16];
	size_t n = probes_states(st, 16);

	for (; *names; names++) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(st[i].name, *names) == 0 &&
			    strcmp(st[i].state, "attached") == 0)
				break;
		if (i == n)
			return false;
	}
	return true;
}

/*
 * The probes mark OOM kills when the exit and oom probes run, and the join
 * waits for the kernel's records (exec and exit run too).
 */
static bool
probes_mark_oom(void)
{
	static const char *const need[] = { "exec", "exit", "oom", NULL };

	return probes_attached(need);
}

/* Reads the probes the core loaded, through the fds it passed. */
static void
load_bpf(struct obs *o)
{
	char err[256];

	if (!o->a->has_probes)
		return;
	if (!(o->probes = probes_adopt(&o->a->pfds, on_record, o, err,
	    sizeof(err)))) {
		log_msg(LOG_ERROR, "observability: the probes' records: %s; running without them",
		    err);
		return;
	}
	o->attached_ns = o->a->attached_ns;
	o->kernel_oom = probes_mark_oom();
}

/* The loop's epoll; -1 with errno and o->setup_failed. */
static int
setup_loop(struct obs *o)
{
	const struct serve_ops serve_ops = { .render = render,
	    .each_path = each_path, .status = status_reply, .line = console_line,
	    .console = console_reply, .ctx = o };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };

	if ((o->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		o->setup_failed = "epoll_create1";
		return -1;
	}
	o->server = server_new(o->epfd, CLIENT_IDS, &serve_ops);
	if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, o->a->wake_fd, &ev) < 0) {
		o->setup_failed = "epoll_ctl (the wake-up eventfd)";
		return -1;
	}
	for (size_t i = 0; i < o->a->nhooks; i++) {
		ev.data.u32 = HOOK_IDS + (uint32_t)i;
		if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, o->a->hook_fd[i],
		    &ev) < 0) {
			o->setup_failed = "epoll_ctl (the helper's own)";
			return -1;
		}
	}
	ev.data.u32 = 2;
	if (o->probes && epoll_ctl(o->epfd, EPOLL_CTL_ADD,
	    probes_fd(o->probes), &ev) < 0) {
		o->setup_failed = "epoll_ctl (the BPF ring buffer)";
		return -1;
	}
	return 0;
}

void
obs_dialed(struct obs *o, int fd)
{
	if (http_console(o->http))
		console_dialed(http_console(o->http), fd);
	else if (fd >= 0)
		close(fd);
}

void
obs_set_evlog(struct obs *o, int fd)
{
	if (o->log)
		eventlog_set_fd(o->log, fd);
	else if (fd >= 0)
		close(fd);
}

void
obs_run(struct obs_args *a)
{
	struct obs *o = xcalloc(1, sizeof(*o));

	o->a = a;
	o->epfd = -1;
	o->sweep_bucket = RUNQ_BUCKETS;
	o->rq_n = -1;
	o->budget_ns = o->a->fig_budget_ns >= 0 ? (uint64_t)o->a->fig_budget_ns :
	    READ_BUDGET_NS;
	o->cold_ns = o->a->fig_cold_ns >= 0 ? (uint64_t)o->a->fig_cold_ns :
	    COLD_BUDGET_NS;
	o->reg = registry_new();
	if (o->a->event_log && *o->a->event_log)
		o->log = eventlog_new(o->a->event_log,
		    o->a->event_log_max_bytes, o->a->evlog_ask, o->a->ctx);
	obs_set_evlog(o, o->a->evlog_fd);
	o->backlog = backlog_new(o->a->sockets);
	o->join = join_new(&join_ops, o);
	load_bpf(o);
	/* The join waits for the kernel's exec and exit records only when
	 * their probes run. */
	{
		static const char *const records[] = { "exec", "exit", NULL };

		join_kernel_side(o->join, o->probes && probes_attached(records),
		    o->attached_ns);
	}
	if (setup_loop(o) < 0) {
		log_msg(LOG_ERROR, "observability: %s: %s", o->setup_failed,
		    strerror(errno));
		return;
	}
	try_http(o);
	/* What waited while it was down, before anything else: the kernel's
	 * records the last one kept, the core's events it had not written
	 * out (their kept records are theirs; any other kept one is of an
	 * event written out already, and is forgotten, so that it cannot
	 * meet a later process of its pid), then the rest. */
	o->qread = o->qcommitted = obsq_resume(o->a->q, &o->qskip);
	if (o->qskip != UINT64_MAX)
		log_msg(LOG_WARN, "observability: the helper died taking the same event at its last %d starts; that event is given up (arbor_events_dropped_total)",
		    OBSQ_RESUME_MAX);
	resume_kept(o);
	drain_queue(o);
	join_forget_unmet(o->join);
	turn(o);
	for (;;) {
		struct epoll_event evs[8];
		int n, t, timeout = join_waiting(o->join) ? 50 : -1;

		if (o->http) {
			t = http_timeout_ms(o->http);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		} else if (o->a->listen_fd >= 0 &&
		    (timeout < 0 || timeout > 1000))
			timeout = 1000;	/* the next try to listen */
		if ((t = server_tick(o->server, mono_ns())) >= 0 &&
		    (timeout < 0 || t < timeout))
			timeout = t;
		if ((t = fig_sweep(o)) >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
		if (http_console(o->http) && (t = console_tick(
		    http_console(o->http), mono_ns())) >= 0 &&
		    (timeout < 0 || t < timeout))
			timeout = t;
		if ((t = eventlog_tick(o->log, mono_ns())) >= 0 &&
		    (timeout < 0 || t < timeout))
			timeout = t;
		if ((t = backlog_tick(o, mono_ns())) >= 0 &&
		    (timeout < 0 || t < timeout))
			timeout = t;

		n = epoll_wait(o->epfd, evs, 8, timeout);
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;

			if (id == 0)
				read_counter(o->a->wake_fd);
			else if (id == 4)
				http_accept(o->http);
			else if (id >= HOOK_IDS && id < HOOK_IDS + o->a->nhooks)
				o->a->on_hook(o, id - HOOK_IDS, o->a->hook_ctx);
			else if (id >= CONSOLE_IDS) {
				if (http_console(o->http))
					console_on_event(http_console(o->http),
					    id);
			} else if (id >= CLIENT_IDS)
				server_on_event(o->server, id, mono_ns());
		}
		if (o->http)
			http_run(o->http);
		else
			try_http(o);
		turn(o);
	}
}
