/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "../daemon/util.h"

#define PID_BUCKETS 4096
#define PATH_BUCKETS 4096

/* A place in the output order; j is NULL while its event waits. */
struct out {
	json_t *j;
	uint64_t qseq;		/* the core's event's place in its queue */
	enum event_kind event;	/* and its kind */
	struct out *next;
};

/*
 * What is known of one process, from either side. One lives as long as its
 * worker does, so it stays small: the core's event is copied only while it
 * waits for the kernel's record.
 */
struct proc {
	int pid;
	bool have_kexec;
	char *path;		/* from the core's spawn event; NULL: none */
	uint64_t spawn_ns;	/* core time of the spawn */
	uint64_t seen_ns;	/* when this entry was made (for expiry) */
	uint64_t kexec_ns;
	struct arbor_rec *kexit;	/* the kernel's exit, while unjoined */
	struct obs_msg *exec_msg;	/* the core's exec, waiting */
	struct out *exec_out;
	struct obs_msg *exit_msg;	/* the core's exit, waiting */
	char *tail;		/* the output thread's stderr tail, once come */
	struct out *exit_out;
	uint64_t deadline;
	struct proc *next;
};

/* What is known of one path across its processes. */
struct path_state {
	char *path;
	/* The labels of its series and of its histograms: path itself, or
	 * its supervisor's (obs_msg.labels); either may be path. */
	char *series, *hist;
	uint8_t labels;
	bool up;		/* counted in arbor_child_up */
	uint64_t health_seen;	/* failures_total already added to hist */
	uint64_t last_kexit_ns;
	bool restart_pending;
	int live_pid;
	/* Its restart event, held for the peak of its sockets' backlog
	 * (join_backlog); bl_out its place in the order. */
	json_t *bl_ev;
	struct out *bl_out;
	uint64_t bl_peak, bl_deadline, bl_limit;
	bool bl_spawned;	/* the replacement has exec'd */
	bool bl_delayed;	/* its restart waits a backoff first */
	bool bl_ready;		/* the replacement is ready */
	struct path_state *next;	/* all of them */
	struct path_state *hnext;	/* same hash bucket */
};

struct join {
	const struct join_ops *ops;
	void *ctx;
	bool kernel;		/* kernel records come */
	uint64_t attached_ns;
	struct proc *procs[PID_BUCKETS];
	size_t nprocs;
	size_t nwaiting;	/* procs whose core event waits for the kernel */
	size_t nbacklog;	/* restarts waiting for their backlog's peak */
	uint64_t swept_ns;	/* when kernel-only entries were last looked at */
	struct path_state *paths;
	struct path_state *path_buckets[PATH_BUCKETS];
	struct out *out_head, **out_tail;
	uint64_t qseq;		/* the core's event being taken (obs_msg.qseq) */
	enum event_kind event;	/* and its kind */
};

struct join *
join_new(const struct join_ops *ops, void *ctx)
{
	struct join *j = xcalloc(1, sizeof(*j));

	j->ops = ops;
	j->ctx = ctx;
	j->out_tail = &j->out_head;
	return j;
}

void
join_kernel_side(struct join *j, bool on, uint64_t attached_ns)
{
	j->kernel = on;
	j->attached_ns = attached_ns;
}

bool
join_kernel_side_on(const struct join *j)
{
	return j->kernel;
}

void
join_forget_unmet(struct join *j)
{
	for (int b = 0; b < PID_BUCKETS; b++)
		for (struct proc *p = j->procs[b]; p; p = p->next) {
			if (p->kexit && !p->exit_msg) {
				free(p->kexit);
				p->kexit = NULL;
			}
			/* One read again met its exec, or went out with
			 * it, and has its path: that one is kept. */
			if (p->have_kexec && !p->exec_msg && !p->path)
				p->have_kexec = false;
		}
}

bool
join_first_held(const struct join *j, uint64_t *qseq, enum event_kind *event)
{
	if (!j->out_head)
		return false;
	*qseq = j->out_head->qseq;
	if (event)
		*event = j->out_head->event;
	return true;
}

