/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core's side of the observability helper (obswatch.h; arbord(8),
 * FAULT DOMAINS). The core loads the probes once, makes the shared memfd
 * (the helper's configuration and the event queue), binds the metrics
 * listener and opens the event log; each incarnation of the helper gets
 * all of it again through its socket. Events go through the queue and
 * never wait; clients go over the socket with their fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/capability.h>

#include "../config/webconf.h"
#include "../bpf/loader.h"
#include "../helpers/common/hmsg.h"
#include "event.h"
#include "evfiles.h"
#include "helper.h"
#include "listen.h"
#include "log.h"
#include "obswatch.h"
#include "util.h"

#define LISTEN_RETRY_MAX_MS 30000
/* Status clients handed over and not yet answered, at most. */
#define PENDING_MAX 256

struct pending {
	uint64_t id;
	int fd;			/* the core's dup of the client */
	int memfd;		/* the tree it was sent (sealed) */
	size_t len;
};

struct obswatch {
	struct reactor *r;
	struct helper *h;	/* NULL until obswatch_bind */
	struct obs_shm *shm;
	int shm_fd;
	int wake_fd;
	bool wake_pending;	/* pushed since the last wake-up */
	/* The probes, loaded once by the core. */
	struct probes *probes;
	struct probes_fds pfds;
	/* The metrics listener, bound by the core (a port below 1024 too). */
	char *listen;
	int listen_fd;
	struct watch listenw;	/* timerfd: the next try to bind */
	uint32_t listen_backoff_ms;
	bool listen_said;
	struct web_conf *web;
	struct evfiles *evlog;
	struct outproxy *out;
	struct watch notesw;
	bool console_open;
	void (*orphan)(void *, int, const struct obs_request *);
	void *orphan_ctx;
	int (*dial)(void *, uid_t, gid_t, pid_t);
	void *dial_ctx;
	struct pending pending[PENDING_MAX];
	size_t npending;
	uint64_t next_id;
	uint64_t restarts;
};

/*
 * A lifetime for tests, from the environment (arbord(8), ENVIRONMENT):
 * nanoseconds, or -1 when unset or not milliseconds from min to max.
 */
static int64_t
env_ms(const char *name, long min, long max)
{
	const char *v = getenv(name);
	char *end;
	long ms;

	if (!v)
		return -1;
	ms = strtol(v, &end, 10);
	if (!*v || *end || ms < min || ms > max) {
		log_msg(LOG_WARN, "%s=%s: not a number of milliseconds from %ld to %ld; ignored",
		    name, v, min, max);
		return -1;
	}
	return ms * (int64_t)NSEC_PER_MSEC;
}

static void
wake(struct obswatch *w)
{
	uint64_t one = 1;

	(void)!write(w->wake_fd, &one, sizeof(one));
}

/* ---- what the helper is given ---- */

static void
fill_conf(struct obswatch *w, const struct spec *sp, bool no_bpf,
    const struct cgroups *cg)
{
	struct obs_conf *c = &w->shm->conf;
	struct cg_view v;
	size_t at = 0;

	c->bpf = no_bpf ? BPF_OFF : sp->bpf;
	c->console = sp->console;
	c->console_auth_none = sp->console_auth_none;
	c->event_log_max_bytes = sp->event_log_max_bytes;
	c->event_log_keep = sp->event_log_keep;
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s",
	    sp->metrics_listen ? sp->metrics_listen : "");
	snprintf(c->event_log, sizeof(c->event_log), "%s",
	    sp->event_log ? sp->event_log : "");
	for (size_t i = 0; sp->console_hosts && sp->console_hosts[i]; i++) {
		size_t n = strlen(sp->console_hosts[i]) + 1;

		if (at + n + 1 > sizeof(c->console_hosts))
			break;
		memcpy(c->console_hosts + at, sp->console_hosts[i], n);
		at += n;
	}
	c->console_hosts[at] = '\0';
	cgroups_view(cg, &v);
	snprintf(c->cg_v2_base, sizeof(c->cg_v2_base), "%s",
	    v.v2_base ? v.v2_base : "");
	for (size_t i = 0; i < 4; i++)
		snprintf(c->cg_v1_base[i], sizeof(c->cg_v1_base[i]), "%s",
		    v.v1_base[i] ? v.v1_base[i] : "");
	c->cg_base_id = v.base_id;
	c->cg_self_id = v.self_id;
	c->cg_helpers_id = v.helpers_id;
	c->cg_base_level = v.base_level;
	c->cg_v2_ctrls = v.v2_ctrls;
	cg_view_free(&v);
}

