/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

_Noreturn void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("arbord: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
	abort();
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal("%s: out of memory", __func__);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);

	if (!q)
		fatal("%s: out of memory", __func__);
	return q;
}

/* Length of the well-formed UTF-8 sequence at p, or 0 if there is none. */
static size_t
utf8_seq(const unsigned char *p)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

size_t
utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t bad = 0, n;

	while (*p) {
		if ((n = utf8_seq(p)) == 0) {
			*p++ = '?';
			bad++;
		} else
			p += n;
	}
	return bad;
}

int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		if ((n = utf8_seq(p)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		fatal("%s: out of memory", __func__);
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		fatal("%s: out of memory", __func__);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

char *
default_socket_path(void)
{
	const char *env = getenv("ARBOR_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return xstrdup(env);
	if (geteuid() == 0)
		return xstrdup("/run/arbor/arbord.sock");
	if (xdg && *xdg)
		return xasprintf("%s/arbor/arbord.sock", xdg);
	return xasprintf("/tmp/arbor-%u/arbord.sock", (unsigned)geteuid());
}

/*
 * A socket's directory is trusted when nobody but arbord's user (or root)
 * could put a file of their choosing at its name or take it away: owned by
 * one of them, writable by neither group nor others. A sticky /tmp is not
 * enough, as another user may create the name first.
 */
int
socket_dir_open(const char *path, char *why, size_t len)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat st;
	int fd;

	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0)
		snprintf(why, len, "%s: %s", dir, strerror(errno));
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		snprintf(why, len, "%s belongs to uid %u, not to arbord's user or root",
		    dir, (unsigned)st.st_uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, len, "%s is writable by %s (mode %04o): another user could replace the socket",
		    dir, st.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
	else {
		free(dir);
		return fd;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return -1;
}

int
socket_dir_trusted(const char *path, char *why, size_t len)
{
	int fd = socket_dir_open(path, why, len);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int
unlink_stale_socket_at(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

int
unlink_stale_socket(const char *path)
{
	return unlink_stale_socket_at(AT_FDCWD, path);
}

bool
path_within(const char *path, const char *top)
{
	size_t n = strlen(top);

	return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int
timerfd_arm(int fd, uint64_t ms, uint64_t interval_ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	its.it_interval.tv_sec = (time_t)(interval_ms / 1000);
	its.it_interval.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
	return timerfd_settime(fd, 0, &its, NULL);
}

void
timerfd_arm_at(int fd, uint64_t at, uint64_t *armed)
{
	struct itimerspec its;

	if (at == *armed)
		return;
	memset(&its, 0, sizeof(its));
	if (at != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(at / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(at % NSEC_PER_SEC);
		if (at == 0)
			its.it_value.tv_nsec = 1;	/* 0 would disarm it */
	}
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		fatal("timerfd_settime: %s", strerror(errno));
	*armed = at;
}

void
first_line(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	while (len > 0 && (s[0] == '\n' || s[0] == '\r' || s[0] == ' ')) {
		s++;
		len--;
	}
	while (n < len && s[n] != '\n' && s[n] != '\r' && s[n] != '\0')
		n++;
	snprintf(out, outlen, "%.*s", (int)n, s);
}

uint32_t
fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV1A_PRIME;
	return h;
}

void
read_counter(int fd)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
}

bool
str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

ssize_t
read_small_fd(int fd, char *buf, size_t len)
{
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

ssize_t
read_small(int dirfd, const char *path, char *buf, size_t len)
{
	return read_small_fd(openat(dirfd, path, O_RDONLY | O_CLOEXEC), buf,
	    len);
}

static size_t
pid_index_slot(const struct pid_index *x, int pid)
{
	return ((uint32_t)pid * 2654435761u) & (x->nb - 1);
}

void
pid_index_add(struct pid_index *x, struct pid_link *l)
{
	size_t b;

	if (x->n >= x->nb) {
		struct pid_link **was = x->b;
		size_t old = x->nb;

		x->nb = old ? old * 2 : 64;
		x->b = xcalloc(x->nb, sizeof(*x->b));
		for (size_t i = 0; i < old; i++)
			for (struct pid_link *m = was[i], *next; m; m = next) {
				next = m->next;
				b = pid_index_slot(x, m->pid);
				m->next = x->b[b];
				x->b[b] = m;
			}
		free(was);
	}
	b = pid_index_slot(x, l->pid);
	l->next = x->b[b];
	x->b[b] = l;
	x->n++;
}

void
pid_index_del(struct pid_index *x, struct pid_link *l)
{
	if (!x->b)
		return;
	for (struct pid_link **p = &x->b[pid_index_slot(x, l->pid)]; *p;
	    p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			x->n--;
			return;
		}
}

struct pid_link *
pid_index_bucket(const struct pid_index *x, int pid)
{
	return x->b ? x->b[pid_index_slot(x, pid)] : NULL;
}

void
pid_index_free(struct pid_index *x)
{
	free(x->b);
	x->b = NULL;
	x->nb = x->n = 0;
}

static void
heap_place(struct min_heap *h, size_t i, struct heap_link *l)
{
	h->v[i] = l;
	l->at = i + 1;
}

/* Moves v[i] up or down to where its key belongs. */
static void
heap_fix(struct min_heap *h, size_t i)
{
	struct heap_link *l = h->v[i];

	while (i > 0 && h->v[(i - 1) / 2]->key > l->key) {
		heap_place(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key)
			c++;
		if (h->v[c]->key >= l->key)
			break;
		heap_place(h, i, h->v[c]);
		i = c;
	}
	heap_place(h, i, l);
}

void
heap_put(struct min_heap *h, struct heap_link *l, uint64_t key)
{
	l->key = key;
	if (!l->at) {
		if (h->n == h->cap) {
			h->cap = h->cap ? 2 * h->cap : 64;
			h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
		}
		heap_place(h, h->n++, l);
	}
	heap_fix(h, l->at - 1);
}

void
heap_remove(struct min_heap *h, struct heap_link *l)
{
	size_t i = l->at - 1;

	if (!l->at)
		return;
	l->at = 0;
	if (i == --h->n)
		return;
	heap_place(h, i, h->v[h->n]);
	heap_fix(h, i);
}

void
heap_free(struct min_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

size_t
fd_reserve_low(int fd, size_t need, int *held, size_t cap)
{
	struct rlimit rl;
	size_t n = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    rl.rlim_cur < 8 * SPAWN_FD_BASE ||
	    (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur - SPAWN_FD_BASE < need))
		return 0;
	while (n < cap) {
		int low = fcntl(fd, F_DUPFD_CLOEXEC, 0);

		if (low < 0)
			break;
		if (low >= SPAWN_FD_BASE) {
			close(low);
			break;
		}
		held[n++] = low;
	}
	return n;
}

void
fd_unreserve_low(int *held, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(held[i]);
}

int
fd_move_high(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, SPAWN_FD_BASE);

	if (high < 0)
		return fd;
	close(fd);
	return high;
}