size_t
join_nprocs(const struct join *j)
{
	return j->nprocs;
}

bool
join_waiting(const struct join *j)
{
	return j->nwaiting > 0 || j->nbacklog > 0;
}

bool
join_backlog_wanted(const struct join *j)
{
	return j->nbacklog > 0;
}

static struct proc *
proc_get(struct join *j, int pid, bool create, uint64_t now)
{
	struct proc **b = &j->procs[(unsigned)pid % PID_BUCKETS], *p;

	for (p = *b; p; p = p->next)
		if (p->pid == pid)
			return p;
	if (!create || j->nprocs >= JOIN_MAX_PROCS)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->seen_ns = now;
	p->next = *b;
	*b = p;
	j->nprocs++;
	return p;
}

bool
join_kexit_waits(struct join *j, int pid)
{
	const struct proc *p = proc_get(j, pid, false, 0);

	return p && p->kexit && !p->exit_msg;
}

static void
proc_free(struct proc *p)
{
	free(p->path);
	free(p->kexit);
	free(p->exec_msg);
	free(p->exit_msg);
	free(p->tail);
	free(p);
}

static void
proc_drop(struct join *j, struct proc *p)
{
	struct proc **b = &j->procs[(unsigned)p->pid % PID_BUCKETS];

	for (; *b; b = &(*b)->next)
		if (*b == p) {
			*b = p->next;
			j->nwaiting -= (p->exec_msg != NULL) + (p->exit_msg != NULL);
			proc_free(p);
			j->nprocs--;
			return;
		}
}

static unsigned
path_hash(const char *path)
{
	return fnv1a(FNV1A_INIT, path) % PATH_BUCKETS;
}

static struct path_state *
path_get(struct join *j, const char *path)
{
	struct path_state **b = &j->path_buckets[path_hash(path)], *s;

	for (s = *b; s; s = s->hnext)
		if (strcmp(s->path, path) == 0)
			return s;
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->hnext = *b;
	*b = s;
	s->next = j->paths;
	j->paths = s;
	return s;
}

static void
labels_free(struct path_state *s)
{
	if (s->series != s->path)
		free(s->series);
	if (s->hist != s->path && s->hist != s->series)
		free(s->hist);
}

/* The supervisor's path of path ("root/pool/3" -> "root/pool"). */
static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return xasprintf("%.*s", slash ? (int)(slash - path) : (int)strlen(path),
	    path);
}

/* The state of m's path, labelled as m says. */
static struct path_state *
path_of(struct join *j, const struct obs_msg *m)
{
	struct path_state *s = path_get(j, m->path);

	if (s->series && s->labels == m->labels)
		return s;
	labels_free(s);
	s->labels = m->labels;
	s->series = m->labels & OBS_LABEL_POOLED ? parent_of(s->path) : s->path;
	s->hist = !(m->labels & OBS_LABEL_HIST_PARENT) ? s->path :
	    s->series != s->path ? s->series : parent_of(s->path);
	return s;
}

static void
path_free(struct path_state *s)
{
	json_decref(s->bl_ev);
	labels_free(s);
	free(s->path);
	free(s);
}

/* The state of path and of every path below it (a removed supervisor's). */
static void
path_drop(struct join *j, const char *path)
{
	for (struct path_state **p = &j->paths; *p;) {
		struct path_state *dead = *p, **b;

		if (!path_within(dead->path, path)) {
			p = &dead->next;
			continue;
		}
		*p = dead->next;
		for (b = &j->path_buckets[path_hash(dead->path)]; *b != dead;)
			b = &(*b)->hnext;
		*b = dead->hnext;
		path_free(dead);
	}
}

const char *
join_label(const struct join *j, const char *path, bool hist)
{
	const struct path_state *s = j->path_buckets[path_hash(path)];

	/* Looked up, never made: a path no event labelled is its own label. */
	while (s && strcmp(s->path, path) != 0)
		s = s->hnext;
	if (!s || !s->series)
		return path;
	return hist ? s->hist : s->series;
}

void
join_each_path(const struct join *j,
    void (*fn)(void *arg, const char *path, int live_pid), void *arg)
{
	for (const struct path_state *s = j->paths; s; s = s->next)
		fn(arg, s->path, s->live_pid);
}

