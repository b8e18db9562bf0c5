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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "obs.h"
#include "clients.h"
#include "eventlog.h"
#include "http.h"
#include "metrics.h"
#include "trace.h"
#include "../bpf/loader.h"
#include "../daemon/event.h"
#include "../daemon/log.h"
#include "../daemon/util.h"

#define JOIN_WAIT_NS (200 * NSEC_PER_MSEC)
#define RECENT_EVENTS 512	/* what `arborctl events` shows first */
#define MAX_FOLLOWERS 16
#define CLIENT_IDS 16	/* epoll ids of clients: 16, 17, ... (0-4 are taken) */
#define HTTP_RETRY_MAX_MS 30000
/* Entries exist for live workers and, for 5 s, kernel-only main processes:
 * the cap only guards against a flood of the latter. */
#define MAX_PROCS (1u << 18)
#define PID_BUCKETS 4096
#define PATH_BUCKETS 4096

/*
 * The event log keeps the core's order: an event waiting for its kernel
 * record holds back those after it (for JOIN_WAIT_NS at most).
 */
struct out {
	json_t *j;		/* NULL while waiting */
	struct out *next;
};

/*
 * What is known of one process, from either side. One lives as long as its
 * worker does, so it stays small: the core's event is copied only while it
 * waits for the kernel's record (for JOIN_WAIT_NS at most).
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
	struct out *exit_out;
	uint64_t deadline;
	struct proc *next;
};

/* What is known of one path across its processes. */
struct path_state {
	char *path;
	uint64_t last_kexit_ns;
	bool restart_pending;
	int live_pid;
	uint64_t *runq;		/* processes gone, added up; NULL: none yet */
	struct path_state *next;	/* all of them */
	struct path_state *hnext;	/* same hash bucket */
};

struct obs {
	struct obs_args *a;
	struct registry *reg;
	struct probes *probes;
	struct eventlog *log;
	struct http *http;
	uint64_t http_retry_at;
	uint32_t http_backoff_ms;
	bool http_said;
	char *recent[RECENT_EVENTS];	/* ring of JSON lines */
	size_t recent_next;
	struct clients *clients;	/* control clients being answered */
	struct trace *trace;
	struct client *trace_client;	/* answered when the trace ends */
	const char *setup_failed;	/* what failed in setup_loop */
	struct proc *procs[PID_BUCKETS];
	size_t nprocs;
	size_t nwaiting;	/* procs whose core event waits for the kernel */
	uint64_t swept_ns;	/* when kernel-only entries were last looked at */
	struct path_state *paths;
	struct path_state *path_buckets[PATH_BUCKETS];
	int epfd, hb_fd;
	uint64_t attached_ns;	/* when BPF was attached; 0: it is not */
	struct out *out_head, **out_tail;
};

static struct proc *
proc_get(struct obs *o, int pid, bool create)
{
	struct proc **b = &o->procs[(unsigned)pid % PID_BUCKETS], *p;

	for (p = *b; p; p = p->next)
		if (p->pid == pid)
			return p;
	if (!create || o->nprocs >= MAX_PROCS)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->seen_ns = mono_ns();
	p->next = *b;
	*b = p;
	o->nprocs++;
	return p;
}

static void
proc_free(struct proc *p)
{
	free(p->path);
	free(p->kexit);
	free(p->exec_msg);
	free(p->exit_msg);
	free(p);
}

static void
proc_drop(struct obs *o, struct proc *p)
{
	struct proc **b = &o->procs[(unsigned)p->pid % PID_BUCKETS];

	for (; *b; b = &(*b)->next)
		if (*b == p) {
			*b = p->next;
			o->nwaiting -= (p->exec_msg != NULL) + (p->exit_msg != NULL);
			proc_free(p);
			o->nprocs--;
			return;
		}
}

static unsigned
path_hash(const char *path)
{
	return fnv1a(FNV1A_INIT, path) % PATH_BUCKETS;
}

