/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../config/webconf.h"
#include "../exporters/obs.h"
#include "event.h"
#include "helper.h"
#include "obswatch.h"
#include "../bpf/loader.h"
#include "log.h"
#include "util.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_NS (60 * NSEC_PER_SEC)	/* ran this long: backoff resets */

struct obswatch {
	struct reactor *r;
	struct obsq *q;
	int wake_fd;
	struct watch exitw;	/* eventfd: the thread ended */
	struct watch stallw;	/* timerfd: no heartbeat in time */
	struct watch restartw;	/* timerfd: backoff over */
	pthread_t thread;
	struct obs_args *args;
	bool running;
	bool cancelling;
	bool wake_pending;	/* pushed since the last wake-up */
	/* Who answers the clients a thread that ended left in the queue. */
	void (*orphan)(void *, int, const struct obs_request *);
	void *orphan_ctx;
	uint64_t started_ns;
	uint32_t backoff_ms;
	uint64_t restarts;
	struct obs_helpers helpers;	/* helper.c counts in it */
	struct probes *probes;	/* loaded by a thread, kept for the next */
	uint64_t probes_ns;
	/* What every incarnation is given. */
	enum bpf_mode bpf;
	char *event_log;
	uint64_t event_log_max_bytes;
	uint32_t event_log_keep;
	char *metrics_listen;
	bool console;
	/* NULL: plain HTTP, no users. A reload replaces it (obswatch_web);
	 * the thread takes it under web.mu when web.gen moves. */
	struct web_conf *web;
	struct obs_web shared;
	char *control_socket;
	bool console_auth_none;
	char **console_hosts;
	int64_t console_token_ttl_ns, console_session_ttl_ns;
	enum obs_fault fault;
	int64_t fig_budget_ns;
	struct cg_view cg;
	struct outproxy *out;
};

static char **
strv_copy(char *const *v)
{
	size_t n = strv_len(v);
	char **d = xcalloc(n + 1, sizeof(*d));

	for (size_t i = 0; i < n; i++)
		d[i] = xstrdup(v[i]);
	return d;
}

static void
args_free(struct obs_args *a)
{
	if (!a)
		return;
	free(a->event_log);
	free(a->metrics_listen);
	free(a->control_socket);
	strv_free(a->console_hosts);
	webconf_free(a->web);
	cg_view_free(&a->cg);
	free(a);
}