/* A place in the output order; with j NULL, it waits to be filled in. */
static struct out *
queue_out(struct join *j, json_t *ev)
{
	struct out *e = xcalloc(1, sizeof(*e));

	e->j = ev;
	e->qseq = j->qseq;
	e->event = j->event;
	*j->out_tail = e;
	j->out_tail = &e->next;
	return e;
}

/* Sends what is ready at the head of the order. */
static void
flush_out(struct join *j)
{
	while (j->out_head && j->out_head->j) {
		struct out *e = j->out_head;

		j->out_head = e->next;
		if (!j->out_head)
			j->out_tail = &j->out_head;
		j->ops->emit(j->ctx, e->j);
		free(e);
	}
}

/* ev goes out in its place: at *out when it waited, else last. */
static void
place(struct join *j, struct out **out, json_t *ev)
{
	if (*out) {
		(*out)->j = ev;
		*out = NULL;
	} else
		queue_out(j, ev);
}

/* The core's exec event m of p, joined with the kernel's if it came. */
static void
emit_exec(struct join *j, struct proc *p, const struct obs_msg *m)
{
	json_t *ev = msg_to_json(m);
	struct path_state *ps = path_of(j, m);

	if (p->have_kexec) {
		json_object_set_new(ev, "mono_ns", json_integer((json_int_t)p->kexec_ns));
		json_object_set_new(ev, "arbord_mono_ns",
		    json_integer((json_int_t)m->mono_ns));
		if (ps->restart_pending && ps->last_kexit_ns &&
		    p->kexec_ns > ps->last_kexit_ns) {
			uint64_t lat = p->kexec_ns - ps->last_kexit_ns;

			json_object_set_new(ev, "restart_latency_ns",
			    json_integer((json_int_t)lat));
			j->ops->observe(j->ctx, M_RESTART_LATENCY, ps->hist,
			    (double)lat / 1e9);
		}
	}
	ps->restart_pending = false;
	place(j, &p->exec_out, ev);
}

/* The exec event that waited: out now, joined or not. */
static void
exec_done(struct join *j, struct proc *p)
{
	struct obs_msg *m = p->exec_msg;

	p->exec_msg = NULL;
	j->nwaiting--;
	emit_exec(j, p, m);
	free(m);
}

/* What the kernel's exit record r adds to the core's exit event ev. */
static void
add_kernel_exit(struct join *j, json_t *ev, const struct arbor_rec *r,
    const struct obs_msg *m, struct path_state *ps)
{
	json_object_set_new(ev, "mono_ns", json_integer((json_int_t)r->ts));
	json_object_set_new(ev, "arbord_mono_ns",
	    json_integer((json_int_t)m->mono_ns));
	if (m->mono_ns > r->ts)
		j->ops->observe(j->ctx, M_EXIT_DETECT_LATENCY, NULL,
		    (double)(m->mono_ns - r->ts) / 1e9);
	json_object_set_new(ev, "oom", json_boolean(r->has_fatal && r->fatal.oom));
	/* The kernel's exit code: 0x80 marks a core dump. */
	json_object_set_new(ev, "core_dumped",
	    json_boolean((r->exit_code & 0x7f) && (r->exit_code & 0x80)));
	if (r->has_fatal && !r->fatal.kernel) {
		/* 0: a sender outside arbord's PID namespace. */
		json_object_set_new(ev, "killer_pid", r->fatal.sender_pid ?
		    json_integer(r->fatal.sender_pid) : json_null());
		json_object_set_new(ev, "killer_comm",
		    json_text(r->fatal.sender_comm));
	} else if (r->has_fatal) {
		json_object_set_new(ev, "killer_pid", json_null());
		json_object_set_new(ev, "killer_comm", json_string("kernel"));
	}
	if (r->has_fatal && r->fatal.oom)
		j->ops->add(j->ctx, M_OOM_KILLS, ps->hist, NULL, 1);
	ps->last_kexit_ns = r->ts;
}

