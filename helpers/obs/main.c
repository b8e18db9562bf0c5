/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arbor-obs: the observability helper (arbord(8), FAULT DOMAINS). It runs
 * the observability loop (exporters/obs.c: the join of core events and
 * BPF records, metrics, the event log, traces, the console, `events`
 * clients) unprivileged, under a seccomp allow-list. The core gives it
 * everything through descriptors: the shared memfd with its configuration
 * and the event queue (daemon/obsq.h), the probes' maps, the metrics
 * listener, the event log's file, clients; it asks the core only for a
 * read-only control connection (the console's) and for the event log's
 * rotation.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../config/webconf.h"
#include "../../daemon/log.h"
#include "../../daemon/util.h"
#include "../../exporters/obs.h"
#include "../common/hmsg.h"
#include "../common/hrt.h"

enum { HOOK_SOCK, HOOK_BEAT, HOOK_FAULT };

/* The largest status or web_config the core passes. */
#define MEMFD_MAX (256u << 20)

struct helper {
	struct hrt rt;
	struct obs_args a;
	struct obs_shm *shm;
};

/* What the observability code calls beside every helper's base list. */
static const char *const obs_calls[] = {
	"bpf", "pidfd_open", "accept", "accept4", "sendfile", "ftruncate",
	"fstatfs", "getdents64", "sysinfo", "sched_getparam",
	"sched_setscheduler", "select", "pselect6", "pread64", "pwrite64",
	"memfd_create", "fsync", "fdatasync", NULL
};

static void
closeall(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* A memfd's whole text, NUL-ended; NULL when it is not one. */
static char *
slurp(int fd, size_t *len)
{
	struct stat st;
	char *b;
	size_t got = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size > MEMFD_MAX)
		return NULL;
	b = xcalloc((size_t)st.st_size + 1, 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, b + got, (size_t)st.st_size - got,
		    (off_t)got);

		if (n <= 0) {
			free(b);
			return NULL;
		}
		got += (size_t)n;
	}
	*len = got;
	return b;
}

/* The console's connection comes later, as HMSG_OBS_CONN. */
static int
dial(void *ctx, const char **why)
{
	struct helper *hp = ctx;
	struct hmsg_obs_dial d;

	hmsg_init(&d, HMSG_OBS_DIAL, sizeof(d));
	if (hmsg_send(hp->rt.sock, &d, sizeof(d)) < 0) {
		*why = "arbord's control socket is busy: try again";
		return -1;
	}
	return -2;
}

static void
evlog_ask(void *ctx, bool full)
{
	struct helper *hp = ctx;
	struct hmsg_obs_evlog_ask m;

	hmsg_init(&m, HMSG_OBS_EVLOG_ASK, sizeof(m));
	m.full = full;
	(void)hmsg_send(hp->rt.sock, &m, sizeof(m));
}

static struct web_conf *
web_of(int fd)
{
	struct web_conf *wc;
	size_t len;
	char *b = slurp(fd, &len);

	if (!b)
		fatal("observability: web_config: not a file the core made");
	wc = webconf_unpack(b, len);
	explicit_bzero(b, len);
	free(b);
	if (!wc)
		fatal("observability: web_config: malformed");
	return wc;
}

static int hp_sock = HMSG_FD;

/*
 * A status's tree, mapped rather than read: its pages are the memfd's own,
 * where a copy would cost a fault for each (megabytes at 10,000 workers).
 * The core sealed it, so it cannot shrink under the mapping; a memfd that
 * is not sealed so is refused. exporters/serve.c unmaps it.
 */
static char *
map_status(int fd, size_t *len)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	void *p;

	if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > MEMFD_MAX)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

/* The core may let go of its copy of the status client id. */
static void
status_done(uint64_t id)
{
	struct hmsg_obs_done d;

	hmsg_init(&d, HMSG_OBS_DONE, sizeof(d));
	d.id = id;
	(void)hmsg_send(hp_sock, &d, sizeof(d));
}

static void
on_client(struct obs *o, const struct hmsg_obs_client *c, int *fds, int nfds)
{
	struct obs_msg m = { .kind = OBS_MSG_CLIENT };
	size_t len;
	char *b;

	if (nfds != 1 + c->has_status || c->kind > OBS_REQ_CONSOLE ||
	    (c->kind == OBS_REQ_STATUS) != (c->has_status == 1)) {
		closeall(fds, nfds);
		return;
	}
	m.fd = fds[0];
	m.req.kind = (enum obs_request_kind)c->kind;
	m.req.follow = c->follow;
	m.req.trace_ns = c->trace_ns;
	if (c->has_status) {
		b = map_status(fds[1], &len);
		close(fds[1]);
		if (!b) {
			/* Answered, and said done: the core would otherwise
			 * hold the client until this helper ends. */
			static const char e[] = "{\"ok\":false,\"error\":\"observability could not read the status it was handed\"}\n";

			(void)!write(m.fd, e, sizeof(e) - 1);
			close(m.fd);
			status_done(c->id);
			return;
		}
		m.req.status_text = b;
		m.req.status_len = len;
	}
	/* The loop's sockets are non-blocking. */
	fcntl(m.fd, F_SETFL, fcntl(m.fd, F_GETFL) | O_NONBLOCK);
	obs_client(o, &m);
	if (c->has_status)
		status_done(c->id);
}

