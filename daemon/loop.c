/* SPDX-License-Identifier: BSD-2-Clause */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "../config/webconf.h"
#include "capture.h"
#include "cgroup.h"
#include "control.h"
#include "event.h"
#include "health.h"
#include "helper.h"
#include "jw.h"
#include "held.h"
#include "loop.h"
#include "notify.h"
#include "obswatch.h"
#include "reactor.h"
#include "spawn.h"
#include "util.h"

/* A worker's main process, watched through its pidfd. */
struct proc {
	struct watch w;
	struct loop *loop;
	pid_t pid;
	struct enode *node;
	struct proc *prev, *next;
	struct pid_link pid_link;	/* in the loop's pid index */
	bool exited;		/* status and sig are known */
	int status, sig;
	/* Its cgroup still held processes, being killed: reaped, waiting. */
	bool draining;
	struct watch drain;	/* the cgroup's cgroup.events, EPOLLPRI */
	struct watch ready;	/* ready = "fd": the pipe's read end; -1 */
};

/*
 * Events of an exit (exit, restart, spawn, exec) wait in the loop until
 * the hand-off (HANDOFF_DELAY_NS after the replacement's spawn): formatting
 * a log line and queueing an event is no reason to start it later, nor to
 * take the CPU it is being loaded on. In order: any other event or log
 * line first sends them on. At most this many wait (a one_for_all of many
 * sends them on in batches).
 */
#define DEFERRED_MAX 16

/*
 * A batch that spawned a worker hands its log lines and events to their
 * readers (arbord's log writer, the observability helper) this much later,
 * not at its end: woken then, they would run while the new process is
 * being loaded, on a CPU it needs (a vfork wakes arbord on the child's
 * CPU, and the wake-ups are arbord's own dearest system calls after the
 * clone). Batches of spawns share one delay; a queue a quarter full is
 * handed on at once.
 */
#define HANDOFF_DELAY_NS (10 * NSEC_PER_MSEC)

struct loop {
	struct reactor *r;
	struct obs_msg *deferred;	/* DEFERRED_MAX, made at first use */
	size_t ndeferred;
	bool deferring;
	bool flushing;		/* deferred_flush is sending them */
	/* procs by pid (proc_find: for each child reaped). */
	struct pid_index pids;
	struct watch sigw;
	struct watch timerw;
	uint64_t armed;		/* deadline the timerfd holds */
	int devnull;
	struct spec *spec;
	const char *config_file;
	struct engine *eng;
	struct control *ctl;
	struct notify *notify;
	struct obswatch *obs;
	struct cgroups *cg;	/* NULL: process groups */
	struct capture *cap;	/* worker output */
	struct health *health;	/* health checks */
	struct helpers *helpers;	/* helper processes (helper.c) */
	struct held *held;	/* sockets and fd stores (held.c) */
	pid_t tail_pid;		/* the exit being reported has a stderr tail */
	/* What the worker being spawned gets beyond 0-2 (spawn_pass_for). */
	struct spawn_pass pass;
	int pass_fds[HELD_PASS_MAX];
	char pass_names[HELD_NAMES_MAX + 1];
	size_t ndraining;
	struct proc *procs;
	size_t nprocs;
	uint64_t reap_at;	/* orphan scan due (0: none) */
	bool spawned;		/* this batch started a worker */
	uint64_t handoff_at;	/* held lines and events due (0: none) */
	bool handoff_due;
	uint64_t clone_ns, spawned_ns;	/* the last spawn's (obs_msg) */
	struct spawn_times spawn_times;	/* its child's */
	bool said_signal[_NSIG];	/* ignored signals, logged once */
	bool done;
	int exit_code;
	/* arbord's own supervisor (systemd Type=notify): NULL when none. */
	char *notify_self;
	bool ready_sent;
	char status_sent[128];
	uint64_t status_at;
};

/*
 * Orphans (descendants re-parented to arbord) are reaped with
 * waitid(P_ALL), which the kernel answers by walking all of arbord's
 * children. With few workers that is done at each SIGCHLD; with many, at
 * most once per REAP_DELAY_NS, so a storm of exits (each one handled through
 * its pidfd anyway) does not cost a walk over every worker per exit.
 */
#define REAP_NOW_MAX 64
#define REAP_DELAY_NS (50 * NSEC_PER_MSEC)

/* One datagram to arbord's own supervisor ("@name" is abstract). */
static void
notify_self(struct loop *l, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!l->notify_self || strlen(l->notify_self) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, l->notify_self);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(l->notify_self));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    len) < 0)
		log_msg(LOG_WARN, "NOTIFY_SOCKET %s: %s", l->notify_self,
		    strerror(errno));
	close(fd);
}

static void
count_workers(const struct enode *n, unsigned *running, unsigned *all,
    unsigned long *restarts)
{
	if (enode_is_supervisor(n)) {
		for (size_t i = 0; i < enode_nchildren(n); i++)
			count_workers(enode_child(n, i), running, all, restarts);
		return;
	}
	(*all)++;
	*running += enode_state(n) == NS_RUNNING;
	*restarts += enode_restarts(n);
}

/*
 * READY=1 once the whole tree has started, then STATUS= when the summary
 * changes, at most once a second: O(workers), so never per event.
 */
static void
update_notify_self(struct loop *l)
{
	unsigned running = 0, all = 0;
	unsigned long restarts = 0;
	char status[128], msg[160];
	uint64_t now;

	if (!l->notify_self || engine_stopping(l->eng))
		return;
	now = mono_ns();
	if (l->ready_sent && now - l->status_at < NSEC_PER_SEC)
		return;
	if (!l->ready_sent && !engine_started(l->eng))
		return;
	count_workers(engine_root(l->eng), &running, &all, &restarts);
	snprintf(status, sizeof(status), "%u/%u workers running, %lu restarts",
	    running, all, restarts);
	if (l->ready_sent && strcmp(status, l->status_sent) == 0)
		return;
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", l->ready_sent ? "" :
	    "READY=1\n", status);
	notify_self(l, msg);
	l->ready_sent = true;
	snprintf(l->status_sent, sizeof(l->status_sent), "%s", status);
	l->status_at = now;
}