static struct path_state *
path_get(struct obs *o, const char *path, bool create)
{
	struct path_state **b = &o->path_buckets[path_hash(path)], *s;

	for (s = *b; s; s = s->hnext)
		if (strcmp(s->path, path) == 0)
			return s;
	if (!create)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->hnext = *b;
	*b = s;
	s->next = o->paths;
	o->paths = s;
	return s;
}

static void
path_free(struct path_state *s)
{
	free(s->path);
	free(s->runq);
	free(s);
}

static void
path_drop(struct obs *o, const char *path)
{
	struct path_state **b = &o->path_buckets[path_hash(path)], *dead;

	for (; *b; b = &(*b)->hnext)
		if (strcmp((*b)->path, path) == 0)
			break;
	if (!(dead = *b))
		return;
	*b = dead->hnext;
	for (struct path_state **p = &o->paths; *p; p = &(*p)->next)
		if (*p == dead) {
			*p = dead->next;
			break;
		}
	path_free(dead);
}

/* An event is final: to the event log, the recent ring, followers, trace. */
static void
write_now(struct obs *o, json_t *j)
{
	char *line = json_dumps(j, JSON_COMPACT);
	size_t len;

	if (!line) {
		json_decref(j);
		return;
	}
	len = strlen(line);
	if (o->log)
		eventlog_write(o->log, line, len);
	if (o->trace)
		trace_event(o->trace, j);
	line = xreallocarray(line, len + 2, 1);
	line[len] = '\n';
	line[len + 1] = '\0';
	clients_broadcast(o->clients, line, len + 1, mono_ns());
	free(o->recent[o->recent_next]);
	o->recent[o->recent_next] = line;
	o->recent_next = (o->recent_next + 1) % RECENT_EVENTS;
	json_decref(j);
}

/* Queues an event in order; with slot, it waits to be filled in. */
static struct out *
queue_out(struct obs *o, json_t *j)
{
	struct out *e = xcalloc(1, sizeof(*e));

	e->j = j;
	*o->out_tail = e;
	o->out_tail = &e->next;
	return e;
}

static void
write_event(struct obs *o, json_t *j)
{
	queue_out(o, j);
}

/* Writes what is ready at the head of the queue. */
static void
flush_out(struct obs *o)
{
	while (o->out_head && o->out_head->j) {
		struct out *e = o->out_head;

		o->out_head = e->next;
		if (!o->out_head)
			o->out_tail = &o->out_head;
		write_now(o, e->j);
		free(e);
	}
}

/* The core's exec event m of p, joined with the kernel's if it came. */
static void
emit_exec(struct obs *o, struct proc *p, const struct obs_msg *m)
{
	json_t *j = msg_to_json(m);
	struct path_state *ps = path_get(o, m->path, true);

	if (p->have_kexec) {
		json_object_set_new(j, "mono_ns", json_integer((json_int_t)p->kexec_ns));
		json_object_set_new(j, "arbord_mono_ns",
		    json_integer((json_int_t)m->mono_ns));
		if (ps->restart_pending && ps->last_kexit_ns &&
		    p->kexec_ns > ps->last_kexit_ns) {
			uint64_t lat = p->kexec_ns - ps->last_kexit_ns;

			json_object_set_new(j, "restart_latency_ns",
			    json_integer((json_int_t)lat));
			reg_observe(o->reg, M_RESTART_LATENCY, ps->path,
			    (double)lat / 1e9);
		}
	}
	ps->restart_pending = false;
	if (p->exec_out) {
		p->exec_out->j = j;
		p->exec_out = NULL;
	} else
		write_event(o, j);
}

/* The exec event that waited: out now, joined or not. */
static void
exec_done(struct obs *o, struct proc *p)
{
	struct obs_msg *m = p->exec_msg;

	p->exec_msg = NULL;
	o->nwaiting--;
	emit_exec(o, p, m);
	free(m);
}