/* A memfd holding b, sealed: the helper can neither change nor grow it. */
static int
memfd_of(const char *b, size_t len)
{
	int fd = memfd_create("arbor-obs-data", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, b + done, len - done);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The len bytes memfd_of wrote; NULL if they cannot be read back. */
static char *
memfd_text(int fd, size_t len)
{
	char *b = xcalloc(len + 1, 1);
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, b + got, len - got, (off_t)got);

		if (n <= 0) {
			free(b);
			return NULL;
		}
		got += (size_t)n;
	}
	return b;
}

static void
send_web(struct obswatch *w)
{
	struct hmsg_obs_web m;
	size_t len;
	char *b;
	int fd = -1;

	hmsg_init(&m, HMSG_OBS_WEB, sizeof(m));
	if (w->web) {
		b = webconf_pack(w->web, &len);
		fd = memfd_of(b, len);
		explicit_bzero(b, len);
		free(b);
		if (fd < 0) {
			log_msg(LOG_WARN, "observability: web_config: memfd: %s",
			    strerror(errno));
			return;
		}
		m.has = 1;
	}
	(void)helper_send_fds(w->h, &m, sizeof(m), &fd, fd >= 0);
	if (fd >= 0)
		close(fd);
}

static void
send_evlog(struct obswatch *w, int fd)
{
	struct hmsg_obs_evlog m;

	hmsg_init(&m, HMSG_OBS_EVLOG, sizeof(m));
	m.has = fd >= 0;
	(void)helper_send_fds(w->h, &m, sizeof(m), &fd, fd >= 0);
	if (fd >= 0)
		close(fd);
}

/* Each status client it held is answered by the core (no figures). */
static void
take_back(struct obswatch *w)
{
	for (size_t i = 0; i < w->npending; i++) {
		struct pending *p = &w->pending[i];
		struct obs_request req = { .kind = OBS_REQ_STATUS };

		req.status_text = memfd_text(p->memfd, p->len);
		req.status_len = p->len;
		close(p->memfd);
		if (w->orphan)
			w->orphan(w->orphan_ctx, p->fd, &req);
		else
			close(p->fd);
		free(req.status_text);
	}
	w->npending = 0;
}

static void
on_up(void *ctx)
{
	struct obswatch *w = ctx;
	struct hmsg_obs_conf c;
	int fds[4], n = 0, evfd = -1;

	w->shm->conf.restarts = w->restarts;
	/* What the last one said it read is not this one's (obswatch_queued
	 * until it says). */
	atomic_store(&w->shm->q.read, atomic_load(&w->shm->q.head));
	if (w->probes) {
		struct hmsg_obs_probes p;
		const int pf[] = { w->pfds.events, w->pfds.runq,
		    w->pfds.tracked, w->pfds.tasks, w->pfds.dropped };

		hmsg_init(&p, HMSG_OBS_PROBES, sizeof(p));
		(void)helper_send_fds(w->h, &p, sizeof(p), pf, 5);
	}
	send_web(w);
	hmsg_init(&c, HMSG_OBS_CONF, sizeof(c));
	fds[n++] = w->shm_fd;
	fds[n++] = w->wake_fd;
	if (w->listen_fd >= 0) {
		fds[n++] = w->listen_fd;
		c.has_listen = 1;
	}
	if (w->evlog && (evfd = evfiles_open(w->evlog)) >= 0) {
		fds[n++] = evfd;
		c.has_evlog = 1;
	}
	(void)helper_send_fds(w->h, &c, sizeof(c), fds, n);
	if (evfd >= 0)
		close(evfd);
}