static void
loop_shutdown(struct loop *l, const char *why)
{
	if (engine_stopping(l->eng)) {
		log_msg(LOG_INFO, "%s: shutdown already in progress", why);
		return;
	}
	log_msg(LOG_INFO, "%s: orderly shutdown", why);
	notify_self(l, "STOPPING=1\nSTATUS=stopping the tree");
	engine_shutdown(l->eng, mono_ns());
}

static struct proc *
proc_find(struct loop *l, pid_t pid)
{
	for (struct pid_link *k = pid_index_bucket(&l->pids, pid); k; k = k->next)
		if (k->pid == pid)
			return container_of(k, struct proc, pid_link);
	return NULL;
}

static void
proc_free(void *p)
{
	free(p);
}

static void
proc_unlink(struct loop *l, struct proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		l->procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	pid_index_del(&l->pids, &p->pid_link);
	l->nprocs--;
	reactor_defer_free(l->r, p, proc_free);
}

static void deferred_flush(struct loop *);

/* The worker is over: its main process reaped, its cgroup empty. */
static void
proc_done(struct loop *l, struct proc *p)
{
	proc_unlink(l, p);
	if (enode_pid(p->node) != p->pid)
		return;
	/* Where its output ends, before a replacement writes. */
	l->tail_pid = capture_exited(l->cap, p->node, p->pid) ? p->pid : 0;
	l->deferring = true;
	engine_exited(l->eng, p->node, p->status, p->sig, mono_ns());
	l->deferring = false;
	l->tail_pid = 0;
}

static void
on_drained(void *owner, uint32_t events)
{
	struct proc *p = owner;
	struct loop *l = p->loop;

	(void)events;
	if (!cgroups_empty(p->drain.fd))
		return;
	reactor_unwatch(l->r, &p->drain);
	close(p->drain.fd);
	p->draining = false;
	l->ndraining--;
	cgroups_renew(l->cg, p->node);
	proc_done(l, p);
}

static void
ready_pipe_close(struct loop *l, struct proc *p)
{
	if (p->ready.fd < 0)
		return;
	reactor_unwatch(l->r, &p->ready);
	close(p->ready.fd);
	p->ready.fd = -1;
}

/*
 * ready = "fd": a newline on the pipe says the worker is ready (s6's
 * notification-fd); then the pipe is closed. Its end without one (the
 * worker closed it, or exited) says nothing: ready_timeout decides.
 */
static void
on_ready_pipe(void *owner, uint32_t events)
{
	struct proc *p = owner;
	struct loop *l = p->loop;
	char buf[256];
	ssize_t r;

	(void)events;
	for (;;) {
		r = read(p->ready.fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r > 0 && !memchr(buf, '\n', (size_t)r))
			continue;
		break;
	}
	if (r > 0 && !p->exited && enode_pid(p->node) == p->pid)
		engine_ready(l->eng, p->node, mono_ns());
	ready_pipe_close(l, p);
}

/*
 * The main process of a worker is a zombie. With process groups: kill
 * what is left of its group while the zombie still holds the group id.
 * With cgroups, the engine hears of the exit only once the worker's
 * cgroup is empty (cgroups_drain killed what was left), so no replacement
 * starts beside a leftover.
 */