static void
fold_runq(struct obs *o, struct path_state *ps, int pid)
{
	struct arbor_hist h;

	if (!o->probes || probes_runq(o->probes, (uint32_t)pid, &h) < 0)
		return;
	if (!ps->runq)
		ps->runq = xcalloc(ARBOR_HIST_SLOTS, sizeof(*ps->runq));
	for (int k = 0; k < ARBOR_HIST_SLOTS; k++)
		ps->runq[k] += h.slots[k];
	probes_runq_forget(o->probes, (uint32_t)pid);
}

/* The core's exit event m of p, joined with the kernel's; p goes. */
static void
emit_exit(struct obs *o, struct proc *p, const struct obs_msg *m)
{
	json_t *j = msg_to_json(m);
	struct path_state *ps = path_get(o, m->path, true);

	if (p->kexit) {
		const struct arbor_rec *r = p->kexit;

		json_object_set_new(j, "mono_ns", json_integer((json_int_t)r->ts));
		json_object_set_new(j, "arbord_mono_ns",
		    json_integer((json_int_t)m->mono_ns));
		if (m->mono_ns > r->ts)
			reg_observe(o->reg, M_EXIT_DETECT_LATENCY, NULL,
			    (double)(m->mono_ns - r->ts) / 1e9);
		json_object_set_new(j, "oom", json_boolean(r->has_fatal && r->fatal.oom));
		/* The kernel's exit code: 0x80 marks a core dump. */
		json_object_set_new(j, "core_dumped",
		    json_boolean((r->exit_code & 0x7f) && (r->exit_code & 0x80)));
		if (r->has_fatal && !r->fatal.kernel) {
			json_object_set_new(j, "killer_pid",
			    json_integer(r->fatal.sender_pid));
			json_object_set_new(j, "killer_comm",
			    json_text(r->fatal.sender_comm));
		} else if (r->has_fatal) {
			json_object_set_new(j, "killer_pid", json_null());
			json_object_set_new(j, "killer_comm", json_string("kernel"));
		}
		if (r->has_fatal && r->fatal.oom)
			reg_add(o->reg, M_OOM_KILLS, ps->path, NULL, 1);
		ps->last_kexit_ns = r->ts;
	}
	fold_runq(o, ps, p->pid);
	if (ps->live_pid == p->pid)
		ps->live_pid = 0;
	if (p->exit_out) {
		p->exit_out->j = j;
		p->exit_out = NULL;
	} else
		write_event(o, j);
	if (p->exec_out) {
		/* Its exec never met the kernel's: out as the core saw it. */
		p->exec_out->j = msg_to_json(p->exec_msg);
		p->exec_out = NULL;
	}
	proc_drop(o, p);	/* frees m if it was p's */
}

/*
 * Keeps a copy of m in *slot, and its place in the log in *out, while it
 * waits for the kernel's record (JOIN_WAIT_NS at most).
 */
static void
hold(struct obs *o, struct proc *p, struct obs_msg **slot, struct out **out,
    const struct obs_msg *m)
{
	if (*slot)
		free(*slot);
	else
		o->nwaiting++;
	*slot = xcalloc(1, sizeof(**slot));
	**slot = *m;
	p->deadline = mono_ns() + JOIN_WAIT_NS;
	*out = queue_out(o, NULL);
}