static void count_exit(struct join *, const struct obs_msg *, bool oom);

/* The core's exit event m of p, joined with the kernel's; p goes. */
static void
emit_exit(struct join *j, struct proc *p, const struct obs_msg *m)
{
	json_t *ev = msg_to_json(m);
	struct path_state *ps = path_of(j, m);

	if (p->kexit)
		add_kernel_exit(j, ev, p->kexit, m, ps);
	if (m->event == EV_EXIT)
		count_exit(j, m, m->oom ||
		    (p->kexit && p->kexit->has_fatal && p->kexit->fatal.oom));
	if (p->tail && *p->tail)
		json_object_set_new(ev, "stderr_tail", json_text(p->tail));
	else if (m->event == EV_EXIT && m->tail)
		/* It wrote on stderr, and the output helper (down, or behind)
		 * did not hand its last lines on in time, or lost them (the
		 * one that read them died). */
		json_object_set_new(ev, "stderr_tail_missing", json_true());
	j->ops->proc_gone(j->ctx, ps->path, p->pid);
	if (ps->live_pid == p->pid)
		ps->live_pid = 0;
	place(j, &p->exit_out, ev);
	if (p->exec_out) {
		/* Its exec never met the kernel's: out as the core saw it. */
		p->exec_out->j = msg_to_json(p->exec_msg);
		p->exec_out = NULL;
	}
	proc_drop(j, p);	/* frees m if it was p's */
}

/*
 * Keeps a copy of m in *slot, and its place in the order in *out, while
 * it waits for the kernel's record (JOIN_WAIT_NS at most).
 */
static void
hold(struct join *j, struct proc *p, struct obs_msg **slot,
    struct out **out, const struct obs_msg *m, uint64_t now)
{
	if (*slot) {
		/*
		 * A second one before the first met the kernel's record (a
		 * reused pid): the first goes out as the core saw it, in its
		 * place, or its empty place would hold every event after it.
		 */
		if (*out)
			(*out)->j = msg_to_json(*slot);
		free(*slot);
	} else
		j->nwaiting++;
	*slot = xcalloc(1, sizeof(**slot));
	**slot = *m;
	p->deadline = now + JOIN_WAIT_NS;
	*out = queue_out(j, NULL);
}

/* Whether the exit m of p has what it waits for: the kernel's record
 * (when one comes) and its stderr tail (when one comes). */
static bool
exit_complete(const struct join *j, const struct proc *p,
    const struct obs_msg *m)
{
	return (!j->kernel || p->kexit) && (!m->tail || p->tail);
}

/* The core's exec or exit m of p: out now if its kernel record came (or
 * none will), else held for it. */
static void
take_or_hold(struct join *j, struct proc *p, const struct obs_msg *m,
    uint64_t now)
{
	bool exec = m->event == EV_EXEC;

	if (exec ? !j->kernel || p->have_kexec : exit_complete(j, p, m))
		(exec ? emit_exec : emit_exit)(j, p, m);
	else if (exec)
		hold(j, p, &p->exec_msg, &p->exec_out, m, now);
	else
		hold(j, p, &p->exit_msg, &p->exit_out, m, now);
}

/*
 * An exit in arbor_child_exits_total, by reason: "oom" when the OOM killer
 * ended the worker's main process (the kernel's record says it, or the
 * cgroup's count), else the engine's reason.
 */
static void
count_exit(struct join *j, const struct obs_msg *m, bool oom)
{
	j->ops->add(j->ctx, M_CHILD_EXITS, path_of(j, m)->series,
	    oom ? "oom" : exit_reason_name(m->exit.reason), 1);
}

/*
 * The counters and gauges an event moves, whatever the join does. A pooled
 * child's go under its supervisor, summed: its up is added and taken back.
 * Health failures and OOM kills are labelled as histograms are (rare
 * incidents; the event says which worker): summed, they are added as they
 * grow.
 */