static void
on_down(void *ctx)
{
	struct obswatch *w = ctx;
	struct obs_msg m = { .kind = OBS_MSG_EVENT, .event = EV_OBS_RESTART,
	    .fd = -1 };

	take_back(w);
	w->restarts++;
	m.mono_ns = mono_ns();
	m.real_ns = realtime_ns();
	snprintf(m.path, sizeof(m.path), "arbord");
	snprintf(m.text, sizeof(m.text), "restart %llu",
	    (unsigned long long)w->restarts);
	log_event(&m);
	obsq_push(&w->shm->q, &m);
}

static void
on_dial(struct obswatch *w)
{
	struct hmsg_obs_conn c;
	pid_t pid = helper_pid(w->h);
	uid_t uid;
	gid_t gid;
	int fd;

	helper_user(w->h, &uid, &gid);
	fd = w->dial ? w->dial(w->dial_ctx, uid, gid, pid) : -1;
	/* Answered either way: a refusal ends the console's request now. */
	hmsg_init(&c, HMSG_OBS_CONN, sizeof(c));
	(void)helper_send_fds(w->h, &c, sizeof(c), &fd, fd >= 0);
	if (fd >= 0)
		close(fd);
}

static void
on_done(struct obswatch *w, uint64_t id)
{
	for (size_t i = 0; i < w->npending; i++)
		if (w->pending[i].id == id) {
			close(w->pending[i].fd);
			close(w->pending[i].memfd);
			w->pending[i] = w->pending[--w->npending];
			return;
		}
}

static int
on_msg(void *ctx, const void *rec, size_t len, char *why, size_t whylen)
{
	struct obswatch *w = ctx;
	const struct hmsg_hdr *h = rec;

	(void)len;
	switch (h->type) {
	case HMSG_OBS_DIAL:
		on_dial(w);
		return 0;
	case HMSG_OBS_DONE:
		on_done(w, ((const struct hmsg_obs_done *)rec)->id);
		return 0;
	case HMSG_OBS_EVLOG_ASK:
		if (!w->evlog)
			return 0;
		send_evlog(w, ((const struct hmsg_obs_evlog_ask *)rec)->full ?
		    evfiles_rotate(w->evlog) : evfiles_open(w->evlog));
		return 0;
	default:
		snprintf(why, whylen, "a record of type %u to the core's observability side",
		    h->type);
		return -1;
	}
}

/* ---- the metrics listener ---- */

static void
try_listen(struct obswatch *w)
{
	char err[256];

	if (w->listen_fd >= 0 || !w->listen)
		return;
	if ((w->listen_fd = tcp_listen(w->listen, err, sizeof(err))) >= 0) {
		if (w->listen_said)
			log_msg(LOG_INFO, "metrics: listening on %s now",
			    w->listen);
		w->listen_backoff_ms = 0;
		if (w->h && helper_up(w->h)) {
			struct hmsg_obs_listen m;

			hmsg_init(&m, HMSG_OBS_LISTEN, sizeof(m));
			(void)helper_send_fds(w->h, &m, sizeof(m),
			    &w->listen_fd, 1);
		}
		return;
	}
	w->listen_backoff_ms = w->listen_backoff_ms ?
	    w->listen_backoff_ms * 2 : 1000;
	if (w->listen_backoff_ms > LISTEN_RETRY_MAX_MS)
		w->listen_backoff_ms = LISTEN_RETRY_MAX_MS;
	if (!w->listen_said)
		log_msg(LOG_WARN, "metrics: %s; retrying with backoff (supervision is unaffected)",
		    err);
	w->listen_said = true;
	timerfd_arm(w->listenw.fd, w->listen_backoff_ms, 0);
}

static void
on_listen_timer(void *owner, uint32_t events)
{
	struct obswatch *w = owner;

	(void)events;
	read_counter(w->listenw.fd);
	try_listen(w);
}