static void
on_core_event(struct obs *o, const struct obs_msg *m)
{
	struct proc *p;

	switch (m->event) {
	case EV_SPAWN:
		if ((p = proc_get(o, m->pid, true))) {
			free(p->path);
			p->path = xstrdup(m->path);
			p->spawn_ns = m->mono_ns;
		}
		/* Started before the probes were there: follow it from now. */
		if (o->probes && m->mono_ns < o->attached_ns && kill(m->pid, 0) == 0)
			probes_track(o->probes, m->pid);
		path_get(o, m->path, true)->live_pid = m->pid;
		break;
	case EV_EXEC:
		/* Not up yet: a notify worker is up at READY=1 (EV_READY). */
		if ((p = proc_get(o, m->pid, true))) {
			if (p->have_kexec || !o->probes)
				emit_exec(o, p, m);
			else
				hold(o, p, &p->exec_msg, &p->exec_out, m);
			return;
		}
		break;
	case EV_READY:
		reg_set(o->reg, M_CHILD_UP, m->path, NULL, 1);
		if ((p = proc_get(o, m->pid, false)) && p->have_kexec &&
		    m->mono_ns > p->kexec_ns)
			reg_observe(o->reg, M_READY_LATENCY, m->path,
			    (double)(m->mono_ns - p->kexec_ns) / 1e9);
		else if (p && m->mono_ns > p->spawn_ns)
			reg_observe(o->reg, M_READY_LATENCY, m->path,
			    (double)(m->mono_ns - p->spawn_ns) / 1e9);
		break;
	case EV_EXIT:
		reg_set(o->reg, M_CHILD_UP, m->path, NULL, 0);
		reg_add(o->reg, M_CHILD_EXITS, m->path,
		    exit_reason_name(m->exit.reason), 1);
		if (m->pid > 0 && (p = proc_get(o, m->pid, true))) {
			if (p->kexit || !o->probes)
				emit_exit(o, p, m);
			else
				hold(o, p, &p->exit_msg, &p->exit_out, m);
			return;
		}
		break;
	case EV_RESTART:
		reg_add(o->reg, M_CHILD_RESTARTS, m->path, NULL, 1);
		path_get(o, m->path, true)->restart_pending = true;
		break;
	case EV_GIVE_UP:
		reg_add(o->reg, M_GIVE_UPS, m->path, NULL, 1);
		break;
	case EV_CHILD_REMOVED:
		reg_forget(o->reg, m->path);
		path_drop(o, m->path);
		break;
	default:
		break;
	}
	write_event(o, msg_to_json(m));
}

static void
on_record(void *ctx, const struct arbor_rec *r)
{
	struct obs *o = ctx;
	struct proc *p;

	if (r->tgid != r->worker) {
		/* A descendant: only an OOM kill of it is worth a count. */
		struct proc *w = proc_get(o, (int)r->worker, false);

		if (r->kind == ARBOR_REC_EXIT && r->has_fatal && r->fatal.oom &&
		    w && w->path)
			reg_add(o->reg, M_OOM_KILLS, w->path, NULL, 1);
		return;
	}
	if (!(p = proc_get(o, (int)r->tgid, true)))
		return;
	if (r->kind == ARBOR_REC_EXEC) {
		p->have_kexec = true;
		p->kexec_ns = r->ts;
		if (p->exec_msg)
			exec_done(o, p);
	} else if (r->kind == ARBOR_REC_EXIT) {
		if (!p->kexit)
			p->kexit = xcalloc(1, sizeof(*p->kexit));
		*p->kexit = *r;
		if (p->exit_msg)
			emit_exit(o, p, p->exit_msg);
	}
}

/* Sends what waited too long, and forgets kernel-only entries. */
static void
flush_expired(struct obs *o)
{
	uint64_t now = mono_ns();

	/* A walk over every entry: when something waits, or once a second
	 * for kernel-only entries, not at every wake-up. */
	if (!o->nwaiting && now - o->swept_ns < NSEC_PER_SEC)
		return;
	o->swept_ns = now;
	for (int b = 0; b < PID_BUCKETS; b++)
		for (struct proc *p = o->procs[b], *next; p; p = next) {
			next = p->next;
			if (p->exec_msg && now >= p->deadline)
				exec_done(o, p);
			if (p->exit_msg && now >= p->deadline)
				emit_exit(o, p, p->exit_msg);
			else if (!p->exit_msg && !p->exec_msg &&
			    !p->path && now - p->seen_ns > 5 * NSEC_PER_SEC)
				proc_drop(o, p);	/* never spawned by the core */
		}
}

static bool
anything_waiting(const struct obs *o)
{
	return o->nwaiting > 0;
}