static void
proc_exited(struct loop *l, struct proc *p)
{
	siginfo_t si;
	int fd;

	memset(&si, 0, sizeof(si));
	if (!l->cg)
		kill(-p->pid, SIGKILL);
	if (waitid(P_PIDFD, (id_t)p->w.fd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	p->status = si.si_code == CLD_EXITED ? si.si_status : -1;
	p->sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
	/* Its checks end with it: none may start in a cgroup being killed,
	 * nor count against a process that is gone. */
	if (enode_pid(p->node) == p->pid)
		health_end(l->health, p->node);
	/* Taken out of the epoll and closed once the batch is done: after
	 * the restart this exit may set off. */
	reactor_unwatch_close(l->r, &p->w);
	p->w.fd = -1;
	p->exited = true;
	ready_pipe_close(l, p);
	if (l->cg && (fd = cgroups_drain(l->cg, p->node)) >= 0) {
		p->draining = true;
		if (reactor_watch_bulk(l->r, &p->drain, fd, EPOLLPRI, on_drained,
		    p) < 0)
			fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
		l->ndraining++;
		on_drained(p, 0);	/* emptied since it was read */
		return;
	}
	proc_done(l, p);
}

static void
on_pidfd(void *owner, uint32_t events)
{
	struct proc *p = owner;

	(void)events;
	proc_exited(p->loop, p);
}

/*
 * Reaps orphans re-parented to arbord (subreaper, or PID 1). At most
 * REAP_BATCH per call: workers that die as fast as they are restarted
 * (each restart here spawns one more zombie-to-be) would otherwise keep
 * this loop going and starve every other input; the rest waits for the
 * next batch of the loop.
 */
#define REAP_BATCH 64

static void
reap_children(struct loop *l)
{
	for (unsigned n = 0;; n++) {
		siginfo_t si;
		struct proc *p;

		if (n == REAP_BATCH) {
			if (!l->reap_at)
				l->reap_at = mono_ns();
			return;
		}
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid == 0)
			return;
		p = proc_find(l, si.si_pid);
		if (p && !p->exited)
			proc_exited(l, p);
		else if (!health_reap(l->health, si.si_pid) &&
		    !helpers_reap(l->helpers, si.si_pid))
			waitid(P_PID, (id_t)si.si_pid, &si, WEXITED | WNOHANG);
	}
}

static int loop_reload(struct loop *, const char *why, json_t **errors,
    json_t **summary);

/* A signal arbord does not act on: said once per signal, then ignored. */
static void
ignored_signal(struct loop *l, const struct signalfd_siginfo *ssi)
{
	unsigned sig = ssi->ssi_signo;

	if (sig >= ARRAY_SIZE(l->said_signal) || l->said_signal[sig])
		return;
	l->said_signal[sig] = true;
	log_msg(LOG_WARN, "signal %u (%s) from pid %u ignored: arbord acts on SIGTERM and SIGINT (shutdown) and SIGHUP (reload); said once",
	    sig, strsignal((int)sig), ssi->ssi_pid);
}

static void
on_signal(void *owner, uint32_t events)
{
	struct loop *l = owner;
	struct signalfd_siginfo ssi;
	bool chld = false;

	(void)events;
	while (read(l->sigw.fd, &ssi, sizeof(ssi)) == (ssize_t)sizeof(ssi)) {
		switch (ssi.ssi_signo) {
		case SIGCHLD:
			chld = true;
			break;
		case SIGTERM:
			loop_shutdown(l, "SIGTERM");
			break;
		case SIGINT:
			loop_shutdown(l, "SIGINT");
			break;
		case SIGHUP: {
			json_t *errors = NULL;

			loop_reload(l, "SIGHUP", &errors, NULL);
			json_decref(errors);
			break;
		}
		default:
			ignored_signal(l, &ssi);
			break;
		}
	}
	if (!chld)
		return;
	if (l->nprocs <= REAP_NOW_MAX)
		reap_children(l);
	else if (!l->reap_at)
		l->reap_at = mono_ns() + REAP_DELAY_NS;
}

static void
on_timer(void *owner, uint32_t events)
{
	struct loop *l = owner;

	(void)events;
	read_counter(l->timerw.fd);
	l->armed = UINT64_MAX;
	if (l->handoff_at && mono_ns() >= l->handoff_at) {
		l->handoff_at = 0;
		l->handoff_due = true;
	}
	if (l->reap_at && mono_ns() >= l->reap_at) {
		l->reap_at = 0;
		reap_children(l);
	}
	engine_tick(l->eng, mono_ns());
}

static void
rearm_timer(struct loop *l)
{
	uint64_t d = engine_next_deadline(l->eng);

	if (l->reap_at && l->reap_at < d)
		d = l->reap_at;
	if (l->handoff_at && l->handoff_at < d)
		d = l->handoff_at;
	timerfd_arm_at(l->timerw.fd, d, &l->armed);
}

/*
 * The end of a batch: its log lines and events go to their readers, or
 * wait HANDOFF_DELAY_NS when it spawned a worker; then systemd hears.
 */
static void
batch_done(struct loop *l)
{
	bool hold = l->spawned && !l->handoff_due &&
	    obswatch_queued(l->obs) < OBSQ_CAPACITY / 4;

	l->spawned = false;
	engine_batch_done(l->eng);
	cgroups_batch_done(l->cg);
	if (hold) {
		if (!l->handoff_at)
			l->handoff_at = mono_ns() + HANDOFF_DELAY_NS;
	} else {
		l->handoff_at = 0;
		l->handoff_due = false;
		deferred_flush(l);
		obswatch_flush(l->obs);
		log_flush();
	}
	rearm_timer(l);
	capture_kick(l->cap);
	health_flush(l->health);
	update_notify_self(l);
}

static void
ready_pipe_unused(int ready[2])
{
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0) {
			close(ready[i]);
			ready[i] = -1;
		}
}

/*
 * What n gets beyond 0-2 (spawn.h), in l->pass: its held sockets and
 * stored fds, and for ready = "fd" a pipe (ready[0] arbord's end).
 * 1 when there is something to pass, 0 when not (the common case: a
 * few comparisons), -1 with msg.
 */
static int
spawn_pass_for(struct loop *l, struct enode *n, int ready[2], char *msg,
    size_t msglen)
{
	const struct spec_worker *w = &enode_spec(n)->w;
	int k;

	if (!w->nsockets && w->ready != READY_FD && !held_store_count(n))
		return 0;
	if ((k = held_fds(l->held, n, l->pass_fds, l->pass_names,
	    sizeof(l->pass_names), msg, msglen)) < 0)
		return -1;
	l->pass = (struct spawn_pass){ .fds = l->pass_fds, .n = (size_t)k,
	    .names = l->pass_names, .ready_fd = -1, .ready_to = -1 };
	if (w->ready == READY_FD) {
		if (pipe2(ready, O_CLOEXEC) < 0 ||
		    fcntl(ready[0], F_SETFL, O_NONBLOCK) < 0) {
			snprintf(msg, msglen, "ready_fd's pipe: %s",
			    strerror(errno));
			ready_pipe_unused(ready);
			return -1;
		}
		l->pass.ready_fd = ready[1];
		l->pass.ready_to = w->ready_fd;
	}
	return 1;
}

