/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "reactor.h"
#include "util.h"

#define BATCH 64
/* Per-worker watches dispatched in one batch: 10,000 exits at once are
 * taken 16 at a time, each restart some milliseconds, with the control
 * socket and the rest served between. */
#define BULK_BATCH 16

struct deferred {
	void *p;
	void (*fn)(void *);
};

struct reactor {
	int epfd;
	int bulkfd;		/* the per-worker watches' epoll, in epfd */
	struct watch bulk;
	struct deferred *deferred;
	size_t ndeferred, capdeferred;
	struct closing { int epfd, fd; } *closing;	/* reactor_unwatch_close */
	size_t nclosing, capclosing;
};

static void
dispatch(struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;

		if (!w->dead)
			w->fn(w->owner, evs[i].events);
	}
}

/* The bulk epoll is ready: a few of its watches, then the others' turn
 * (epoll hands a still-ready fd out again after the rest). */
static void
on_bulk(void *owner, uint32_t events)
{
	struct reactor *r = owner;
	struct epoll_event evs[BULK_BATCH];
	int n = epoll_wait(r->bulkfd, evs, BULK_BATCH, 0);

	(void)events;
	if (n < 0 && errno != EINTR)
		fatal("%s: epoll_wait: %s", __func__, strerror(errno));
	dispatch(evs, n);
}

struct reactor *
reactor_new(void)
{
	struct reactor *r = xcalloc(1, sizeof(*r));

	if ((r->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (r->bulkfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("%s: epoll_create1: %s", __func__, strerror(errno));
	if (reactor_watch(r, &r->bulk, r->bulkfd, EPOLLIN, on_bulk, r) < 0)
		fatal("%s: epoll_ctl: %s", __func__, strerror(errno));
	return r;
}

static void
run_deferred(struct reactor *r)
{
	for (size_t i = 0; i < r->nclosing; i++) {
		if (r->closing[i].epfd >= 0)
			epoll_ctl(r->closing[i].epfd, EPOLL_CTL_DEL,
			    r->closing[i].fd, NULL);
		close(r->closing[i].fd);
	}
	r->nclosing = 0;
	for (size_t i = 0; i < r->ndeferred; i++)
		r->deferred[i].fn(r->deferred[i].p);
	r->ndeferred = 0;
}

void
reactor_free(struct reactor *r)
{
	if (!r)
		return;
	run_deferred(r);
	free(r->deferred);
	free(r->closing);
	close(r->bulkfd);
	close(r->epfd);
	free(r);
}

static int
watch_in(int epfd, struct watch *w, int fd, uint32_t events, watch_fn fn,
    void *owner)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	w->fn = fn;
	w->owner = owner;
	w->fd = fd;
	w->epfd = epfd;
	w->dead = w->closing = false;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
reactor_watch(struct reactor *r, struct watch *w, int fd, uint32_t events,
    watch_fn fn, void *owner)
{
	return watch_in(r->epfd, w, fd, events, fn, owner);
}

int
reactor_watch_bulk(struct reactor *r, struct watch *w, int fd,
    uint32_t events, watch_fn fn, void *owner)
{
	return watch_in(r->bulkfd, w, fd, events, fn, owner);
}

void
reactor_modify(struct reactor *r, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	(void)r;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		log_msg(LOG_WARN, "%s: epoll_ctl: %s", __func__, strerror(errno));
}

void
reactor_unwatch(struct reactor *r, struct watch *w)
{
	(void)r;
	if (w->dead)
		return;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
}

void
reactor_unwatch_close(struct reactor *r, struct watch *w)
{
	if (w->closing)
		return;
	if (r->nclosing == r->capclosing) {
		r->capclosing = r->capclosing ? r->capclosing * 2 : 16;
		r->closing = xreallocarray(r->closing, r->capclosing,
		    sizeof(*r->closing));
	}
	/* Already out of the epoll (reactor_unwatch): only the close. */
	r->closing[r->nclosing].epfd = w->dead ? -1 : w->epfd;
	r->closing[r->nclosing].fd = w->fd;
	r->nclosing++;
	w->dead = w->closing = true;
}

void
reactor_defer_free(struct reactor *r, void *p, void (*fn)(void *))
{
	if (r->ndeferred == r->capdeferred) {
		r->capdeferred = r->capdeferred ? r->capdeferred * 2 : 16;
		r->deferred = xreallocarray(r->deferred, r->capdeferred,
		    sizeof(*r->deferred));
	}
	r->deferred[r->ndeferred].p = p;
	r->deferred[r->ndeferred].fn = fn;
	r->ndeferred++;
}

void
reactor_run_once(struct reactor *r, int timeout_ms)
{
	struct epoll_event evs[BATCH];
	int n = epoll_wait(r->epfd, evs, BATCH, timeout_ms);

	if (n < 0 && errno != EINTR)
		fatal("%s: epoll_wait: %s", __func__, strerror(errno));
	dispatch(evs, n);
	run_deferred(r);
}