/* The registry's view of things only read on demand. */
static void
refresh(struct obs *o)
{
	struct arbor_hist h;
	uint64_t slots[ARBOR_HIST_SLOTS];

	reg_set(o->reg, M_BPF_ENABLED, NULL, NULL, o->probes ? 1 : 0);
	reg_set(o->reg, M_EVENTS_DROPPED, "core", NULL,
	    (double)atomic_load(&o->a->q->dropped));
	reg_set(o->reg, M_EVENTS_DROPPED, "bpf", NULL,
	    o->probes ? (double)probes_dropped(o->probes) : 0);
	reg_set(o->reg, M_EVENTS_DROPPED, "event_log", NULL,
	    (double)eventlog_dropped(o->log));
	reg_set(o->reg, M_OBS_RESTARTS, NULL, NULL, (double)o->a->restarts);
	if (!o->probes)
		return;
	for (struct path_state *ps = o->paths; ps; ps = ps->next) {
		if (ps->runq)
			memcpy(slots, ps->runq, sizeof(slots));
		else
			memset(slots, 0, sizeof(slots));
		if (ps->live_pid && probes_runq(o->probes,
		    (uint32_t)ps->live_pid, &h) == 0)
			for (int k = 0; k < ARBOR_HIST_SLOTS; k++)
				slots[k] += h.slots[k];
		reg_set_log2(o->reg, M_RUNQ_LATENCY, ps->path, slots,
		    ARBOR_HIST_SLOTS);
	}
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
	registry_format(o->reg, f);
	fclose(f);
	return text;
}

/* One JSON line to c, queued without ever blocking (clients.h). */
static void
send_json(struct obs *o, struct client *c, json_t *reply)
{
	char *line;
	size_t len;

	if (!reply)	/* json_pack refused a value: still answer */
		reply = json_pack("{s:b, s:s}", "ok", 0, "error",
		    "internal error: the reply could not be encoded");
	line = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!line)
		return;
	len = strlen(line);
	line = xreallocarray(line, len + 2, 1);
	line[len] = '\n';
	client_put(o->clients, c, line, len + 1, mono_ns());
	free(line);
}

static void
send_error(struct obs *o, struct client *c, const char *why)
{
	send_json(o, c, json_pack("{s:b, s:s}", "ok", 0, "error", why));
}

/* `arborctl events [--follow]`: the recent ring, then (if following) more. */
static void flush_out(struct obs *);

static void
serve_events(struct obs *o, struct client *c, bool follow)
{
	flush_out(o);	/* what is final already belongs to the recent ones */
	if (follow && clients_followers(o->clients) >= MAX_FOLLOWERS) {
		send_error(o, c, "too many followers");
		client_end(o->clients, c);
		return;
	}
	send_json(o, c, json_pack("{s:b}", "ok", 1));
	for (size_t i = 0; i < RECENT_EVENTS; i++) {
		const char *line = o->recent[(o->recent_next + i) % RECENT_EVENTS];

		if (line)
			client_put(o->clients, c, line, strlen(line), mono_ns());
	}
	if (follow)
		client_follow(c);
	else
		client_end(o->clients, c);
}

/* Answers a control client the core handed over; never blocks. */
static void
serve_client(struct obs *o, const struct obs_msg *m)
{
	struct client *c = clients_add(o->clients, m->fd, mono_ns());
	char *text;
	size_t len;

	if (!c) {
		log_msg(LOG_WARN, "observability: %d clients are being answered; one more was closed",
		    MAX_CLIENTS);
		return;
	}
	if (strcmp(m->request, "metrics") == 0) {
		text = render(o, &len);
		send_json(o, c, json_pack("{s:b, s:s}", "ok", 1, "metrics", text));
		free(text);
	} else if (strcmp(m->request, "events") == 0 ||
	    strcmp(m->request, "events --follow") == 0) {
		serve_events(o, c, strchr(m->request, '-') != NULL);
		return;
	} else if (strncmp(m->request, "trace ", 6) == 0) {
		double secs = atof(m->request + 6);

		if (o->trace)
			send_error(o, c, "a trace is already being recorded");
		else {
			o->trace = trace_start(m->fd, mono_ns(),
			    mono_ns() + (uint64_t)(secs * 1e9));
			o->trace_client = c;
			for (struct path_state *ps = o->paths; ps; ps = ps->next)
				if (ps->live_pid)
					trace_running(o->trace, ps->path);
			return;	/* answered when it ends */
		}
	} else
		send_error(o, c, "unknown request");
	client_end(o->clients, c);
}