static int
op_spawn(void *ctx, struct enode *n, int *err)
{
	struct loop *l = ctx;
	char msg[512];
	struct proc *p;
	struct cg_spawn cgs;
	int pidfd, out[2], ready[2] = { -1, -1 }, passing;
	pid_t pid;

	if ((passing = spawn_pass_for(l, n, ready, msg, sizeof(msg))) < 0) {
		log_msg(LOG_ERROR, "%s: cannot start: %s", enode_path(n), msg);
		*err = EIO;
		return -1;
	}
	if (l->cg && cgroups_prepare(l->cg, n, &cgs, msg, sizeof(msg)) < 0) {
		log_msg(LOG_ERROR, "%s: cannot start: %s", enode_path(n), msg);
		ready_pipe_unused(ready);
		*err = EIO;
		return -1;
	}
	capture_fds(l->cap, n, out);
	l->clone_ns = mono_ns();
	pid = spawn_worker(n, l->devnull, notify_path(l->notify),
	    l->cg ? &cgs : NULL, out, passing ? &l->pass : NULL, &pidfd,
	    &l->spawn_times, err, msg, sizeof(msg));
	l->spawned_ns = mono_ns();
	/*
	 * The child's execve woke arbord (CLONE_VFORK), most often on the
	 * CPU the child goes on loading its program on, and the wake-up
	 * preempted it there. The first spawn of a batch (a restart: one per
	 * exit) gives that CPU back at once, so the bookkeeping below runs
	 * once the new process blocks or has used its slice, not before its
	 * first instruction. A no-op when no other task waits for arbord's
	 * CPU. Further spawns of the batch (a start, a one_for_all) go on
	 * without yielding: a yield at each would hand the CPU to each new
	 * program in turn.
	 */
	if (pid > 0 && !l->spawned)
		sched_yield();
	if (l->cg)
		cg_spawn_close(&cgs);
	if (ready[1] >= 0)
		close(ready[1]);
	if (pid < 0) {
		if (ready[0] >= 0)
			close(ready[0]);
		capture_unused(out);
		log_msg(LOG_ERROR, "%s: cannot start: %s", enode_path(n), msg);
		return -1;
	}
	capture_spawned(l->cap, n, pid, out);
	l->spawned = true;
	health_begin(l->health, n, mono_ns());
	p = xcalloc(1, sizeof(*p));
	p->loop = l;
	p->pid = pid;
	p->node = n;
	p->ready.fd = -1;
	if (reactor_watch_bulk(l->r, &p->w, pidfd, EPOLLIN, on_pidfd, p) < 0)
		fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
	if (ready[0] >= 0 && reactor_watch_bulk(l->r, &p->ready, ready[0],
	    EPOLLIN, on_ready_pipe, p) < 0)
		fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
	p->next = l->procs;
	if (l->procs)
		l->procs->prev = p;
	l->procs = p;
	l->nprocs++;
	p->pid_link.pid = pid;
	pid_index_add(&l->pids, &p->pid_link);
	return pid;
}

/* Its main process reaped, its cgroup being killed: pid is no longer its. */
static bool
draining(const struct loop *l, const struct enode *n)
{
	if (!l->ndraining)
		return false;
	for (const struct proc *p = l->procs; p; p = p->next)
		if (p->node == n && p->draining)
			return true;
	return false;
}

static void
op_signal(void *ctx, const struct enode *n, int pid, int sig)
{
	struct loop *l = ctx;

	if (pid <= 0 || draining(l, n))
		return;
	/* A paused worker is resumed first: a frozen process would take the
	 * signal only when thawed. (The engine lends the node const; its
	 * runtime word is ours.) */
	if (l->cg && cgroups_frozen(n) &&
	    cgroups_freeze(l->cg, (struct enode *)(uintptr_t)n, false) < 0)
		log_msg(LOG_WARN, "%s: resume: %s", enode_path(n), strerror(errno));
	/* The group holds the main process: it leads its own session
	 * (spawn.c), and a session leader cannot leave its group. */
	if (kill(-pid, sig) < 0 && errno != ESRCH)
		log_msg(LOG_WARN, "%s: kill(-%d, %d): %s", enode_path(n), pid,
		    sig, strerror(errno));
}

/* Which parent a node's series go under (OBS_LABEL_*). */
static uint8_t
metric_labels(const struct loop *l, const struct enode *n)
{
	const struct enode *up = n ? enode_parent(n) : NULL;

	if (!up || enode_is_supervisor(n))
		return 0;
	if (enode_spec(up)->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE)
		return OBS_LABEL_POOLED | OBS_LABEL_HIST_PARENT;
	return l->spec->histograms_per_worker ? 0 : OBS_LABEL_HIST_PARENT;
}

static void
emit(struct loop *l, const struct obs_msg *m)
{
	if (!m->quiet)
		log_event(m);
	obswatch_event(l->obs, m);
}

static void
deferred_flush(struct loop *l)
{
	if (l->flushing)
		return;
	l->flushing = true;
	for (size_t i = 0; i < l->ndeferred; i++)
		emit(l, &l->deferred[i]);
	l->ndeferred = 0;
	l->flushing = false;
}

/* A log line of the core's, or an event not made by the engine (the
 * observability helper's restart): the events before it go first. */
static void
before_log_line(void *ctx)
{
	deferred_flush(ctx);
}

static void
op_event(void *ctx, const struct event *ev)
{
	struct loop *l = ctx;
	struct obs_msg now, *m = &now;

	switch (ev->kind) {
	case EV_CHILD_REMOVED:
		held_store_clear(l->held, (struct enode *)(uintptr_t)ev->node);
		health_removed(l->health, ev->node);
		cgroups_removed(l->cg, ev->node);
		capture_removed(l->cap, ev->node);
		break;
	case EV_READY:
		health_ready(l->health, ev->node, ev->mono_ns);
		break;
	case EV_STOP:
	case EV_EXIT:
		health_end(l->health, ev->node);
		break;
	default:
		break;
	}
	/*
	 * A deferred event is made in its place in the queue, not made on
	 * the stack and copied there: on a restart's path (an exit, with the
	 * replacement's clone still to come) every cache line counts.
	 */
	if (l->deferring) {
		if (!l->deferred)
			l->deferred = xcalloc(DEFERRED_MAX,
			    sizeof(*l->deferred));
		if (l->ndeferred == DEFERRED_MAX)
			deferred_flush(l);
		/* Still full: they are being sent on; this one goes now. */
		if (l->ndeferred < DEFERRED_MAX)
			m = &l->deferred[l->ndeferred];
	}
	event_to_msg(ev, m);
	m->labels = metric_labels(l, ev->node);
	/* At arbord's stop the exit does not wait for its tail: the output
	 * helper finishes after the observability helper (obswatch_stop). */
	m->tail = ev->kind == EV_EXIT && ev->pid > 0 &&
	    ev->pid == l->tail_pid && !engine_stopping(l->eng);
	if (ev->kind == EV_SPAWN) {	/* op_spawn has just returned */
		m->clone_ns = l->clone_ns;
		m->spawned_ns = l->spawned_ns;
		m->child_ns = l->spawn_times.child_ns;
		m->exec_ns = l->spawn_times.exec_ns;
	}
	if (m != &now) {
		l->ndeferred++;
		return;
	}
	if (!l->deferring)
		deferred_flush(l);
	emit(l, m);
}

