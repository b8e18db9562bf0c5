/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The thread that runs tcp and http checks (netcheck.h). Its loop is one
 * epoll over its wake-up eventfd, the sockets of tcp checks under way and
 * the sockets libcurl's multi handle asks for (CURLMOPT_SOCKETFUNCTION),
 * with curl's timer (CURLMOPT_TIMERFUNCTION) as the epoll timeout.
 *
 * A connection is never reused and is closed with a reset (SO_LINGER 0):
 * a check every second per worker would otherwise pile up TIME_WAIT
 * sockets. No name is ever resolved: the address is an IP literal, and
 * "localhost" is handed to curl as 127.0.0.1 (CURLOPT_RESOLVE).
 *
 * A socket of curl's is watched through a duplicate of its descriptor
 * that this thread owns (struct csock), never through curl's own: libcurl
 * 7.88 closes a socket that has not connected yet (a check cancelled while
 * it connects) before its CURL_POLL_REMOVE, and an EPOLL_CTL_DEL on the
 * closed descriptor fails. Its registration then lived on for as long as
 * anything else held the socket (a child of arbord's between its clone and
 * its execve has a copy of every descriptor), and reported its events with
 * a pointer to the record freed at the remove. Registered on the duplicate,
 * it ends exactly when this thread removes it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

#include "log.h"
#include "netcheck.h"
#include "util.h"

/* What of an http body goes into a failure's detail. */
#define BODY_KEEP 160
/* An http body is read up to this, then the transfer is cut off. */
#define HTTP_READ_MAX (64 * 1024)
/* Easy handles kept for reuse. */
#define POOL_MAX 256

enum nc_op { NC_START, NC_CANCEL, NC_QUIT };

struct nc_req {
	enum nc_op op;
	uint64_t id;
	enum health_kind kind;
	char *target;		/* NC_START: owned by the request */
	char ip[48];
	int family;
	uint16_t port;
	bool localhost;
	uint32_t timeout_ms;
};

/* What an epoll event points at. */
enum tag { TAG_WAKE, TAG_TCP, TAG_CURL };

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
	pthread_t thread;
	int epfd, wake_fd, res_fd;
	pthread_mutex_t mu;
	VEC(struct nc_req) q, taken;		/* core -> thread */
	VEC(struct nc_result) res, given;	/* thread -> core */
	bool queued;		/* core: requests since the last flush */
	/* The thread's own. */
	struct watched wake_tag;
	void **grave;		/* dead xfers and csocks, freed after the batch */
	size_t ngrave, capgrave;
	CURLM *multi;
	uint64_t curl_due;
	struct xfer *xfers;
	struct csock *csocks;
	bool sockerrs;		/* some xfer has sockerr set */
	CURL *pool[POOL_MAX];
	size_t npool;
	size_t published;	/* results pushed since its last wake-up */
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

