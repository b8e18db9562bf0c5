/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arbor-checks: the helper process that runs tcp and http health checks
 * (arbord(8), FAULT DOMAINS). The core (daemon/netcheck.c for
 * daemon/health.c) schedules the checks, bounds them by their timeout and
 * judges their results; this process only connects, asks and says what it
 * saw, as one record per result on its socket (helpers/common/hmsg.h). It
 * runs as daemon.helper_user, with no capabilities, under a seccomp
 * allow-list it installs once libcurl is set up.
 *
 * Its loop is one epoll over its socket, its heartbeat timer, the sockets
 * of tcp checks under way and the sockets libcurl's multi handle asks for
 * (CURLMOPT_SOCKETFUNCTION), with curl's timer (CURLMOPT_TIMERFUNCTION) as
 * the epoll timeout.
 *
 * A connection is never reused and is closed with a reset (SO_LINGER 0):
 * a check every second per worker would otherwise pile up TIME_WAIT
 * sockets. No name is ever resolved: the address is an IP literal, and
 * "localhost" is handed to curl as 127.0.0.1 (CURLOPT_RESOLVE).
 *
 * A socket of curl's is watched through a duplicate of its descriptor
 * that this process owns (struct csock), never through curl's own: libcurl
 * 7.88 closes a socket that has not connected yet (a check cancelled while
 * it connects) before its CURL_POLL_REMOVE, and an EPOLL_CTL_DEL on the
 * closed descriptor fails. Registered on the duplicate, a socket's
 * registration ends exactly when it is removed here.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../config/spec.h"
#include "../../daemon/util.h"
#include "../common/hmsg.h"
#include "../common/hrt.h"

/* What of an http body goes into a failure's detail. */
#define BODY_KEEP 160
/* An http body is read up to this, then the transfer is cut off. */
#define HTTP_READ_MAX (64 * 1024)
/* Easy handles kept for reuse. */
#define POOL_MAX 256

/* A request as the core sent it (checked by hmsg_check_from_core). */
typedef struct hmsg_check_begin nc_req;

/* What an epoll event points at. */
enum tag { TAG_SOCK, TAG_BEAT, TAG_FAULT, TAG_TCP, TAG_CURL };

/* Freed at the end of the batch of events that may still name it. */
struct watched {
	enum tag tag;
	bool dead;
};

struct xfer {
	struct watched w;	/* TAG_TCP: the epoll data of its socket */
	uint64_t id;
	char *target;
	int fd;			/* tcp */
	CURL *easy;		/* http */
	struct curl_slist *resolve;
	char errbuf[CURL_ERROR_SIZE];
	char body[BODY_KEEP];
	size_t bodylen, bodyread;
	bool cut;
	int sockerr;		/* its socket could not be watched: errno */
	struct xfer *prev, *next;
};

/* A socket of curl's, as its CURL_POLL_* callbacks name it. */
struct csock {
	struct watched w;	/* TAG_CURL */
	int fd;			/* curl's descriptor: what it is told */
	int own;		/* a duplicate: what epoll watches */
	ino_t ino;		/* the socket's, to see curl's fd reused */
	struct csock *prev, *next;
};

#define VEC(T) struct { T *v; size_t len, cap; }
#define SWAP(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } while (0)

struct netcheck {
	struct hrt rt;
	int epfd;
	struct watched sock_tag, beat_tag, fault_tag;
	/* Results the socket had no room for: sent once it has. */
	VEC(struct hmsg_check_result) out;
	void **grave;		/* dead xfers and csocks, freed after the batch */
	size_t ngrave, capgrave;
	CURLM *multi;
	uint64_t curl_due;
	struct xfer *xfers;
	struct csock *csocks;
	bool sockerrs;		/* some xfer has sockerr set */
	CURL *pool[POOL_MAX];
	size_t npool;
	bool quit;
};