static void
on_socket(struct obs *o, struct helper *hp)
{
	union {
		struct hmsg_hdr h;
		struct hmsg_obs_client client;
		struct hmsg_obs_note note;
		struct hmsg_obs_web web;
		struct hmsg_obs_evlog evlog;
		char b[HMSG_MAX];
	} m;
	int fds[HMSG_FDS_MAX], nfds;
	char why[160];
	ssize_t n;

	while ((n = hmsg_recv_fds(hp->rt.sock, &m, sizeof(m), fds,
	    &nfds)) > 0) {
		if (hmsg_check_from_core(&m, (size_t)n, why, sizeof(why)) < 0)
			fatal("observability: from the core: %s", why);
		switch (m.h.type) {
		case HMSG_OBS_CLIENT:
			on_client(o, &m.client, fds, nfds);
			break;
		case HMSG_OBS_NOTE: {
			struct out_note t = { .pid = m.note.pid,
			    .exited = m.note.exited, .dropped = m.note.dropped,
			    .tail = m.note.has_tail ? m.note.tail : NULL };

			snprintf(t.path, sizeof(t.path), "%s", m.note.path);
			obs_note(o, &t);
			closeall(fds, nfds);
			break;
		}
		case HMSG_OBS_WEB:
			obs_set_web(o, m.web.has && nfds == 1 ? web_of(fds[0]) :
			    NULL);
			closeall(fds, nfds);
			break;
		case HMSG_OBS_EVLOG:
			obs_set_evlog(o, nfds == 1 ? fds[0] : -1);
			break;
		case HMSG_OBS_LISTEN:
			if (nfds == 1 && hp->a.listen_fd < 0)
				hp->a.listen_fd = fds[0];
			else
				closeall(fds, nfds);
			break;
		case HMSG_OBS_CONN:
			obs_dialed(o, nfds == 1 ? fds[0] : -1);
			if (nfds > 1)
				closeall(fds + 1, nfds - 1);
			break;
		default:
			closeall(fds, nfds);
			break;
		}
	}
	if (n == 0)
		exit(0);	/* the core is gone, or let us go */
	if (errno != EAGAIN && errno != EINTR)
		fatal("observability: its socket: %s", strerror(errno));
}

static void
on_hook(struct obs *o, size_t which, void *ctx)
{
	struct helper *hp = ctx;

	switch (which) {
	case HOOK_SOCK:
		on_socket(o, hp);
		break;
	case HOOK_BEAT:
		hrt_beat(&hp->rt);
		break;
	case HOOK_FAULT:
		hrt_fault(&hp->rt);
		break;
	}
}

/* "@held": in the helper's first start only, so its next one can show
 * what it does with what this one held. */
static void
on_held(void *ctx)
{
	struct helper *hp = ctx;

	if (hp->a.restarts == 0)
		hrt_held(&hp->rt);
}

static char *
str_or_null(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		fatal("observability: a configuration string not ended");
	return *s ? xstrdup(s) : NULL;
}