static void
op_exit(void *ctx, int code)
{
	struct loop *l = ctx;

	l->done = true;
	l->exit_code = code;
}

/* restart_delay_jitter's randomness: no need for more than rand_r's. */
static uint32_t
op_random(void *ctx)
{
	static unsigned seed;

	(void)ctx;
	if (!seed)
		seed = (unsigned)(mono_ns() ^ (uint64_t)getpid());
	return ((uint32_t)rand_r(&seed) << 16) ^ (uint32_t)rand_r(&seed);
}

static const struct engine_ops runtime_ops = {
	.spawn = op_spawn,
	.signal = op_signal,
	.event = op_event,
	.exit = op_exit,
	.random = op_random,
};

/* SIGKILLs every child of arbord's (any thread's); returns how many. */
static unsigned
kill_children(void)
{
	char path[64];
	unsigned n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", getpid());
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char cpath[384];
		FILE *f;
		int pid;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "%s/%s/children", path,
		    de->d_name);
		if (!(f = fopen(cpath, "re")))
			continue;
		while (fscanf(f, "%d", &pid) == 1)
			n += kill(pid, SIGKILL) == 0;
		fclose(f);
	}
	closedir(d);
	return n;
}

#define LEFTOVERS_DEADLINE_NS (5 * NSEC_PER_SEC)

/*
 * At exit nothing may outlive arbord: descendants that escaped their
 * worker's process group are re-parented here (a subreaper) as their
 * parents die, so they are killed and reaped round after round until none
 * is left. Never a blocking wait: a process that cannot die (stuck in the
 * kernel) costs at most LEFTOVERS_DEADLINE_NS, then arbord exits anyway.
 */
static void
kill_leftovers(void)
{
	uint64_t deadline = mono_ns() + LEFTOVERS_DEADLINE_NS;
	const struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };
	unsigned killed = 0;

	for (;;) {
		pid_t r;

		killed += kill_children();
		/* __WALL: health checks exit with no signal (spawn_check). */
		while ((r = waitpid(-1, NULL, WNOHANG | __WALL)) > 0 ||
		    (r < 0 && errno == EINTR))
			;
		if (r < 0)
			break;		/* ECHILD: nothing is left */
		if (mono_ns() >= deadline) {
			log_msg(LOG_WARN, "exit: processes left after %d s of SIGKILL (%u signals sent); exiting without them",
			    (int)(LEFTOVERS_DEADLINE_NS / NSEC_PER_SEC), killed);
			break;
		}
		nanosleep(&pause, NULL);
	}
}

/*
 * The daemon and observability keys a reload changed: each applied one is
 * logged and listed in the summary's settings; each one read only when
 * arbord (or its observability thread) starts is a warning, never silence.
 */
static void
setting_changes(const struct spec *old, const struct spec *new,
    const char *why, json_t *settings, json_t *warnings)
{
	size_t n;
	struct spec_setting *v = spec_settings_changed(old, new, &n);

	for (size_t i = 0; i < n; i++) {
		char *line;

		json_array_append_new(settings, json_pack("{s:s, s:o, s:o, s:b}",
		    "key", v[i].key, "from", json_text(v[i].from), "to",
		    json_text(v[i].to), "restart", v[i].restart));
		if (v[i].restart) {
			line = xasprintf("%s changed: it applies at the next start of arbord; the running value stays",
			    v[i].key);
			json_array_append_new(warnings, json_text(line));
		} else {
			line = xasprintf("%s: %s -> %s%s", v[i].key, v[i].from,
			    v[i].to, strcmp(v[i].key, "daemon.log_dir") == 0 &&
			    strcmp(v[i].to, "\"\"") == 0 ?
			    " (worker output is kept in memory only)" : "");
			log_msg(LOG_INFO, "%s: %s", why, line);
		}
		free(line);
	}
	spec_settings_free(v, n);
}

/*
 * Resource keys this host cannot apply: a warning each, in warnings, or
 * in the log when warnings is NULL.
 */
static void
unapplied_warnings(const struct cgroups *cg, const struct spec *spec,
    json_t *warnings)
{
	char **lines = cgroups_unapplied(cg, spec);

	for (char **w = lines; *w; w++) {
		if (warnings)
			json_array_append_new(warnings, json_text(*w));
		else
			log_msg(LOG_WARN, "%s", *w);
	}
	strv_free(lines);
}

/*
 * Workers the tree may run at once (static ones and each pool's maximum),
 * the fds they hold (a pidfd each, and the pipes of captured output), and
 * the sockets arbord binds for them at its start (held.c; a pool's once).
 */
struct spec_count {
	size_t workers, fds, sockets;
};

static void
count_spec(const struct spec_node *n, struct spec_count *c)
{
	if (!n->is_supervisor) {
		c->workers += 1;
		c->fds += 1 + capture_fds_per_worker(n);
		c->sockets += n->w.nsockets;
		return;
	}
	if (n->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE) {
		c->workers += n->max_children;
		c->fds += (size_t)n->max_children * (1 +
		    (n->template ? capture_fds_per_worker(n->template) : 0));
		c->sockets += n->template ? n->template->w.nsockets : 0;
		return;
	}
	for (size_t i = 0; i < n->nchildren; i++)
		count_spec(n->children[i], c);
}

/*
 * A tree that needs more fds than the limit fails part-way: say it at load
 * (spawn_init has raised the soft limit to the hard one).
 */
/* sockets, epoll, timers, clients, logs, helpers, and the probes' maps,
 * programs and links (some 25), which the core holds; the leaves kept open
 * for restarts; the pidfds of a batch's reaped workers, closed at its end
 * (16 from the bulk epoll, REAP_BATCH from SIGCHLD) beside their
 * replacements' */
#define FDS_RESERVED (96 + 2 * CG_KEPT_LEAVES + 16 + REAP_BATCH)