#define VEC_PUSH(vec, item) do {					\
		if ((vec).len == (vec).cap) {				\
			(vec).cap = (vec).cap ? (vec).cap * 2 : 64;	\
			(vec).v = xreallocarray((vec).v, (vec).cap,	\
			    sizeof(*(vec).v));				\
		}							\
		(vec).v[(vec).len++] = (item);				\
	} while (0)

/* ---- results ---- */

static void
watch_out(struct netcheck *nc, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
	    .data.ptr = &nc->sock_tag };

	epoll_ctl(nc->epfd, EPOLL_CTL_MOD, nc->rt.sock, &ev);
}

/* What waited for room in the socket, in order. */
static void
send_waiting(struct netcheck *nc)
{
	size_t i = 0;

	while (i < nc->out.len &&
	    hmsg_send(nc->rt.sock, &nc->out.v[i], sizeof(nc->out.v[i])) == 0)
		i++;
	memmove(nc->out.v, nc->out.v + i, (nc->out.len - i) *
	    sizeof(*nc->out.v));
	nc->out.len -= i;
	watch_out(nc, nc->out.len > 0);
}

static void
publish(struct netcheck *nc, uint64_t id, bool ok, int err, const char *detail)
{
	struct hmsg_check_result r;

	hmsg_init(&r, HMSG_CHECK_RESULT, sizeof(r));
	r.id = id;
	r.ok = ok;
	r.err = err < 0 || err > 4095 ? EIO : err;
	/* A long URL in a detail is cut off, and says so. */
	if ((size_t)snprintf(r.detail, sizeof(r.detail), "%s", detail) >=
	    sizeof(r.detail))
		memcpy(r.detail + sizeof(r.detail) - 4, "...", 4);
	if (nc->out.len == 0 && hmsg_send(nc->rt.sock, &r, sizeof(r)) == 0)
		return;
	if (nc->out.len == 0)
		watch_out(nc, true);
	VEC_PUSH(nc->out, r);
}

static void
bury(struct netcheck *nc, struct watched *w)
{
	w->dead = true;
	if (nc->ngrave == nc->capgrave) {
		nc->capgrave = nc->capgrave ? nc->capgrave * 2 : 64;
		nc->grave = xreallocarray(nc->grave, nc->capgrave,
		    sizeof(*nc->grave));
	}
	nc->grave[nc->ngrave++] = w;
}

static void
xfer_free(struct netcheck *nc, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		nc->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->fd >= 0) {
		epoll_ctl(nc->epfd, EPOLL_CTL_DEL, x->fd, NULL);
		close(x->fd);
	}
	if (x->easy) {
		curl_multi_remove_handle(nc->multi, x->easy);
		/* A handle kept for reuse names nothing of x's, which is freed
		 * after this batch. */
		curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
		curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(x->easy, CURLOPT_RESOLVE, NULL);
		if (nc->npool < POOL_MAX)
			nc->pool[nc->npool++] = x->easy;
		else
			curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->resolve);
	free(x->target);
	bury(nc, &x->w);
}

/* ---- tcp ---- */

static void
no_linger(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void
tcp_result(struct netcheck *nc, struct xfer *x, int err)
{
	char detail[2 * HMSG_DETAIL];

	if (err == 0)
		snprintf(detail, sizeof(detail), "connected to %s", x->target);
	else
		snprintf(detail, sizeof(detail), "connect %s: %s", x->target,
		    strerror(err));
	publish(nc, x->id, err == 0, err, detail);
	xfer_free(nc, x);
}

static void
tcp_start(struct netcheck *nc, struct xfer *x, const nc_req *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = x };

	memset(&ss, 0, sizeof(ss));
	if (r->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(r->port);
		inet_pton(AF_INET6, r->ip, &a->sin6_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(r->port);
		inet_pton(AF_INET, r->ip, &a->sin_addr);
		len = sizeof(*a);
	}
	x->w.tag = TAG_TCP;
	x->fd = socket(r->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		tcp_result(nc, x, errno);
		return;
	}
	no_linger(x->fd);
	if (connect(x->fd, (struct sockaddr *)&ss, len) == 0) {
		tcp_result(nc, x, 0);
		return;
	}
	if (errno != EINPROGRESS) {
		tcp_result(nc, x, errno);
		return;
	}
	if (epoll_ctl(nc->epfd, EPOLL_CTL_ADD, x->fd, &ev) < 0)
		tcp_result(nc, x, errno);
}

static void
tcp_ready(struct netcheck *nc, struct xfer *x)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	tcp_result(nc, x, err);
}