static void
count(struct join *j, const struct obs_msg *m)
{
	struct path_state *ps;
	bool pooled = m->labels & OBS_LABEL_POOLED;

	switch (m->event) {
	case EV_EXIT:
	case EV_READY:
	case EV_RESTART:
	case EV_HEALTH:
		ps = path_of(j, m);
		break;
	case EV_GIVE_UP:
		j->ops->add(j->ctx, M_GIVE_UPS, m->path, NULL, 1);
		return;
	default:
		return;
	}
	switch (m->event) {
	case EV_EXIT:
		if (!pooled)
			j->ops->set(j->ctx, M_CHILD_UP, ps->series, NULL, 0);
		else if (ps->up)
			j->ops->add(j->ctx, M_CHILD_UP, ps->series, NULL, -1);
		ps->up = false;
		/* Counted when the kernel's record is joined (an OOM kill is
		 * its own reason), unless no join will be made. */
		if (m->quiet || m->pid <= 0)
			count_exit(j, m, m->oom);
		break;
	case EV_READY:
		if (!pooled)
			j->ops->set(j->ctx, M_CHILD_UP, ps->series, NULL, 1);
		else if (!ps->up)
			j->ops->add(j->ctx, M_CHILD_UP, ps->series, NULL, 1);
		ps->up = true;
		break;
	case EV_RESTART:
		j->ops->add(j->ctx, M_CHILD_RESTARTS, ps->series, NULL, 1);
		break;
	default:	/* EV_HEALTH */
		/* Set from the engine's running count: an observability
		 * restart loses nothing. */
		if (!m->failures_total)
			break;
		if (ps->hist == ps->path)
			j->ops->set(j->ctx, M_HEALTH_FAILURES, ps->path, NULL,
			    (double)m->failures_total);
		else if (m->failures_total > ps->health_seen)
			j->ops->add(j->ctx, M_HEALTH_FAILURES, ps->hist, NULL,
			    (double)(m->failures_total - ps->health_seen));
		ps->health_seen = m->failures_total;
		break;
	}
}

static void
ready_latency(struct join *j, const struct obs_msg *m, uint64_t now)
{
	struct proc *p = proc_get(j, m->pid, false, now);
	const char *label = path_of(j, m)->hist;

	if (p && p->have_kexec && m->mono_ns > p->kexec_ns)
		j->ops->observe(j->ctx, M_READY_LATENCY, label,
		    (double)(m->mono_ns - p->kexec_ns) / 1e9);
	else if (p && m->mono_ns > p->spawn_ns)
		j->ops->observe(j->ctx, M_READY_LATENCY, label,
		    (double)(m->mono_ns - p->spawn_ns) / 1e9);
}

/*
 * The replacement has exec'd: sampled from now on, for JOIN_BACKLOG_WAIT_NS
 * at least (a slow start is waited out that long, whatever the backoff
 * took), within JOIN_BACKLOG_HOLD_MAX_NS of the restart.
 */
static void
backlog_spawned(struct path_state *ps, uint64_t now)
{
	uint64_t until = now + JOIN_BACKLOG_WAIT_NS;

	ps->bl_spawned = true;
	if (!ps->bl_ev || until <= ps->bl_deadline)
		return;
	ps->bl_deadline = until < ps->bl_limit ? until : ps->bl_limit;
}

/* The held restart event of ps goes out in its place, with its peak. */
static void
backlog_done(struct join *j, struct path_state *ps)
{
	if (!ps->bl_ev)
		return;
	json_object_set_new(ps->bl_ev, "backlog_peak",
	    json_integer((json_int_t)ps->bl_peak));
	place(j, &ps->bl_out, ps->bl_ev);
	ps->bl_ev = NULL;
	j->nbacklog--;
}

/*
 * A restart of a worker whose sockets arbord holds: held until the
 * replacement is ready and the backlog has drained, or JOIN_BACKLOG_WAIT_NS.
 */