/* The obs_args from the core's configuration in the shared memfd. */
static void
take_conf(struct helper *hp)
{
	const struct obs_conf *c = &hp->shm->conf;
	struct obs_args *a = &hp->a;
	size_t nh = 0;

	a->q = &hp->shm->q;
	a->kept = &hp->shm->kept;
	a->helpers = &hp->shm->helpers;
	a->sockets = &hp->shm->sockets;
	a->restarts = c->restarts;
	a->bpf = (enum bpf_mode)c->bpf;
	a->attached_ns = c->attached_ns;
	a->pfds.runq_max = c->runq_max;
	probes_set_states(c->states, c->nstates < OBS_CONF_STATES ?
	    c->nstates : OBS_CONF_STATES);
	a->event_log = str_or_null(c->event_log, sizeof(c->event_log));
	a->event_log_max_bytes = c->event_log_max_bytes;
	a->metrics_listen = str_or_null(c->metrics_listen,
	    sizeof(c->metrics_listen));
	a->console = c->console;
	a->console_auth_none = c->console_auth_none;
	a->console_token_ttl_ns = c->console_token_ttl_ns;
	a->console_session_ttl_ns = c->console_session_ttl_ns;
	a->fig_budget_ns = c->fig_budget_ns;
	a->fig_cold_ns = c->fig_cold_ns;
	if (c->console_hosts[0]) {
		const char *p = c->console_hosts,
		    *end = p + sizeof(c->console_hosts);

		a->console_hosts = xcalloc(1, sizeof(char *));
		while (p < end && *p) {
			const char *z = memchr(p, '\0', (size_t)(end - p));

			if (!z)
				break;
			a->console_hosts = xreallocarray(a->console_hosts,
			    nh + 2, sizeof(char *));
			a->console_hosts[nh++] = xstrdup(p);
			a->console_hosts[nh] = NULL;
			p = z + 1;
		}
	}
	a->cg.v2_base = str_or_null(c->cg_v2_base, sizeof(c->cg_v2_base));
	for (size_t i = 0; i < 4; i++)
		a->cg.v1_base[i] = str_or_null(c->cg_v1_base[i],
		    sizeof(c->cg_v1_base[i]));
	a->cg.base_id = c->cg_base_id;
	a->cg.self_id = c->cg_self_id;
	a->cg.helpers_id = c->cg_helpers_id;
	a->cg.base_level = c->cg_base_level;
	a->cg.v2_ctrls = c->cg_v2_ctrls;
}

/* The first records: the probes and web_config (if any), then CONF. */
static void
setup(struct helper *hp)
{
	struct obs_args *a = &hp->a;
	int evlog = -1;

	a->listen_fd = -1;
	a->wake_fd = -1;
	for (;;) {
		union {
			struct hmsg_hdr h;
			struct hmsg_obs_conf conf;
			struct hmsg_obs_web web;
			char b[HMSG_MAX];
		} m;
		int fds[HMSG_FDS_MAX], nfds, i = 0;
		char why[160];
		ssize_t n;

		/* Blocking: the core sends these at once. */
		fcntl(hp->rt.sock, F_SETFL, 0);
		n = hmsg_recv_fds(hp->rt.sock, &m, sizeof(m), fds, &nfds);
		if (n == 0)
			exit(0);
		if (n < 0)
			fatal("observability: its socket: %s", strerror(errno));
		if (hmsg_check_from_core(&m, (size_t)n, why, sizeof(why)) < 0)
			fatal("observability: from the core: %s", why);
		switch (m.h.type) {
		case HMSG_OBS_PROBES:
			if (nfds != 5)
				fatal("observability: the probes: %d descriptors",
				    nfds);
			a->has_probes = true;
			a->pfds.events = fds[0];
			a->pfds.runq = fds[1];
			a->pfds.tracked = fds[2];
			a->pfds.tasks = fds[3];
			a->pfds.dropped = fds[4];
			continue;
		case HMSG_OBS_WEB:
			webconf_free(a->web);
			a->web = m.web.has && nfds == 1 ? web_of(fds[0]) : NULL;
			closeall(fds, nfds);
			continue;
		case HMSG_OBS_CONF:
			break;
		default:
			fatal("observability: record %u before the configuration",
			    m.h.type);
		}
		if (nfds != 2 + m.conf.has_listen + m.conf.has_evlog)
			fatal("observability: the configuration: %d descriptors",
			    nfds);
		/* Mapped whole now, as the core does: no fault per event. */
		hp->shm = mmap(NULL, sizeof(*hp->shm), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fds[i++], 0);
		if (hp->shm == MAP_FAILED)
			fatal("observability: the shared memory: %s",
			    strerror(errno));
		close(fds[0]);
		a->wake_fd = fds[i++];
		if (m.conf.has_listen)
			a->listen_fd = fds[i++];
		if (m.conf.has_evlog)
			evlog = fds[i++];
		break;
	}
	fcntl(hp->rt.sock, F_SETFL, O_NONBLOCK);
	take_conf(hp);
	hp->a.hook_fd[HOOK_SOCK] = hp->rt.sock;
	hp->a.hook_fd[HOOK_BEAT] = hp->rt.beat_fd;
	hp->a.nhooks = 2;
	if (hp->rt.fault_fd >= 0) {
		hp->a.hook_fd[HOOK_FAULT] = hp->rt.fault_fd;
		hp->a.nhooks = 3;
	}
	hp->a.on_hook = on_hook;
	hp->a.on_held = on_held;
	hp->a.hook_ctx = hp;
	hp->a.dial = dial;
	hp->a.evlog_ask = evlog_ask;
	hp->a.ctx = hp;
	hp->a.evlog_fd = evlog;
}

int
main(void)
{
	static struct helper hp;

	hrt_init(&hp.rt, "observability");
	setup(&hp);
	hrt_sandbox(&hp.rt, obs_calls);
	obs_run(&hp.a);
	return 1;
}