/* ---- http (libcurl multi) ---- */

static size_t
on_body(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n, take = sizeof(x->body) - 1 - x->bodylen;

	if (take > len)
		take = len;
	memcpy(x->body + x->bodylen, data, take);
	x->bodylen += take;
	x->bodyread += len;
	if (x->bodyread > HTTP_READ_MAX) {
		x->cut = true;
		return 0;	/* never buffered: the transfer ends here */
	}
	return len;
}

static curl_socket_t
on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)userp;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int
on_sockopt(void *userp, curl_socket_t fd, curlsocktype purpose)
{
	(void)userp;
	(void)purpose;
	no_linger(fd);
	return CURL_SOCKOPT_OK;
}

static CURL *
easy_new(void)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	/* A new connection each time, closed after: nothing held between. */
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	/* Straight to the address given: no proxy from the environment, no
	 * redirect, plain http only. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "arbord-health-check");
	return e;
}

static void
http_result(struct netcheck *nc, struct xfer *x, CURLcode rc)
{
	char detail[2 * HMSG_DETAIL], line[BODY_KEEP];
	long code = 0, oserr = 0;
	bool ok;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
	if (code > 0 && (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->cut))) {
		ok = code >= 200 && code < 300;
		first_line(x->body, x->bodylen, line, sizeof(line));
		snprintf(detail, sizeof(detail), "HTTP %ld%s%s%s", code,
		    !ok && line[0] ? ": " : "", !ok ? line : "",
		    x->cut ? " (body cut off at 64 KiB)" : "");
		publish(nc, x->id, ok, 0, detail);
	} else {
		snprintf(detail, sizeof(detail), "%s: %s", x->target,
		    x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
		publish(nc, x->id, false, (int)oserr, detail);
	}
	xfer_free(nc, x);
}

static void
http_start(struct netcheck *nc, struct xfer *x, const nc_req *r)
{
	char entry[96];
	CURL *e = nc->npool ? nc->pool[--nc->npool] : easy_new();

	if (!e) {
		publish(nc, x->id, false, ENOMEM, "curl_easy_init failed");
		xfer_free(nc, x);
		return;
	}
	x->easy = e;
	if (r->localhost) {
		snprintf(entry, sizeof(entry), "localhost:%u:%s", r->port, r->ip);
		x->resolve = curl_slist_append(NULL, entry);
	}
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_RESOLVE, x->resolve);
	curl_easy_setopt(e, CURLOPT_URL, x->target);
	/* A backstop: the core's own deadline cancels it first. */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms + 1000L);
	if (curl_multi_add_handle(nc->multi, e) != CURLM_OK) {
		publish(nc, x->id, false, 0, "curl_multi_add_handle failed");
		xfer_free(nc, x);
	}
}

static void
curl_done(struct netcheck *nc)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(nc->multi, &left))) {
		struct xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x)
			http_result(nc, x, m->data.result);
	}
}

/* Stops watching cs and closes its duplicate (the socket itself, if curl
 * closed its descriptor already); freed after the batch. */
static void
csock_drop(struct netcheck *nc, struct csock *cs)
{
	epoll_ctl(nc->epfd, EPOLL_CTL_DEL, cs->own, NULL);
	close(cs->own);
	if (cs->prev)
		cs->prev->next = cs->next;
	else
		nc->csocks = cs->next;
	if (cs->next)
		cs->next->prev = cs->prev;
	bury(nc, &cs->w);
}

static ino_t
sock_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? 0 : st.st_ino;
}

