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

struct deferred {
	void *p;
	void (*fn)(void *);
};

struct reactor {
	int epfd;
	struct deferred *deferred;
	size_t ndeferred, capdeferred;
};

struct reactor *
reactor_new(void)
{
	struct reactor *r = xcalloc(1, sizeof(*r));

	if ((r->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("%s: epoll_create1: %s", __func__, strerror(errno));
	return r;
}

static void
run_deferred(struct reactor *r)
{
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
	close(r->epfd);
	free(r);
}

int
reactor_watch(struct reactor *r, struct watch *w, int fd, uint32_t events,
    watch_fn fn, void *owner)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	w->fn = fn;
	w->owner = owner;
	w->fd = fd;
	w->dead = false;
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void
reactor_modify(struct reactor *r, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		log_msg(LOG_WARN, "%s: epoll_ctl: %s", __func__, strerror(errno));
}

void
reactor_unwatch(struct reactor *r, struct watch *w)
{
	if (w->dead)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
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
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;

		if (!w->dead)
			w->fn(w->owner, evs[i].events);
	}
	run_deferred(r);
}