/* Ends a trace whose time is up: the client gets it, then is closed. */
static void
check_trace(struct obs *o)
{
	json_t *t;

	if (!o->trace || mono_ns() < trace_end(o->trace))
		return;
	t = trace_finish(o->trace, mono_ns());
	o->trace = NULL;
	send_json(o, o->trace_client, json_pack("{s:b, s:o}", "ok", 1,
	    "trace", t));
	client_end(o->clients, o->trace_client);
	o->trace_client = NULL;
}

/* Listens for scrapes; a taken port is said once and retried with backoff. */
static void
try_http(struct obs *o)
{
	char err[256];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 3 };

	if (o->http || !o->a->metrics_listen || !*o->a->metrics_listen ||
	    mono_ns() < o->http_retry_at)
		return;
	o->http = http_open(o->a->metrics_listen, render, o, err, sizeof(err));
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

static void
drain_queue(struct obs *o)
{
	struct obs_msg m;

	while (obsq_pop(o->a->q, &m)) {
		if (m.kind == OBS_MSG_CLIENT)
			serve_client(o, &m);
		else
			on_core_event(o, &m);
	}
}

/* Loads BPF per the mode; a failure is said once per arbord, never fatal. */
static void
load_bpf(struct obs *o)
{
	static atomic_bool said;
	char err[256];

	if (o->a->bpf == BPF_OFF)
		return;
	if (o->a->fault == OBS_FAULT_BPF)
		snprintf(err, sizeof(err), "injected fault (ARBOR_OBS_FAULT=bpf)");
	else {
		o->probes = probes_open(o->a->tgid, o->a->core_tid, on_record,
		    o, err, sizeof(err));
		if (o->probes) {
			o->attached_ns = mono_ns();
			log_msg(LOG_INFO, "eBPF probes attached");
			return;
		}
	}
	if (o->a->bpf == BPF_ON)
		log_msg(LOG_ERROR, "eBPF unavailable (bpf = \"on\"): %s; supervising without it",
		    err);
	else if (!atomic_exchange(&said, true))
		log_msg(LOG_INFO, "eBPF unavailable: %s; observability runs without it",
		    err);
}

static void
cleanup(void *arg)
{
	struct obs *o = arg;
	uint64_t one = 1;

	probes_close(o->probes);
	eventlog_close(o->log);
	http_close(o->http);
	trace_free(o->trace);	/* its client is closed with the others */
	clients_free(o->clients);
	for (size_t i = 0; i < RECENT_EVENTS; i++)
		free(o->recent[i]);
	registry_free(o->reg);
	for (int b = 0; b < PID_BUCKETS; b++)
		for (struct proc *p = o->procs[b], *n; p; p = n) {
			n = p->next;
			proc_free(p);
		}
	for (struct path_state *s = o->paths, *n; s; s = n) {
		n = s->next;
		path_free(s);
	}
	for (struct out *e = o->out_head, *n; e; e = n) {
		n = e->next;
		json_decref(e->j);
		free(e);
	}
	if (o->epfd >= 0)
		close(o->epfd);
	if (o->hb_fd >= 0)
		close(o->hb_fd);
	(void)!write(o->a->exit_fd, &one, sizeof(one));
	free(o);
}

static void
heartbeat(struct obs *o)
{
	uint64_t n;

	(void)!read(o->hb_fd, &n, sizeof(n));
	timerfd_arm(o->a->stall_fd, OBS_STALL_MS, 0);
}