static struct csock *
csock_new(struct netcheck *nc, int fd, uint32_t events)
{
	struct csock *cs = xcalloc(1, sizeof(*cs));
	struct epoll_event ev = { .events = events, .data.ptr = cs };

	cs->w.tag = TAG_CURL;
	cs->fd = fd;
	cs->ino = sock_ino(fd);
	if ((cs->own = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    epoll_ctl(nc->epfd, EPOLL_CTL_ADD, cs->own, &ev) < 0) {
		int err = errno;

		if (cs->own >= 0)
			close(cs->own);
		free(cs);
		errno = err;
		return NULL;
	}
	cs->next = nc->csocks;
	if (nc->csocks)
		nc->csocks->prev = cs;
	nc->csocks = cs;
	return cs;
}

static int
on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct netcheck *nc = userp;
	struct csock *cs = socketp;
	struct epoll_event ev = { 0 };
	struct xfer *x = NULL;

	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			curl_multi_assign(nc->multi, fd, NULL);
			csock_drop(nc, cs);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	/*
	 * curl closed the socket cs was made for without a remove, and its
	 * descriptor's number is another socket's now: cs goes, and the new
	 * socket gets a record of its own.
	 */
	if (cs && sock_ino(fd) != cs->ino) {
		curl_multi_assign(nc->multi, fd, NULL);
		csock_drop(nc, cs);
		cs = NULL;
	}
	if (cs) {
		ev.data.ptr = cs;
		epoll_ctl(nc->epfd, EPOLL_CTL_MOD, cs->own, &ev);
		return 0;
	}
	if ((cs = csock_new(nc, fd, ev.events))) {
		curl_multi_assign(nc->multi, fd, cs);
		return 0;
	}
	/*
	 * Not watched (no descriptor left for the duplicate): that transfer
	 * fails, once curl has returned, with the reason. A -1 here would
	 * fail every transfer under way.
	 */
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	if (x) {
		x->sockerr = errno ? errno : EIO;
		nc->sockerrs = true;
	}
	return 0;
}

/* The transfers whose socket could not be watched fail. */
static void
fail_unwatched(struct netcheck *nc)
{
	char detail[2 * HMSG_DETAIL];
	struct xfer *x, *next;

	if (!nc->sockerrs)
		return;
	nc->sockerrs = false;
	for (x = nc->xfers; x; x = next) {
		next = x->next;
		if (!x->sockerr)
			continue;
		snprintf(detail, sizeof(detail), "%s: cannot watch its socket: %s",
		    x->target, strerror(x->sockerr));
		publish(nc, x->id, false, x->sockerr, detail);
		xfer_free(nc, x);
	}
}

static int
on_curl_timer(CURLM *m, long ms, void *userp)
{
	struct netcheck *nc = userp;

	(void)m;
	nc->curl_due = ms < 0 ? UINT64_MAX : mono_ns() +
	    (uint64_t)ms * NSEC_PER_MSEC;
	return 0;
}

/* ---- the loop ---- */

static void
begin(struct netcheck *nc, const nc_req *r)
{
	struct xfer *x = xcalloc(1, sizeof(*x));

	x->id = r->id;
	x->target = xstrdup(r->target);
	x->fd = -1;
	x->next = nc->xfers;
	if (nc->xfers)
		nc->xfers->prev = x;
	nc->xfers = x;
	if (r->kind == HEALTH_TCP)
		tcp_start(nc, x, r);
	else
		http_start(nc, x, r);
}

/* The core's records, as many as are there. */
static void
take_requests(struct netcheck *nc)
{
	union {
		struct hmsg_hdr h;
		struct hmsg_check_begin b;
		struct hmsg_check_cancel c;
		char buf[HMSG_MAX];
	} m;
	char why[160];
	ssize_t n;

	while ((n = hmsg_recv(nc->rt.sock, &m, sizeof(m))) > 0) {
		if (hmsg_check_from_core(&m, (size_t)n, why, sizeof(why)) < 0) {
			fprintf(stderr, "arbor-checks: from the core: %s\n", why);
			exit(4);
		}
		if (m.h.type == HMSG_CHECK_CANCEL) {
			for (struct xfer *x = nc->xfers; x; x = x->next)
				if (x->id == m.c.id) {
					xfer_free(nc, x);
					break;
				}
		} else if (m.h.type == HMSG_CHECK_BEGIN)
			begin(nc, &m.b);
	}
	/* The core is gone, or closed its end: nothing left to do. */
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		nc->quit = true;
}