/* ---- worker output's notes, passed on ---- */

static void
on_notes(void *owner, uint32_t events)
{
	struct obswatch *w = owner;
	struct out_note *v;
	size_t n;

	(void)events;
	read_counter(outp_notes_fd(w->out));
	n = outp_notes_take(w->out, &v);
	for (size_t i = 0; i < n; i++) {
		struct hmsg_obs_note m;

		hmsg_init(&m, HMSG_OBS_NOTE, sizeof(m));
		m.pid = v[i].pid;
		m.exited = v[i].exited;
		m.dropped = v[i].dropped;
		snprintf(m.path, sizeof(m.path), "%s", v[i].path);
		if (v[i].tail) {
			m.has_tail = 1;
			snprintf(m.tail, sizeof(m.tail), "%s", v[i].tail);
		}
		/* The helper down: the exit's event says its tail is missing. */
		if (w->h)
			(void)helper_send(w->h, &m, sizeof(m));
	}
}

/* ---- the probes ---- */

static void
load_probes(struct obswatch *w, const struct spec *sp, bool no_bpf,
    const struct cgroups *cg)
{
	enum bpf_mode mode = no_bpf ? BPF_OFF : sp->bpf;
	const char *fault = getenv("ARBOR_OBS_FAULT");
	struct obs_conf *c = &w->shm->conf;
	char err[256];
	uint64_t t0 = mono_ns();

	if (mode == BPF_OFF)
		return;
	if (fault && !strcmp(fault, "bpf"))
		snprintf(err, sizeof(err), "injected fault (ARBOR_OBS_FAULT=bpf)");
	else {
		struct cg_view v;
		struct probes_cgroup pc;

		cgroups_view(cg, &v);
		pc = (struct probes_cgroup){ .base_id = v.base_id,
		    .self_id = v.self_id, .helpers_id = v.helpers_id,
		    .base_level = v.base_level };
		w->probes = probes_open(getpid(), gettid(), v.base_id ? &pc :
		    NULL, NULL, NULL, err, sizeof(err));
		cg_view_free(&v);
	}
	if (w->probes) {
		struct probe_state st[OBS_CONF_STATES];
		size_t n = probes_states(st, OBS_CONF_STATES), on = 0;

		probes_export(w->probes, &w->pfds);
		c->has_probes = 1;
		c->attached_ns = mono_ns();
		c->runq_max = w->pfds.runq_max;
		c->nstates = (uint32_t)n;
		memcpy(c->states, st, n * sizeof(*st));
		for (size_t i = 0; i < n; i++)
			if (strcmp(st[i].state, "attached") == 0)
				on++;
			else
				log_msg(LOG_WARN, "eBPF probe %s off: %s",
				    st[i].name, st[i].why);
		log_msg(LOG_INFO, "eBPF probes attached (%zu of %zu) in %.0f ms",
		    on, n, (double)(c->attached_ns - t0) / 1e6);
		return;
	}
	c->nstates = (uint32_t)probes_states(c->states, OBS_CONF_STATES);
	if (mode == BPF_ON)
		log_msg(LOG_ERROR, "eBPF unavailable (bpf = \"on\"): %s; supervising without it",
		    err);
	else
		log_msg(LOG_INFO, "eBPF unavailable: %s; observability runs without it",
		    err);
}

/* ---- the interface ---- */

struct obs_helpers *
obswatch_helpers(struct obswatch *w)
{
	return w ? &w->shm->helpers : NULL;
}

struct obs_sockets *
obswatch_sockets(struct obswatch *w)
{
	return w ? &w->shm->sockets : NULL;
}