/* The thread's epoll and heartbeat; -1 with errno and o->setup_failed. */
static int
setup_loop(struct obs *o)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };

	if ((o->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		o->setup_failed = "epoll_create1";
		return -1;
	}
	o->clients = clients_new(o->epfd, CLIENT_IDS);
	if ((o->hb_fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    timerfd_arm(o->hb_fd, OBS_HEARTBEAT_MS, OBS_HEARTBEAT_MS) < 0) {
		o->setup_failed = "the heartbeat timerfd";
		return -1;
	}
	if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, o->a->wake_fd, &ev) < 0) {
		o->setup_failed = "epoll_ctl (the wake-up eventfd)";
		return -1;
	}
	ev.data.u32 = 1;
	if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, o->hb_fd, &ev) < 0) {
		o->setup_failed = "epoll_ctl (the heartbeat)";
		return -1;
	}
	ev.data.u32 = 2;
	if (o->probes && epoll_ctl(o->epfd, EPOLL_CTL_ADD,
	    probes_fd(o->probes), &ev) < 0) {
		o->setup_failed = "epoll_ctl (the BPF ring buffer)";
		return -1;
	}
	return 0;
}

void *
obs_thread_main(void *arg)
{
	struct obs *o = xcalloc(1, sizeof(*o));
	uint64_t start = mono_ns();

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_setname_np(pthread_self(), "arbor-obs");
	o->a = arg;
	o->epfd = o->hb_fd = -1;
	o->out_tail = &o->out_head;
	pthread_cleanup_push(cleanup, o);
	o->reg = registry_new();
	if (o->a->event_log && *o->a->event_log)
		o->log = eventlog_open(o->a->event_log,
		    o->a->event_log_max_bytes, o->a->event_log_keep);
	load_bpf(o);
	if (setup_loop(o) < 0) {
		log_msg(LOG_ERROR, "observability thread: %s: %s; it ends (restarted with backoff, supervision is unaffected)",
		    o->setup_failed, strerror(errno));
		goto out;
	}
	heartbeat(o);
	try_http(o);
	for (;;) {
		struct epoll_event evs[8];
		int n, t, timeout = anything_waiting(o) ? 50 : -1;

		if (o->http) {
			t = http_timeout_ms(o->http);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		} else if (o->a->metrics_listen && *o->a->metrics_listen &&
		    (timeout < 0 || timeout > 1000))
			timeout = 1000;	/* the next try to listen */
		if (o->trace && (timeout < 0 || timeout > 100))
			timeout = 100;
		if ((t = clients_sweep(o->clients, mono_ns())) >= 0 &&
		    (timeout < 0 || t < timeout))
			timeout = t;

		if (o->a->fault != OBS_FAULT_NONE && o->a->fault != OBS_FAULT_BPF &&
		    mono_ns() - start > 200 * NSEC_PER_MSEC) {
			if (o->a->fault == OBS_FAULT_CRASH)
				break;	/* the loop dies */
			pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
			for (;;)	/* the loop stops making progress */
				sleep(3600);
		}
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		n = epoll_wait(o->epfd, evs, 8, o->a->fault ? 50 : timeout);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		for (int i = 0; i < n; i++) {
			uint64_t c;

			if (evs[i].data.u32 == 0)
				(void)!read(o->a->wake_fd, &c, sizeof(c));
			else if (evs[i].data.u32 == 1)
				heartbeat(o);
			else if (evs[i].data.u32 == 4)
				http_accept(o->http);
			else
				clients_on_event(o->clients, evs[i].data.u32,
				    mono_ns());
		}
		if (o->http)
			http_run(o->http);
		else
			try_http(o);
		check_trace(o);
		if (o->probes)
			probes_consume(o->probes);
		drain_queue(o);
		flush_expired(o);
		flush_out(o);
	}
out:
	pthread_cleanup_pop(1);
	return NULL;
}