static void
warn_fd_limit(const struct spec *spec)
{
	struct spec_count c = { 0 };
	struct rlimit rl;

	count_spec(spec->root, &c);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	if (c.fds + FDS_RESERVED > rl.rlim_cur)
		log_msg(LOG_WARN, "the tree can run %zu workers, holding %zu file descriptors (a pidfd each, 4 more for each whose output is captured), but arbord's limit is %llu (RLIMIT_NOFILE, hard limit %llu): workers will fail to start past it; raise the limit (ulimit -Hn, LimitNOFILE=)",
		    c.workers, c.fds, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
}

/* The control socket's groups (arbor.conf(5), DAEMON) as spec has them. */
static struct control_access
spec_access(const struct spec *spec)
{
	struct control_access a = {
		.control_gid = spec->socket_group ? spec->socket_gid :
		    CONTROL_NO_GROUP,
		.read_gid = spec->read_group ? spec->read_gid :
		    CONTROL_NO_GROUP,
		.control_name = spec->socket_group,
		.read_name = spec->read_group,
	};

	return a;
}

/*
 * A reload applies the groups at once: to clients that connect from now
 * on (those connected keep what they had), then to the socket file's mode
 * and group. A file that cannot follow is a warning.
 */
static void
reload_access(struct loop *l, const struct spec *spec, json_t *warnings)
{
	struct control_access a = spec_access(spec);
	char err[256];

	if (control_set_access(l->ctl, &a, err, sizeof(err)) < 0) {
		char *line = xasprintf("control socket: %s; the new groups decide who may do what all the same",
		    err);

		json_array_append_new(warnings, json_text(line));
		free(line);
	}
}

/* A web_config whose contents changed goes to the listener now. */
static void
web_changes(struct loop *l, const struct spec *spec)
{
	const char *a = l->spec->web ? l->spec->web->digest : "";
	const char *b = spec->web ? spec->web->digest : "";

	if (strcmp(a, b) != 0)
		obswatch_web(l->obs, spec->web);
}

static int
loop_reload(struct loop *l, const char *why, json_t **errors,
    json_t **summary)
{
	struct config_diag diag;
	struct reload_summary sum;
	struct spec *spec;
	struct held_next *next;
	const char *refusal;
	char *bind_err;
	json_t *warnings, *settings;

	*errors = json_array();
	spec = config_load(l->config_file, &diag);
	for (size_t i = 0; i < diag.nwarnings; i++)
		log_msg(LOG_WARN, "%s: %s", why, diag.warnings[i]);
	if (!spec) {
		for (size_t i = 0; i < diag.nerrors; i++) {
			log_msg(LOG_ERROR, "%s: %s", why, diag.errors[i]);
			json_array_append_new(*errors,
			    json_text(diag.errors[i]));
		}
		log_msg(LOG_ERROR, "%s: %s refused, nothing changed", why,
		    l->config_file);
		config_diag_free(&diag);
		return -1;
	}
	config_diag_free(&diag);
	/* New and changed sockets are bound first: one that cannot be
	 * leaves everything as it was. */
	if (!(next = held_prepare(l->held, spec, &bind_err))) {
		log_msg(LOG_ERROR, "%s: %s; nothing changed", why, bind_err);
		json_array_append_new(*errors, json_text(bind_err));
		free(bind_err);
		spec_free(spec);
		return -1;
	}
	held_apply(l->held, next);
	if (engine_reload(l->eng, spec, mono_ns(), &sum, &refusal) < 0) {
		log_msg(LOG_ERROR, "%s: %s: %s; nothing changed", why,
		    l->config_file, refusal);
		char *line = xasprintf("%s: %s", l->config_file, refusal);

		json_array_append_new(*errors, json_text(line));
		free(line);
		held_abort(l->held, next);
		spec_free(spec);
		return -1;
	}
	held_keep(l->held, next);
	warnings = json_array();
	settings = json_array();
	setting_changes(l->spec, spec, why, settings, warnings);
	reload_access(l, spec, warnings);
	web_changes(l, spec);
	cgroups_reloaded(l->cg, engine_root(l->eng), spec);
	capture_reload(l->cap, spec);
	unapplied_warnings(l->cg, spec, warnings);
	for (size_t i = 0; i < json_array_size(warnings); i++)
		log_msg(LOG_WARN, "%s: %s", why,
		    json_string_value(json_array_get(warnings, i)));
	warn_fd_limit(spec);
	if (summary) {
		json_t *o = json_object();
		char **lists[] = { sum.added, sum.removed, sum.changed,
		    sum.updated };
		const char *names[] = { "added", "removed", "changed",
		    "updated" };

		json_object_set(o, "warnings", warnings);
		json_object_set(o, "settings", settings);

		for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
			json_t *a = json_array();

			for (size_t i = 0; lists[k] && lists[k][i]; i++)
				json_array_append_new(a,
				    json_text(lists[k][i]));
			json_object_set_new(o, names[k], a);
		}
		*summary = o;
	}
	json_decref(warnings);
	json_decref(settings);
	reload_summary_free(&sum);
	spec_free(l->spec);
	l->spec = spec;
	return 0;
}

static int
ops_logs(void *ctx, struct enode *n, int fd, unsigned lines, bool follow,
    const char **why)
{
	struct loop *l = ctx;

	return capture_logs(l->cap, n, fd, lines, follow, why);
}

static int
ops_reload(void *ctx, const char *why, json_t **errors, json_t **summary)
{
	return loop_reload(ctx, why, errors, summary);
}

static void
ops_shutdown(void *ctx, const char *why)
{
	loop_shutdown(ctx, why);
}