static void
start_thread(struct obswatch *w)
{
	struct obs_args *a = xcalloc(1, sizeof(*a));
	sigset_t all, old;
	int err;

	a->q = w->q;
	a->wake_fd = w->wake_fd;
	a->exit_fd = w->exitw.fd;
	a->stall_fd = w->stallw.fd;
	a->tgid = getpid();
	a->core_tid = gettid();
	a->bpf = w->bpf;
	a->event_log = w->event_log ? xstrdup(w->event_log) : NULL;
	a->event_log_max_bytes = w->event_log_max_bytes;
	a->event_log_keep = w->event_log_keep;
	a->metrics_listen = w->metrics_listen ? xstrdup(w->metrics_listen) : NULL;
	a->console = w->console;
	pthread_mutex_lock(&w->shared.mu);
	a->web = webconf_dup(w->web);
	a->web_gen = atomic_load(&w->shared.gen);
	pthread_mutex_unlock(&w->shared.mu);
	a->web_now = &w->shared;
	a->control_socket = w->control_socket ? xstrdup(w->control_socket) : NULL;
	a->console_auth_none = w->console_auth_none;
	a->console_hosts = w->console_hosts ? strv_copy(w->console_hosts) : NULL;
	a->console_token_ttl_ns = w->console_token_ttl_ns;
	a->console_session_ttl_ns = w->console_session_ttl_ns;
	a->fault = w->fault;
	a->fig_budget_ns = w->fig_budget_ns;
	a->restarts = w->restarts;
	a->helpers = &w->helpers;
	cg_view_copy(&a->cg, &w->cg);
	a->out = w->out;
	a->kept = &w->probes;
	a->kept_ns = &w->probes_ns;
	/* The thread takes no signal: all go to the core's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, obs_thread_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_msg(LOG_ERROR, "observability thread: pthread_create: %s",
		    strerror(err));
		args_free(a);
		timerfd_arm(w->restartw.fd, w->backoff_ms ? w->backoff_ms : BACKOFF_FIRST_MS, 0);
		return;
	}
	w->args = a;
	w->running = true;
	w->cancelling = false;
	w->started_ns = mono_ns();
	timerfd_arm(w->stallw.fd, OBS_STALL_MS, 0);
}

/*
 * Clients handed over to a thread that ended before it took them would
 * wait for the next thread, after the backoff, and it may stall too: they
 * are answered now (status without the figures, the rest with an error).
 * No thread reads the queue now, so its slots are the core's to change.
 */
static void
take_back_clients(struct obswatch *w)
{
	uint64_t head = atomic_load(&w->q->head);
	uint64_t tail = atomic_load(&w->q->tail);

	for (uint64_t i = head; i != tail; i++) {
		struct obs_msg *m = &w->q->slots[i & (OBSQ_CAPACITY - 1)];

		if (m->kind != OBS_MSG_CLIENT)
			continue;
		if (w->orphan)
			w->orphan(w->orphan_ctx, m->fd, &m->req);
		else {
			close(m->fd);
			if (m->req.status)
				json_decref((json_t *)m->req.status);
		}
		m->kind = OBS_MSG_NONE;
	}
}

void
obswatch_on_orphan(struct obswatch *w,
    void (*fn)(void *, int, const struct obs_request *), void *ctx)
{
	if (!w)
		return;
	w->orphan = fn;
	w->orphan_ctx = ctx;
}

static void
on_exit_fd(void *owner, uint32_t events)
{
	struct obswatch *w = owner;

	(void)events;
	read_counter(w->exitw.fd);
	if (!w->running)
		return;
	pthread_join(w->thread, NULL);
	args_free(w->args);
	w->args = NULL;
	w->running = false;
	take_back_clients(w);
	timerfd_arm(w->stallw.fd, 0, 0);
	if (mono_ns() - w->started_ns >= STABLE_NS || w->backoff_ms == 0)
		w->backoff_ms = BACKOFF_FIRST_MS;
	else if ((w->backoff_ms *= 2) > BACKOFF_MAX_MS)
		w->backoff_ms = BACKOFF_MAX_MS;
	log_msg(LOG_WARN, "observability thread %s; restarting it in %u ms (supervision is unaffected)",
	    w->cancelling ? "stalled and was stopped" : "ended", w->backoff_ms);
	timerfd_arm(w->restartw.fd, w->backoff_ms, 0);
}

static void
on_stall(void *owner, uint32_t events)
{
	struct obswatch *w = owner;

	(void)events;
	read_counter(w->stallw.fd);
	if (!w->running || w->cancelling)
		return;
	/*
	 * Cancellation takes effect where the thread waits; its cleanup
	 * leaves the probes to the next thread and writes exitw, where the
	 * join happens. A thread stuck elsewhere cannot be stopped, and
	 * observability stays off.
	 */
	w->cancelling = true;
	pthread_cancel(w->thread);
}

static void
on_restart(void *owner, uint32_t events)
{
	struct obswatch *w = owner;
	struct obs_msg m = { .kind = OBS_MSG_EVENT, .event = EV_OBS_RESTART,
	    .fd = -1 };

	(void)events;
	read_counter(w->restartw.fd);
	if (w->running)
		return;
	w->restarts++;
	m.mono_ns = mono_ns();
	m.real_ns = realtime_ns();
	snprintf(m.path, sizeof(m.path), "arbord");
	snprintf(m.text, sizeof(m.text), "restart %llu after %u ms",
	    (unsigned long long)w->restarts, w->backoff_ms);
	log_event(&m);
	obsq_push(w->q, &m);
	start_thread(w);
}

static enum obs_fault
fault_from_env(void)
{
	const char *f = getenv("ARBOR_OBS_FAULT");

	if (!f || !*f)
		return OBS_FAULT_NONE;
	if (strcmp(f, "stall") == 0)
		return OBS_FAULT_STALL;
	if (strcmp(f, "crash") == 0)
		return OBS_FAULT_CRASH;
	if (strcmp(f, "bpf") == 0)
		return OBS_FAULT_BPF;
	log_msg(LOG_WARN, "ARBOR_OBS_FAULT=%s: not stall, crash or bpf; ignored", f);
	return OBS_FAULT_NONE;
}

/*
 * A lifetime for tests, from the environment (arbord(8), ENVIRONMENT):
 * nanoseconds, or -1 when unset or not milliseconds from 1 to max.
 */
static int64_t
env_ms(const char *name, long max)
{
	const char *v = getenv(name);
	char *end;
	long ms;

	if (!v)
		return -1;
	ms = strtol(v, &end, 10);
	if (!*v || *end || ms < 1 || ms > max) {
		log_msg(LOG_WARN, "%s=%s: not a number of milliseconds from 1 to %ld; ignored",
		    name, v, max);
		return -1;
	}
	return ms * (int64_t)NSEC_PER_MSEC;
}

struct obswatch *
obswatch_start(struct reactor *r, const struct spec *sp, bool no_bpf,
    const struct cgroups *cg, struct outproxy *out, const char *control_socket)
{
	struct obswatch *w = xcalloc(1, sizeof(*w));
	int efd, sfd, rfd;

	w->out = out;
	cgroups_view(cg, &w->cg);
	w->r = r;
	w->q = xcalloc(1, sizeof(*w->q));
	w->bpf = no_bpf ? BPF_OFF : sp->bpf;
	w->event_log = sp->event_log ? xstrdup(sp->event_log) : NULL;
	w->event_log_max_bytes = sp->event_log_max_bytes;
	w->event_log_keep = sp->event_log_keep;
	w->metrics_listen = sp->metrics_listen ? xstrdup(sp->metrics_listen) : NULL;
	w->console = sp->console;
	w->web = webconf_dup(sp->web);
	pthread_mutex_init(&w->shared.mu, NULL);
	w->shared.web = &w->web;
	w->control_socket = control_socket ? xstrdup(control_socket) : NULL;
	w->console_auth_none = sp->console_auth_none;
	w->console_hosts = sp->console_hosts ? strv_copy(sp->console_hosts) :
	    NULL;
	w->console_token_ttl_ns = env_ms("ARBOR_CONSOLE_TOKEN_TTL_MS", 3600000);
	w->console_session_ttl_ns = env_ms("ARBOR_CONSOLE_SESSION_TTL_MS",
	    86400000);
	if (obswatch_console_open(w))
		log_msg(LOG_WARN, "observability.console_auth = \"none\": anyone who can reach %s sees the tree and every worker's output; meant only for a listener nobody else can reach",
		    sp->metrics_listen);
	w->fault = fault_from_env();
	w->fig_budget_ns = -1;
	if (getenv("ARBOR_FIG_BUDGET_MS")) {
		char *end;
		long ms = strtol(getenv("ARBOR_FIG_BUDGET_MS"), &end, 10);

		if (*end || ms < 0 || ms > 60000)
			log_msg(LOG_WARN, "ARBOR_FIG_BUDGET_MS=%s: not a number of milliseconds from 0 to 60000; ignored",
			    getenv("ARBOR_FIG_BUDGET_MS"));
		else
			w->fig_budget_ns = ms * (int64_t)NSEC_PER_MSEC;
	}
	if (w->fault != OBS_FAULT_NONE)
		log_msg(LOG_WARN, "ARBOR_OBS_FAULT=%s: injecting a fault into the observability thread",
		    getenv("ARBOR_OBS_FAULT"));
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	rfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->wake_fd < 0 || efd < 0 || sfd < 0 || rfd < 0 ||
	    reactor_watch(r, &w->exitw, efd, EPOLLIN, on_exit_fd, w) < 0 ||
	    reactor_watch(r, &w->stallw, sfd, EPOLLIN, on_stall, w) < 0 ||
	    reactor_watch(r, &w->restartw, rfd, EPOLLIN, on_restart, w) < 0)
		fatal("%s: eventfd/timerfd: %s", __func__, strerror(errno));
	helpers_names(&w->helpers);
	start_thread(w);
	return w;
}