static bool
backlog_hold(struct join *j, struct path_state *ps, const struct obs_msg *m,
    uint64_t now)
{
	if (!j->ops->has_backlog || !j->ops->has_backlog(j->ctx, ps->series))
		return false;
	backlog_done(j, ps);	/* one before it, still held */
	ps->bl_ev = msg_to_json(m);
	ps->bl_out = queue_out(j, NULL);
	ps->bl_peak = 0;
	ps->bl_ready = false;
	ps->bl_spawned = false;
	ps->bl_delayed = m->delay_ms > 0;
	/* A backoff is waited out too, up to JOIN_BACKLOG_HOLD_MAX_NS in
	 * all: the events behind it wait as long. */
	ps->bl_deadline = now + (uint64_t)m->delay_ms * 1000000ULL +
	    JOIN_BACKLOG_WAIT_NS;
	ps->bl_limit = now + JOIN_BACKLOG_HOLD_MAX_NS;
	if (ps->bl_deadline > ps->bl_limit)
		ps->bl_deadline = ps->bl_limit;
	j->nbacklog++;
	return true;
}

void
join_backlog(struct join *j, const char *owner, uint64_t depth, uint64_t now)
{
	for (struct path_state *ps = j->paths; ps && j->nbacklog; ps = ps->next) {
		if (!ps->bl_ev || !ps->series || strcmp(ps->series, owner) != 0)
			continue;
		if (depth > ps->bl_peak)
			ps->bl_peak = depth;
		if ((ps->bl_ready && depth == 0) || now >= ps->bl_deadline)
			backlog_done(j, ps);
	}
	flush_out(j);
}

/*
 * Sampled from the replacement's exec on, every millisecond: the queue
 * only grows before (nobody accepts), so the gap itself, arbord's work
 * against a helper waking each millisecond on two CPUs, is left alone.
 * Through a backoff, every 10 ms.
 */
int
join_backlog_period_ms(const struct join *j)
{
	int period = -1;

	for (const struct path_state *ps = j->paths; ps && j->nbacklog;
	    ps = ps->next)
		if (ps->bl_ev && ps->bl_spawned)
			return 1;
		else if (ps->bl_ev && ps->bl_delayed)
			period = 10;
	return period;
}

void
join_each_backlog(const struct join *j, void (*fn)(void *, const char *),
    void *arg)
{
	for (const struct path_state *ps = j->paths; ps && j->nbacklog;
	    ps = ps->next)
		if (ps->bl_ev && ps->series && (ps->bl_spawned || ps->bl_delayed))
			fn(arg, ps->series);
}

void
join_core(struct join *j, const struct obs_msg *m, uint64_t now)
{
	struct proc *p;

	j->qseq = m->qseq;
	j->event = m->event;
	count(j, m);
	if (m->quiet)
		return;		/* a counter's move, not an event */
	switch (m->event) {
	case EV_SPAWN:
		if ((p = proc_get(j, m->pid, true, now))) {
			/* An exit of an earlier process of that pid, left
			 * unjoined (kept by a helper that died): not this
			 * one's. */
			uint64_t born = m->clone_ns ? m->clone_ns : m->mono_ns;

			if (p->kexit && p->kexit->ts < born) {
				free(p->kexit);
				p->kexit = NULL;
			}
			if (p->have_kexec && p->kexec_ns < born)
				p->have_kexec = false;
			free(p->path);
			p->path = xstrdup(m->path);
			p->spawn_ns = m->mono_ns;
		}
		/* Started before the probes were there: follow it from now. */
		if (j->kernel && m->mono_ns < j->attached_ns)
			j->ops->track(j->ctx, m->pid);
		path_of(j, m)->live_pid = m->pid;
		backlog_spawned(path_of(j, m), now);
		break;
	case EV_EXEC:	/* not up yet: a notify worker is up at EV_READY */
	case EV_EXIT:
		if (m->pid > 0 && (p = proc_get(j, m->pid, true, now))) {
			take_or_hold(j, p, m, now);
			flush_out(j);
			return;
		}
		if (m->event == EV_EXIT && m->pid > 0)
			count_exit(j, m, m->oom);
		break;
	case EV_READY:
		ready_latency(j, m, now);
		path_of(j, m)->bl_ready = true;
		break;
	case EV_RESTART:
		path_of(j, m)->restart_pending = true;
		if (backlog_hold(j, path_of(j, m), m, now)) {
			flush_out(j);
			return;
		}
		break;
	case EV_CHILD_REMOVED:
		for (struct path_state *ps = j->paths; ps; ps = ps->next)
			if (path_within(ps->path, m->path))
				backlog_done(j, ps);
		j->ops->forget(j->ctx, m->path);
		path_drop(j, m->path);
		break;
	default:
		break;
	}
	queue_out(j, msg_to_json(m));
	flush_out(j);
}