static void
run(struct netcheck *nc)
{
	struct epoll_event evs[64];
	int running;

	while (!nc->quit) {
		uint64_t now = mono_ns();
		int timeout = -1, n;

		if (nc->curl_due != UINT64_MAX)
			timeout = nc->curl_due <= now ? 0 :
			    (int)((nc->curl_due - now + NSEC_PER_MSEC - 1) /
			    NSEC_PER_MSEC);
		n = epoll_wait(nc->epfd, evs, ARRAY_SIZE(evs), timeout);
		for (int i = 0; i < n; i++) {
			struct watched *t = evs[i].data.ptr;
			int mask = 0;

			if (t->dead)
				continue;
			switch (t->tag) {
			case TAG_SOCK:
				if (evs[i].events & EPOLLOUT)
					send_waiting(nc);
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					take_requests(nc);
				break;
			case TAG_BEAT:
				hrt_beat(&nc->rt);
				break;
			case TAG_FAULT:
				hrt_fault(&nc->rt);
				break;
			case TAG_TCP:
				tcp_ready(nc, (struct xfer *)t);
				break;
			case TAG_CURL:
				if (evs[i].events & EPOLLIN)
					mask |= CURL_CSELECT_IN;
				if (evs[i].events & EPOLLOUT)
					mask |= CURL_CSELECT_OUT;
				if (evs[i].events & (EPOLLERR | EPOLLHUP))
					mask |= CURL_CSELECT_ERR;
				curl_multi_socket_action(nc->multi,
				    ((struct csock *)t)->fd, mask, &running);
				break;
			}
		}
		if (nc->curl_due <= mono_ns()) {
			nc->curl_due = UINT64_MAX;
			curl_multi_socket_action(nc->multi, CURL_SOCKET_TIMEOUT,
			    0, &running);
		}
		curl_done(nc);
		fail_unwatched(nc);
		for (size_t i = 0; i < nc->ngrave; i++)
			free(nc->grave[i]);
		nc->ngrave = 0;
	}
}

static void
watch(struct netcheck *nc, int fd, struct watched *w, enum tag tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	w->tag = tag;
	if (epoll_ctl(nc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal("epoll_ctl: %s", strerror(errno));
}

/* What libcurl and this loop call beside every helper's base list. */
static const char *const checks_calls[] = { NULL };

int
main(void)
{
	static struct netcheck nc;

	hrt_init(&nc.rt, "checks");
	signal(SIGPIPE, SIG_IGN);
	nc.curl_due = UINT64_MAX;
	if ((nc.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1: %s", strerror(errno));
	watch(&nc, nc.rt.sock, &nc.sock_tag, TAG_SOCK);
	watch(&nc, nc.rt.beat_fd, &nc.beat_tag, TAG_BEAT);
	if (nc.rt.fault_fd >= 0)
		watch(&nc, nc.rt.fault_fd, &nc.fault_tag, TAG_FAULT);
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		fatal("curl_global_init failed");
	if (!(nc.multi = curl_multi_init()))
		fatal("curl_multi_init failed");
	curl_multi_setopt(nc.multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(nc.multi, CURLMOPT_SOCKETDATA, &nc);
	curl_multi_setopt(nc.multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(nc.multi, CURLMOPT_TIMERDATA, &nc);
	/* Its libraries are set up: from here on, only what it needs. */
	hrt_sandbox(&nc.rt, checks_calls);
	run(&nc);
	/* _exit: nothing to flush, and a sanitizer's exit-time work (a leak
	 * check stops the world with ptrace) is not in the allow-list. */
	_exit(0);
}