/* A resource key's applied value, as the config writes it. */
static void
limit_write(struct jw *w, const struct spec_resources *r, enum res_key k)
{
	const char *key = res_key_name(k);
	char buf[64];

	switch (k) {
	case RES_MEMORY_MAX:
	case RES_MEMORY_HIGH:
	case RES_MEMORY_SWAP_MAX:
	case RES_PIDS_MAX:
		if (res_size(r, k) == RES_MAX)
			jw_str(w, key, "max");
		else
			jw_int(w, key, (long long)res_size(r, k));
		return;
	case RES_CPU_MAX:
		if (r->cpu_quota_us == RES_MAX) {
			jw_str(w, key, "max");
			return;
		}
		snprintf(buf, sizeof(buf), "%llu %llu",
		    (unsigned long long)r->cpu_quota_us,
		    (unsigned long long)r->cpu_period_us);
		jw_str(w, key, buf);
		return;
	case RES_CPU_WEIGHT:
		jw_int(w, key, r->cpu_weight);
		return;
	case RES_IO_WEIGHT:
		jw_int(w, key, r->io_weight);
		return;
	case RES_OOM_GROUP:
		jw_bool(w, key, r->oom_group);
		return;
	default:
		jw_null(w, key);
	}
}

/*
 * status: how the node is contained, its cgroup below the mount and the
 * limits applied there. The figures come from the observability helper,
 * which writes them in place of these nulls (exporters/obs.c).
 */
static bool
ops_node_status(void *ctx, const struct enode *n, struct jw *w)
{
	struct loop *l = ctx;
	const struct spec_resources *r = &enode_spec(n)->res;
	unsigned applied;
	char *path;

	held_status(l->held, n, w);
	jw_str(w, "containment", l->cg ? "cgroup" : "pgroup");
	if (!l->cg)
		return false;
	path = xasprintf("%s/%s", cgroups_base(l->cg), enode_path(n));
	jw_str(w, "cgroup", path);
	free(path);
	if (cgroups_frozen(n))
		jw_bool(w, "paused", true);
	jw_null(w, "memory_bytes");
	jw_null(w, "cpu_seconds");
	jw_null(w, "pids");
	if ((applied = cgroups_applied(n) & r->set)) {
		jw_obj(w, "limits");
		for (int k = 0; k < RES_NKEYS; k++)
			if (applied & (1U << k))
				limit_write(w, r, (enum res_key)k);
		jw_end_obj(w);
	}
	return true;
}

/* The fd stores of n and those below emptied (a stop, arbord's end). */
static void
stores_clear(struct held *h, struct enode *n)
{
	held_store_clear(h, n);
	for (size_t i = 0; i < enode_nchildren(n); i++)
		stores_clear(h, enode_child(n, i));
}

static void
ops_stopped(void *ctx, struct enode *n)
{
	struct loop *l = ctx;

	stores_clear(l->held, n);
}

/*
 * arborctl pause and resume: a running worker's cgroup frozen or thawed.
 * Its health checks are held meanwhile; anything arbord sends it (a stop,
 * a restart, a signal) resumes it first, and its replacement is never born
 * frozen.
 */
static int
ops_pause(void *ctx, struct enode *n, bool on, char *why, size_t len)
{
	struct loop *l = ctx;

	if (!l->cg) {
		snprintf(why, len, "pausing needs cgroups (cgroup.freeze); this arbord uses process groups");
		return -1;
	}
	if (enode_is_supervisor(n)) {
		snprintf(why, len, "a supervisor cannot be paused; pause its workers");
		return -1;
	}
	if (on && enode_state(n) != NS_RUNNING) {
		snprintf(why, len, "not running (%s)", node_state_name(enode_state(n)));
		return -1;
	}
	if (on && enode_spec(n)->w.watchdog_ms) {
		snprintf(why, len, "it has a watchdog, which a frozen process would miss");
		return -1;
	}
	if (on == cgroups_frozen(n))
		return 0;
	if (cgroups_freeze(l->cg, n, on) < 0) {
		snprintf(why, len, "cgroup.freeze: %s", strerror(errno));
		return -1;
	}
	log_msg(LOG_INFO, "%s %s pid=%d", on ? "paused" : "resumed",
	    enode_path(n), enode_pid(n));
	return 0;
}

/* `daemon`: each helper's state, pid and restarts. */
static void
ops_daemon_status(void *ctx, json_t *d)
{
	struct loop *l = ctx;
	struct helper_stat st[HELPER_N];
	json_t *hj = json_object();
	size_t n = helpers_stats(l->helpers, st, HELPER_N);

	for (size_t i = 0; i < n; i++)
		json_object_set_new(hj, st[i].name, json_pack("{s:s, s:I, s:I}",
		    "state", st[i].state, "pid", (json_int_t)st[i].pid,
		    "restarts", (json_int_t)st[i].restarts));
	json_object_set_new(d, "helpers", hj);
}