void
join_kernel(struct join *j, const struct arbor_rec *r, uint64_t now)
{
	struct proc *p;

	if (r->tgid != r->worker) {
		/* A descendant: only an OOM kill of it is worth a count. */
		struct proc *w = proc_get(j, (int)r->worker, false, now);
		const struct path_state *ws;

		if (r->kind == ARBOR_REC_EXIT && r->has_fatal && r->fatal.oom &&
		    w && w->path) {
			ws = path_get(j, w->path);
			j->ops->add(j->ctx, M_OOM_KILLS,
			    ws->hist ? ws->hist : ws->path, NULL, 1);
		}
		return;
	}
	if (!(p = proc_get(j, (int)r->tgid, true, now)))
		return;
	if (r->kind == ARBOR_REC_EXEC) {
		/* An exit before this exec is of an earlier process of the
		 * pid (one a dead helper kept, left unjoined). */
		if (p->kexit && p->kexit->ts < r->ts && !p->exit_msg) {
			free(p->kexit);
			p->kexit = NULL;
		}
		p->have_kexec = true;
		p->kexec_ns = r->ts;
		if (p->exec_msg)
			exec_done(j, p);
	} else if (r->kind == ARBOR_REC_EXIT) {
		if (!p->kexit)
			p->kexit = xcalloc(1, sizeof(*p->kexit));
		*p->kexit = *r;
		/* Now, not when the exit goes out (it may wait for its tail
		 * past its replacement's exec): the restart latency runs from
		 * here. */
		if (p->path)
			path_get(j, p->path)->last_kexit_ns = r->ts;
		if (p->exit_msg && exit_complete(j, p, p->exit_msg))
			emit_exit(j, p, p->exit_msg);
	}
	flush_out(j);
}

void
join_tail(struct join *j, int pid, const char *tail, uint64_t now)
{
	struct proc *p;

	if (pid <= 0 || !(p = proc_get(j, pid, true, now)))
		return;
	free(p->tail);
	p->tail = xstrdup(tail);
	if (p->exit_msg && exit_complete(j, p, p->exit_msg))
		emit_exit(j, p, p->exit_msg);
	flush_out(j);
}

void
join_tick(struct join *j, uint64_t now)
{
	/* A walk over every entry: when something waits, or once a second
	 * for kernel-only entries, not at every wake-up. */
	for (struct path_state *ps = j->paths; ps && j->nbacklog; ps = ps->next)
		if (ps->bl_ev && now >= ps->bl_deadline)
			backlog_done(j, ps);
	if (!j->nwaiting && now - j->swept_ns < NSEC_PER_SEC) {
		flush_out(j);
		return;
	}
	j->swept_ns = now;
	for (int b = 0; b < PID_BUCKETS; b++)
		for (struct proc *p = j->procs[b], *next; p; p = next) {
			next = p->next;
			if (p->exec_msg && now >= p->deadline)
				exec_done(j, p);
			if (p->exit_msg && now >= p->deadline)
				emit_exit(j, p, p->exit_msg);
			else if (!p->exit_msg && !p->exec_msg && !p->path &&
			    now - p->seen_ns > JOIN_FORGET_NS)
				proc_drop(j, p);	/* never spawned by the core */
		}
	flush_out(j);
}

void
join_free(struct join *j)
{
	if (!j)
		return;
	for (int b = 0; b < PID_BUCKETS; b++)
		for (struct proc *p = j->procs[b], *n; p; p = n) {
			n = p->next;
			proc_free(p);
		}
	for (struct path_state *s = j->paths, *n; s; s = n) {
		n = s->next;
		path_free(s);
	}
	for (struct out *e = j->out_head, *n; e; e = n) {
		n = e->next;
		json_decref(e->j);
		free(e);
	}
	free(j);
}