struct obswatch *
obswatch_start(struct reactor *r, const struct spec *sp, bool no_bpf,
    const struct cgroups *cg, struct outproxy *out)
{
	struct obswatch *w = xcalloc(1, sizeof(*w));
	const char *ms;
	int fd;

	w->r = r;
	w->out = out;
	w->listen_fd = -1;
	/*
	 * Its pages made and mapped now (MAP_POPULATE, some 3.9 MB, all of
	 * them in use once the event queue has gone round once): otherwise
	 * the queue's first 4,096 events each fault a page in, in the core,
	 * in the middle of a restart (8% of the core's CPU in a crash loop).
	 */
	w->shm_fd = memfd_create("arbor-obs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (w->shm_fd < 0 || ftruncate(w->shm_fd, sizeof(*w->shm)) < 0 ||
	    fcntl(w->shm_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) < 0 ||
	    (w->shm = mmap(NULL, sizeof(*w->shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_POPULATE, w->shm_fd, 0)) == MAP_FAILED)
		fatal("observability: its shared memory: %s", strerror(errno));
	fill_conf(w, sp, no_bpf, cg);
	w->shm->conf.console_token_ttl_ns = env_ms("ARBOR_CONSOLE_TOKEN_TTL_MS",
	    1, 3600000);
	w->shm->conf.console_session_ttl_ns = env_ms(
	    "ARBOR_CONSOLE_SESSION_TTL_MS", 1, 86400000);
	w->shm->conf.fig_budget_ns = env_ms("ARBOR_FIG_BUDGET_MS", 0, 60000);
	w->shm->conf.fig_cold_ns = env_ms("ARBOR_FIG_COLD_MS", 0, 60000);
	if ((ms = getenv("ARBOR_OBS_FAULT")) && *ms) {
		if (strcmp(ms, "stall") && strcmp(ms, "crash") &&
		    strcmp(ms, "bpf"))
			log_msg(LOG_WARN, "ARBOR_OBS_FAULT=%s: not stall, crash or bpf; ignored",
			    ms);
		else
			log_msg(LOG_WARN, "ARBOR_OBS_FAULT=%s: injecting a fault into the observability helper",
			    ms);
	}
	helpers_names(&w->shm->helpers);
	w->web = webconf_dup(sp->web);
	w->console_open = sp->console && sp->console_auth_none &&
	    sp->metrics_listen && *sp->metrics_listen;
	if (w->console_open)
		log_msg(LOG_WARN, "observability.console_auth = \"none\": anyone who can reach %s sees the tree and every worker's output; meant only for a listener nobody else can reach",
		    sp->metrics_listen);
	if ((w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) < 0 ||
	    reactor_watch(r, &w->listenw, fd, EPOLLIN, on_listen_timer, w) < 0)
		fatal("%s: eventfd/timerfd: %s", __func__, strerror(errno));
	if (out && reactor_watch(r, &w->notesw, outp_notes_fd(out), EPOLLIN,
	    on_notes, w) < 0)
		fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
	if (sp->event_log && *sp->event_log)
		w->evlog = evfiles_new(r, sp->event_log, sp->event_log_keep);
	if (sp->metrics_listen && *sp->metrics_listen) {
		w->listen = xstrdup(sp->metrics_listen);
		try_listen(w);
	}
	load_probes(w, sp, no_bpf, cg);
	return w;
}

void
obswatch_bind(struct obswatch *w, struct helpers *hs)
{
	const struct helper_client cl = { .on_msg = on_msg, .on_up = on_up,
	    .on_down = on_down, .ctx = w };

	if (!w)
		return;
	w->h = helpers_get(hs, HELPER_OBS);
	if (w->probes)
		helpers_obs_caps(hs, 1ULL << CAP_BPF);
	helper_attach(w->h, &cl);
	helper_need(w->h);
}

void
obswatch_stop(struct obswatch *w)
{
	if (!w)
		return;
	/*
	 * What the queue holds gets a second to reach the event log (a
	 * helper that has stopped beating gets none): the helper gives the
	 * queue's places back once their events are written out, and what it
	 * holds waiting for the rest of it (a kernel record, a tail, a
	 * backlog's peak) goes out as it is now (q.finish).
	 */
	if (w->h && !helper_silent(w->h)) {
		uint64_t end = mono_ns() + NSEC_PER_SEC;
		struct obsq *q = &w->shm->q;

		if (w->out)
			on_notes(w, 0);
		atomic_store(&q->finish, 1);
		wake(w);
		while (mono_ns() < end && atomic_load(&q->head) !=
		    atomic_load(&q->tail))
			usleep(2000);
	}
	if (w->h) {
		static const struct helper_client none;

		helper_attach(w->h, &none);
	}
	take_back(w);
	probes_close(w->probes);
	if (w->out)
		reactor_unwatch(w->r, &w->notesw);
	reactor_unwatch(w->r, &w->listenw);
	close(w->listenw.fd);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	close(w->wake_fd);
	evfiles_free(w->evlog);
	webconf_free(w->web);
	free(w->listen);
	munmap(w->shm, sizeof(*w->shm));
	close(w->shm_fd);
	free(w);
}

bool
obswatch_console_open(const struct obswatch *w)
{
	return w && w->console_open;
}

void
obswatch_web(struct obswatch *w, const struct web_conf *web)
{
	if (!w)
		return;
	webconf_free(w->web);
	w->web = webconf_dup(web);
	if (w->h && helper_up(w->h))
		send_web(w);
}

/*
 * Queues an event; the helper is woken once per loop batch (obswatch_flush),
 * not per event: a restart makes five events and the syscalls add up. The
 * queue's head is the helper's: a wrong one can only make the queue look
 * full (obsq_push compares, never indexes by it).
 */
void
obswatch_event(struct obswatch *w, const struct obs_msg *m)
{
	if (obsq_push(&w->shm->q, m))
		w->wake_pending = true;
}

void
obswatch_flush(struct obswatch *w)
{
	if (w && w->wake_pending && w->h && helper_up(w->h))
		wake(w);
	if (w)
		w->wake_pending = false;
}

size_t
obswatch_queued(const struct obswatch *w)
{
	if (!w)
		return 0;
	/* Not read yet: those read and held are the helper's to wait on. */
	return (size_t)(atomic_load_explicit(&w->shm->q.tail,
	    memory_order_relaxed) - atomic_load_explicit(&w->shm->q.read,
	    memory_order_acquire));
}

/*
 * Ready: running and heard from within two heartbeats. A helper that has
 * gone quiet takes no more status requests: they are answered at once
 * without the figures, instead of waiting for it to be restarted.
 */
bool
obswatch_ready(const struct obswatch *w)
{
	return w && w->h && helper_up(w->h) && !helper_silent(w->h) &&
	    w->npending < PENDING_MAX;
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

void
obswatch_on_dial(struct obswatch *w, int (*fn)(void *, uid_t, gid_t, pid_t),
    void *ctx)
{
	if (!w)
		return;
	w->dial = fn;
	w->dial_ctx = ctx;
}

int
obswatch_hand_over(struct obswatch *w, int fd, const struct obs_request *req)
{
	struct hmsg_obs_client m;
	int fds[2] = { fd, -1 }, rc;

	if (!w || !w->h || !helper_up(w->h))
		return -1;
	hmsg_init(&m, HMSG_OBS_CLIENT, sizeof(m));
	m.kind = req->kind;
	m.follow = req->follow;
	m.trace_ns = req->trace_ns;
	if (req->kind == OBS_REQ_STATUS) {
		if (w->npending == PENDING_MAX ||
		    (fds[1] = memfd_of(req->status_text, req->status_len)) < 0)
			return -1;
		m.has_status = 1;
		m.id = ++w->next_id;
	}
	rc = helper_send_fds(w->h, &m, sizeof(m), fds, 1 + m.has_status);
	if (rc < 0) {
		if (fds[1] >= 0)
			close(fds[1]);
		return -1;
	}
	if (m.has_status) {
		/* Kept until it is answered: should the helper die first,
		 * the core answers it (take_back). */
		struct pending *p = &w->pending[w->npending++];

		p->id = m.id;
		p->fd = fd;
		p->memfd = fds[1];
		p->len = req->status_len;
		return 0;
	}
	close(fd);
	return 0;
}
