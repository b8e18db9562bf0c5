/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clients.h"
#include "../daemon/util.h"

struct client {
	int fd;			/* -1: a free slot */
	char *buf;
	size_t off, len, cap;	/* unsent bytes are buf[off, len) */
	bool follow;
	bool ending;		/* close once drained */
	bool polled;		/* EPOLLOUT armed */
	uint64_t progress_ns;	/* last time it took bytes (or was queued to) */
};

struct clients {
	int epfd;
	uint32_t id_base;
	struct client c[MAX_CLIENTS];
	size_t buffered;	/* unsent bytes over all clients */
	char *spare;		/* clients_spare */
	size_t spare_cap;
};

/* Smaller buffers are not worth keeping. */
#define SPARE_MIN (64u << 10)

struct clients *
clients_new(int epfd, uint32_t id_base)
{
	struct clients *t = xcalloc(1, sizeof(*t));

	t->epfd = epfd;
	t->id_base = id_base;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		t->c[i].fd = -1;
	return t;
}

/*
 * The only calls that touch a client's fd itself (tests/tsan.supp names
 * them: the fd came from the core through the queue).
 */
static ssize_t __attribute__((noinline))
fd_send(int fd, const char *p, size_t n)
{
	return send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void __attribute__((noinline))
fd_close(int fd)
{
	close(fd);
}

static void __attribute__((noinline))
fd_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The larger of p and the spare is kept, the other freed. */
static void
keep(struct clients *t, char *p, size_t cap)
{
	if (cap < SPARE_MIN || cap <= t->spare_cap) {
		free(p);
		return;
	}
	free(t->spare);
	t->spare = p;
	t->spare_cap = cap;
}

static void
release(struct clients *t, struct client *c)
{
	if (c->polled)
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	fd_close(c->fd);
	t->buffered -= c->len - c->off;
	keep(t, c->buf, c->cap);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* A client too slow, stalled or gone: closed, its backlog freed. */
static void
drop(struct clients *t, struct client *c)
{
	release(t, c);
}

void
clients_free(struct clients *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (t->c[i].fd >= 0)
			release(t, &t->c[i]);
	free(t->spare);
	free(t);
}

struct client *
clients_add(struct clients *t, int fd, uint64_t now)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &t->c[i];

		if (c->fd >= 0)
			continue;
		fd_nonblock(fd);
		c->fd = fd;
		c->progress_ns = now;
		return c;
	}
	fd_close(fd);
	return NULL;
}

static void
want_out(struct clients *t, struct client *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLOUT,
	    .data.u32 = t->id_base + (uint32_t)(c - t->c) };

	if (on == c->polled)
		return;
	if (epoll_ctl(t->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, c->fd,
	    &ev) == 0)
		c->polled = on;
}

/* Sends what the socket takes; false when the client was dropped. */
static bool
flush(struct clients *t, struct client *c, uint64_t now)
{
	while (c->off < c->len) {
		ssize_t n = fd_send(c->fd, c->buf + c->off, c->len - c->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			want_out(t, c, true);
			return true;
		}
		if (n <= 0) {
			drop(t, c);
			return false;
		}
		c->off += (size_t)n;
		t->buffered -= (size_t)n;
		c->progress_ns = now;
	}
	c->off = c->len = 0;
	want_out(t, c, false);
	if (c->ending) {
		release(t, c);
		return false;
	}
	return true;
}

void
client_put(struct clients *t, struct client *c, const char *p, size_t n,
    uint64_t now)
{
	size_t pending = c->len - c->off;

	if (c->fd < 0)
		return;
	if (pending + n > (c->follow ? FOLLOW_BUF_MAX : CLIENT_BUF_MAX) ||
	    t->buffered + n > CLIENTS_BUF_TOTAL) {
		drop(t, c);	/* too slow a reader: never waited for */
		return;
	}
	if (pending == 0)
		c->progress_ns = now;	/* the stall clock starts now */
	if (c->off > 0 && c->len + n > c->cap) {
		memmove(c->buf, c->buf + c->off, pending);
		c->off = 0;
		c->len = pending;
	}
	if (c->len + n > c->cap) {
		c->cap = c->len + n > 2 * c->cap ? c->len + n : 2 * c->cap;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	t->buffered += n;
	flush(t, c, now);
}

char *
clients_spare(struct clients *t, size_t *cap)
{
	char *p = t->spare;

	*cap = t->spare_cap;
	t->spare = NULL;
	t->spare_cap = 0;
	return p;
}

void
client_give(struct clients *t, struct client *c, char *p, size_t n,
    size_t cap, uint64_t now)
{
	if (c->fd < 0 || c->len > c->off) {
		client_put(t, c, p, n, now);
		keep(t, p, cap);
		return;
	}
	if (n > CLIENT_BUF_MAX || t->buffered + n > CLIENTS_BUF_TOTAL) {
		keep(t, p, cap);
		drop(t, c);	/* as client_put would */
		return;
	}
	keep(t, c->buf, c->cap);
	c->buf = p;
	c->cap = cap;
	c->off = 0;
	c->len = n;
	t->buffered += n;
	c->progress_ns = now;
	flush(t, c, now);
}

size_t
clients_buffered(const struct clients *t)
{
	return t->buffered;
}

void
client_end(struct clients *t, struct client *c)
{
	if (c->fd < 0)
		return;
	c->ending = true;
	if (c->off == c->len)
		release(t, c);
}

void
client_follow(struct client *c)
{
	c->follow = true;
}

size_t
clients_followers(const struct clients *t)
{
	size_t n = 0;

	for (size_t i = 0; i < MAX_CLIENTS; i++)
		n += t->c[i].fd >= 0 && t->c[i].follow;
	return n;
}

void
clients_broadcast(struct clients *t, const char *p, size_t n, uint64_t now)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (t->c[i].fd >= 0 && t->c[i].follow)
			client_put(t, &t->c[i], p, n, now);
}

bool
clients_on_event(struct clients *t, uint32_t id, uint64_t now)
{
	struct client *c;

	if (id < t->id_base || id >= t->id_base + MAX_CLIENTS)
		return false;
	c = &t->c[id - t->id_base];
	if (c->fd >= 0)
		flush(t, c, now);
	return true;
}

int
clients_sweep(struct clients *t, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &t->c[i];
		uint64_t due;

		if (c->fd < 0 || c->off == c->len)
			continue;
		due = c->progress_ns + CLIENT_STALL_NS;
		if (now >= due)
			drop(t, c);
		else if (due < next)
			next = due;
	}
	if (next == UINT64_MAX)
		return -1;
	return (int)((next - now) / NSEC_PER_MSEC) + 1;
}