static void
wake(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

/* ---- the core's side ---- */

static void
push(struct netcheck *nc, const struct nc_req *r)
{
	pthread_mutex_lock(&nc->mu);
	VEC_PUSH(nc->q, *r);
	pthread_mutex_unlock(&nc->mu);
	nc->queued = true;
}

void
netcheck_begin(struct netcheck *nc, uint64_t id, const struct spec_health *sh)
{
	struct nc_req r = { .op = NC_START, .id = id, .kind = sh->kind,
	    .target = xstrdup(sh->target), .family = sh->family,
	    .port = sh->port, .localhost = sh->localhost,
	    .timeout_ms = sh->timeout_ms };

	snprintf(r.ip, sizeof(r.ip), "%s", sh->ip);
	push(nc, &r);
}

void
netcheck_cancel(struct netcheck *nc, uint64_t id)
{
	const struct nc_req r = { .op = NC_CANCEL, .id = id };

	push(nc, &r);
}

void
netcheck_flush(struct netcheck *nc)
{
	if (!nc || !nc->queued)
		return;
	nc->queued = false;
	wake(nc->wake_fd);
}

int
netcheck_fd(const struct netcheck *nc)
{
	return nc->res_fd;
}

size_t
netcheck_take(struct netcheck *nc, struct nc_result **v)
{
	pthread_mutex_lock(&nc->mu);
	SWAP(nc->res, nc->given);
	nc->res.len = 0;
	pthread_mutex_unlock(&nc->mu);
	*v = nc->given.v;
	return nc->given.len;
}

/* ---- the thread: results ---- */

static void
publish(struct netcheck *nc, uint64_t id, bool ok, int err, const char *detail)
{
	struct nc_result r = { .id = id, .ok = ok, .err = err };

	/* A long URL in a detail is cut off, and says so. */
	if ((size_t)snprintf(r.detail, sizeof(r.detail), "%s", detail) >=
	    sizeof(r.detail))
		memcpy(r.detail + sizeof(r.detail) - 4, "...", 4);
	pthread_mutex_lock(&nc->mu);
	VEC_PUSH(nc->res, r);
	pthread_mutex_unlock(&nc->mu);
	nc->published++;
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
	char detail[2 * NETCHECK_DETAIL];

	if (err == 0)
		snprintf(detail, sizeof(detail), "connected to %s", x->target);
	else
		snprintf(detail, sizeof(detail), "connect %s: %s", x->target,
		    strerror(err));
	publish(nc, x->id, err == 0, err, detail);
	xfer_free(nc, x);
}

static void
tcp_start(struct netcheck *nc, struct xfer *x, const struct nc_req *r)
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
	char detail[2 * NETCHECK_DETAIL], line[BODY_KEEP];
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
http_start(struct netcheck *nc, struct xfer *x, const struct nc_req *r)
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
	char detail[2 * NETCHECK_DETAIL];
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

/* ---- the thread's loop ---- */

static void
take_requests(struct netcheck *nc)
{
	uint64_t n;

	(void)!read(nc->wake_fd, &n, sizeof(n));
	pthread_mutex_lock(&nc->mu);
	SWAP(nc->q, nc->taken);
	nc->q.len = 0;
	pthread_mutex_unlock(&nc->mu);
	for (size_t i = 0; i < nc->taken.len; i++) {
		struct nc_req *r = &nc->taken.v[i];
		struct xfer *x;

		switch (r->op) {
		case NC_QUIT:
			nc->quit = true;
			break;
		case NC_CANCEL:
			for (x = nc->xfers; x; x = x->next)
				if (x->id == r->id) {
					xfer_free(nc, x);
					break;
				}
			break;
		case NC_START:
			x = xcalloc(1, sizeof(*x));
			x->id = r->id;
			x->target = r->target;
			r->target = NULL;
			x->fd = -1;
			x->next = nc->xfers;
			if (nc->xfers)
				nc->xfers->prev = x;
			nc->xfers = x;
			if (r->kind == HEALTH_TCP)
				tcp_start(nc, x, r);
			else
				http_start(nc, x, r);
			break;
		}
	}
	nc->taken.len = 0;
}

static void *
netcheck_main(void *arg)
{
	struct netcheck *nc = arg;
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
			case TAG_WAKE:
				take_requests(nc);
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
		if (nc->published) {
			nc->published = 0;
			wake(nc->res_fd);
		}
		for (size_t i = 0; i < nc->ngrave; i++)
			free(nc->grave[i]);
		nc->ngrave = 0;
	}
	return NULL;
}

void
netcheck_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		log_msg(LOG_WARN, "curl_global_init failed: http health checks will fail");
}

void
netcheck_global_cleanup(void)
{
	curl_global_cleanup();
}

struct netcheck *
netcheck_start(void)
{
	struct netcheck *nc = xcalloc(1, sizeof(*nc));
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;
	int err;

	pthread_mutex_init(&nc->mu, NULL);
	nc->curl_due = UINT64_MAX;
	nc->wake_tag.tag = TAG_WAKE;
	nc->epfd = epoll_create1(EPOLL_CLOEXEC);
	nc->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	nc->res_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nc->epfd < 0 || nc->wake_fd < 0 || nc->res_fd < 0)
		fatal("health checks: %s", strerror(errno));
	ev.data.ptr = &nc->wake_tag;
	epoll_ctl(nc->epfd, EPOLL_CTL_ADD, nc->wake_fd, &ev);
	if (!(nc->multi = curl_multi_init()))
		fatal("health checks: curl_multi_init failed");
	curl_multi_setopt(nc->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(nc->multi, CURLMOPT_SOCKETDATA, nc);
	curl_multi_setopt(nc->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(nc->multi, CURLMOPT_TIMERDATA, nc);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&nc->thread, NULL, netcheck_main, nc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		fatal("health checks thread: %s", strerror(err));
	pthread_setname_np(nc->thread, "arbord-checks");
	return nc;
}

void
netcheck_stop(struct netcheck *nc)
{
	const struct nc_req quit = { .op = NC_QUIT };

	if (!nc)
		return;
	push(nc, &quit);
	netcheck_flush(nc);
	pthread_join(nc->thread, NULL);
	while (nc->xfers)
		xfer_free(nc, nc->xfers);
	for (size_t i = 0; i < nc->npool; i++)
		curl_easy_cleanup(nc->pool[i]);
	curl_multi_cleanup(nc->multi);
	/* Sockets curl closed without a remove. */
	while (nc->csocks)
		csock_drop(nc, nc->csocks);
	for (size_t i = 0; i < nc->ngrave; i++)
		free(nc->grave[i]);
	free(nc->grave);
	for (size_t i = 0; i < nc->q.len; i++)
		free(nc->q.v[i].target);
	free(nc->q.v);
	free(nc->taken.v);
	free(nc->res.v);
	free(nc->given.v);
	close(nc->epfd);
	close(nc->wake_fd);
	close(nc->res_fd);
	pthread_mutex_destroy(&nc->mu);
	free(nc);
}