static int
setup_open(struct loop *l, const struct loop_options *o)
{
	const struct control_ops ops = { .reload = ops_reload,
	    .shutdown = ops_shutdown, .node_status = ops_node_status,
	    .logs = ops_logs, .pause = ops_pause,
	    .daemon_status = ops_daemon_status, .stopped = ops_stopped,
	    .ctx = l };
	struct control_access access;
	sigset_t mask;
	char err[256];
	char *path;
	int fd;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_msg(LOG_WARN, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Every signal another process can send goes to the signalfd: the
	 * ones arbord acts on (SIGCHLD, SIGTERM, SIGINT, SIGHUP) and all the
	 * others, whose default would end or stop arbord and the tree with
	 * it (logrotate's SIGUSR1, SIGALRM, SIGPWR, SIGTSTP, SIGRTMIN+n...):
	 * those are said once and ignored. Faults raised by arbord's own code
	 * (SIGSEGV, SIGABRT...) keep their default. Threads start with every
	 * signal blocked (log.c, obswatch.c), so none is delivered elsewhere.
	 */
	sigemptyset(&mask);
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		switch (sig) {
		case SIGKILL: case SIGSTOP: case SIGPIPE:
		case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
		case SIGTRAP: case SIGABRT: case SIGSYS:
			continue;
		}
		if (sig >= 32 && sig < SIGRTMIN)
			continue;	/* the C library's own */
		sigaddset(&mask, sig);
	}
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("%s: sigprocmask: %s", __func__, strerror(errno));
	/*
	 * An ignored signal is discarded even while blocked, so signalfd
	 * would never see it: arbord started as a background job of a shell
	 * ignores SIGINT. Our signals are blocked, so default is safe.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);

	l->r = reactor_new();
	if ((fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    reactor_watch(l->r, &l->sigw, fd, EPOLLIN, on_signal, l) < 0)
		fatal("%s: signalfd: %s", __func__, strerror(errno));
	if ((fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    reactor_watch(l->r, &l->timerw, fd, EPOLLIN, on_timer, l) < 0)
		fatal("%s: timerfd: %s", __func__, strerror(errno));
	l->armed = UINT64_MAX;
	/* Bound before anything starts: one that cannot be is the config's
	 * error, and nothing runs. */
	if (!(l->held = held_open(l->r, l->spec, &path))) {
		log_msg(LOG_ERROR, "%s; nothing was started", path);
		free(path);
		return -1;
	}

	{
		bool failed;

		l->cg = cgroups_open(l->r, l->spec, o->socket_path, &failed);
		if (failed)
			return -1;
		unapplied_warnings(l->cg, l->spec, NULL);
	}
	l->cap = capture_start(l->spec);
	/* The engine exists before the sockets that feed it open. */
	l->obs = obswatch_start(l->r, l->spec, o->no_bpf, l->cg,
	    capture_outlog(l->cap));
	held_publish(l->held, obswatch_sockets(l->obs));
	l->eng = engine_new(l->spec, &runtime_ops, l);
	l->helpers = helpers_open(l->r, l->cg, l->spec,
	    obswatch_helpers(l->obs));
	capture_bind(l->cap, l->helpers);
	obswatch_bind(l->obs, l->helpers);
	l->health = health_new(l->r, l->eng, l->cg, l->helpers, l->devnull);
	access = spec_access(l->spec);
	l->ctl = control_open(l->r, l->eng, l->obs, &ops, &access,
	    o->socket_path, err, sizeof(err));
	if (!l->ctl) {
		log_msg(LOG_ERROR, "control socket %s: %s; nothing was started",
		    o->socket_path, err);
		return -1;
	}
	path = xasprintf("%s.notify", o->socket_path);
	l->notify = notify_open(l->r, l->eng, l->cg, l->held, path, err,
	    sizeof(err));
	if (!l->notify) {
		log_msg(LOG_ERROR, "notify socket %s: %s; nothing was started",
		    path, err);
		free(path);
		return -1;
	}
	free(path);
	warn_fd_limit(l->spec);		/* once spawn_init has raised it */
	return 0;
}

/*
 * What arbord holds for itself (epolls, its sockets, the probes' maps and
 * links, its helpers' ends) is opened above SPAWN_FD_BASE: each spawn's
 * child copies arbord's fds below it and its execve closes them, some 70
 * with the probes loaded, one by one on every restart. /dev/null stays
 * below: it is the workers' stdin. What is opened later (the copies a
 * spawn hands down, a rotated log) takes the low numbers again.
 */
static int
setup(struct loop *l, const struct loop_options *o)
{
	struct spec_count c = { 0 };
	int low[SPAWN_FD_BASE];
	size_t nlow;
	int r;

	spawn_init();		/* the fd limit raised first */
	if ((l->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		fatal("%s: /dev/null: %s", __func__, strerror(errno));
	/* Held only where the limit leaves room for what setup opens: a
	 * tree whose sockets come near it starts as it would without. */
	count_spec(l->spec->root, &c);
	nlow = fd_reserve_low(l->devnull, c.sockets + FDS_RESERVED, low,
	    ARRAY_SIZE(low));
	r = setup_open(l, o);
	fd_unreserve_low(low, nlow);
	return r;
}

int
loop_run(struct spec **specp, const struct loop_options *o)
{
	struct loop l = { .spec = *specp, .config_file = o->config_file,
	    .exit_code = 0 };
	int code;

	if (setup(&l, o) < 0) {
		code = 1;
		goto out;
	}
	log_msg(LOG_INFO, "arbord %d started on %s, control socket %s",
	    getpid(), o->config_file, o->socket_path);
	if (getenv("NOTIFY_SOCKET") && *getenv("NOTIFY_SOCKET"))
		l.notify_self = xstrdup(getenv("NOTIFY_SOCKET"));
	log_before_lines(before_log_line, &l);
	engine_start(l.eng, mono_ns());
	batch_done(&l);

	while (!l.done) {
		reactor_run_once(l.r, -1);
		batch_done(&l);
	}
	/* Whatever a last batch held back. */
	deferred_flush(&l);
	log_before_lines(NULL, NULL);
	obswatch_flush(l.obs);
	log_flush();

	log_msg(LOG_INFO, "arbord exits with code %d", l.exit_code);
	code = l.exit_code;
out:
	/* Also the way out of a failed setup: whatever was made is undone. */
	control_close(l.ctl);
	notify_close(l.notify);
	obswatch_stop(l.obs);
	health_close(l.health);
	/* Every worker gone: the output helper writes the last lines out and
	 * ends, before the other helpers are killed. */
	capture_stop(l.cap);
	helpers_close(l.helpers);
	cgroups_close(l.cg);
	kill_leftovers();
	for (struct proc *p = l.procs, *next; p; p = next) {
		next = p->next;
		if (p->draining)
			close(p->drain.fd);
		if (p->w.fd >= 0)
			close(p->w.fd);
		if (p->ready.fd >= 0)
			close(p->ready.fd);
		free(p);
	}
	pid_index_free(&l.pids);
	free(l.deferred);
	if (l.eng)
		stores_clear(l.held, engine_root(l.eng));
	held_close(l.held);
	engine_free(l.eng);
	/* Reloads replace the spec: the caller gets back the one in use. */
	*specp = l.spec;
	if (l.r) {
		close(l.sigw.fd);
		close(l.timerw.fd);
		close(l.devnull);
	}
	reactor_free(l.r);
	free(l.notify_self);
	log_flush();
	return code;
}