void
obswatch_stop(struct obswatch *w)
{
	if (!w)
		return;
	if (w->running) {
		struct timespec until;

		/* Bounded, as everything at exit: a thread that does not end
		 * in time is left to end with the process. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		pthread_cancel(w->thread);
		if (pthread_timedjoin_np(w->thread, NULL, &until) != 0) {
			/* It still uses the queue, its args and their fds:
			 * all are left to the process's exit. */
			log_msg(LOG_WARN, "observability thread did not end within 2 s; exiting without it");
			return;
		}
		args_free(w->args);
	}
	probes_close(w->probes);
	reactor_unwatch(w->r, &w->exitw);
	reactor_unwatch(w->r, &w->stallw);
	reactor_unwatch(w->r, &w->restartw);
	close(w->exitw.fd);
	close(w->stallw.fd);
	close(w->restartw.fd);
	close(w->wake_fd);
	free(w->event_log);
	free(w->metrics_listen);
	free(w->control_socket);
	strv_free(w->console_hosts);
	webconf_free(w->web);
	pthread_mutex_destroy(&w->shared.mu);
	cg_view_free(&w->cg);
	free(w->q);
	free(w);
}

bool
obswatch_console_open(const struct obswatch *w)
{
	return w && w->console && w->console_auth_none && w->metrics_listen &&
	    *w->metrics_listen;
}

static void
wake(struct obswatch *w)
{
	uint64_t one = 1;

	(void)!write(w->wake_fd, &one, sizeof(one));
}

void
obswatch_web(struct obswatch *w, const struct web_conf *web)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->shared.mu);
	webconf_free(w->web);
	w->web = webconf_dup(web);
	atomic_fetch_add(&w->shared.gen, 1);
	pthread_mutex_unlock(&w->shared.mu);
	if (w->running)
		wake(w);
}

/*
 * Queues an event; the thread is woken once per loop batch (obswatch_flush),
 * not per event: a restart makes five events and the syscalls add up.
 */
void
obswatch_event(struct obswatch *w, const struct obs_msg *m)
{
	if (obsq_push(w->q, m))
		w->wake_pending = true;
}

void
obswatch_flush(struct obswatch *w)
{
	if (w && w->wake_pending && w->running)
		wake(w);
	if (w)
		w->wake_pending = false;
}

/*
 * Ready: running, with room, and its last heartbeat at most a beat and a
 * quarter of a second ago (the thread re-arms the stall timer at each
 * beat, so what is left of it says how long ago that was). A thread that has missed its beats takes no
 * more status requests: they are answered at once without the figures,
 * instead of waiting for the thread to be stopped and restarted.
 */
bool
obswatch_ready(const struct obswatch *w)
{
	struct itimerspec left;

	if (!w || !w->running || w->cancelling || !obsq_room(w->q))
		return false;
	if (timerfd_gettime(w->stallw.fd, &left) < 0)
		return true;
	return (uint64_t)left.it_value.tv_sec * 1000 +
	    (uint64_t)left.it_value.tv_nsec / 1000000 >
	    OBS_STALL_MS - OBS_HEARTBEAT_MS - 250;
}

int
obswatch_hand_over(struct obswatch *w, int fd, const struct obs_request *req)
{
	struct obs_msg m = { .kind = OBS_MSG_CLIENT, .fd = fd, .req = *req };

	if (!w || !w->running || w->cancelling)
		return -1;
	if (!obsq_push(w->q, &m))
		return -1;
	wake(w);
	return 0;
}

struct obs_helpers *
obswatch_helpers(struct obswatch *w)
{
	return w ? &w->helpers : NULL;
}
