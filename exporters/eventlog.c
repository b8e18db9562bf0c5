/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventlog.h"
#include "../daemon/log.h"
#include "../daemon/util.h"

/* How often the core is asked again for a file, or for a rotation. */
#define ASK_NS (1 * NSEC_PER_SEC)
/* Lines held while the core rotates the file or opens one, at most. */
#define HOLD_MAX (1024 * 1024)

struct eventlog {
	char *path;
	uint64_t max_bytes;
	void (*ask)(void *, bool);
	void *ctx;
	int fd;
	uint64_t size;
	bool regular;		/* not a device: rotated at max_bytes */
	bool failing;		/* said once; said again when it works */
	uint64_t asked_at;	/* 0: nothing asked */
	uint64_t dropped;
	char *held;		/* lines (with their newlines) for the next file */
	size_t nheld;
};

static void put(struct eventlog *, const char *line, size_t len);

static void
ask(struct eventlog *l, bool full)
{
	l->asked_at = mono_ns();
	l->ask(l->ctx, full);
}

struct eventlog *
eventlog_new(const char *path, uint64_t max_bytes,
    void (*askfn)(void *, bool), void *ctx)
{
	struct eventlog *l = xcalloc(1, sizeof(*l));

	l->path = xstrdup(path);
	l->max_bytes = max_bytes;
	l->ask = askfn;
	l->ctx = ctx;
	l->fd = -1;
	return l;
}

void
eventlog_close(struct eventlog *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->nheld)
		l->dropped += 1;	/* at least one line never written */
	free(l->held);
	free(l->path);
	free(l);
}

/* The held lines go to the new file, as far as it has room. */
static void
release(struct eventlog *l)
{
	char *held = l->held;
	size_t n = l->nheld, at = 0;

	l->held = NULL;
	l->nheld = 0;
	while (at < n) {
		char *nl = memchr(held + at, '\n', n - at);
		size_t len = (size_t)(nl - (held + at));

		put(l, held + at, len);
		at += len + 1;
	}
	free(held);
}

void
eventlog_set_fd(struct eventlog *l, int fd)
{
	struct stat st;

	l->asked_at = 0;
	if (fd < 0)
		return;		/* the old one, if any, goes on */
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	l->size = l->regular ? (uint64_t)st.st_size : 0;
	release(l);
}

static bool
full(const struct eventlog *l, size_t len)
{
	return l->regular && l->size > 0 && l->size + len + 1 > l->max_bytes;
}

int
eventlog_tick(struct eventlog *l, uint64_t now)
{
	uint64_t due;

	if (!l || (l->fd >= 0 && !full(l, 0)))
		return -1;
	due = l->asked_at + ASK_NS;
	if (now >= due) {
		ask(l, l->fd >= 0);
		due = now + ASK_NS;
	}
	return (int)((due - now) / NSEC_PER_MSEC) + 1;
}

/*
 * Without a file, or with a full one, the line is held for the next file
 * (HOLD_MAX at most, then dropped and counted) and the core is asked.
 */
static bool
hold(struct eventlog *l, const char *line, size_t len)
{
	if (l->fd >= 0 && !full(l, len))
		return false;
	if (!l->asked_at)
		ask(l, l->fd >= 0);
	if (l->nheld + len + 1 > HOLD_MAX) {
		l->dropped++;
		return true;
	}
	l->held = xreallocarray(l->held, l->nheld + len + 1, 1);
	memcpy(l->held + l->nheld, line, len);
	l->held[l->nheld + len] = '\n';
	l->nheld += len + 1;
	return true;
}

void
eventlog_write(struct eventlog *l, const char *line, size_t len)
{
	/* After held lines, never before them. */
	if (l->nheld && hold(l, line, len))
		return;
	put(l, line, len);
}

static void
put(struct eventlog *l, const char *line, size_t len)
{
	char *buf;
	ssize_t n;

	if (hold(l, line, len))
		return;
	buf = xcalloc(len + 2, 1);
	memcpy(buf, line, len);
	buf[len] = '\n';
	/* One write per line: O_APPEND keeps lines whole. */
	n = write(l->fd, buf, len + 1);
	free(buf);
	if (n != (ssize_t)len + 1) {
		int err = n < 0 ? errno : ENOSPC;

		/* A short write leaves part of a line: cut it off, so every
		 * line stays whole JSON and the next one starts a line. */
		if (n > 0 && ftruncate(l->fd, (off_t)l->size) < 0)
			log_msg(LOG_WARN, "event log %s: cannot remove a partial line: %s",
			    l->path, strerror(errno));
		l->dropped++;
		if (!l->failing)
			log_msg(LOG_WARN, "event log %s: write: %s; events are dropped and counted, retrying every %d s",
			    l->path, strerror(err), (int)(ASK_NS / NSEC_PER_SEC));
		l->failing = true;
		close(l->fd);
		l->fd = -1;
		/* Asked again in ASK_NS (eventlog_tick), not at once: a file
		 * that fails every write must not make a loop of it. */
		l->asked_at = mono_ns();
		return;
	}
	l->size += len + 1;
	if (l->failing) {
		l->failing = false;
		log_msg(LOG_INFO, "event log %s: writing again (%llu events dropped so far)",
		    l->path, (unsigned long long)l->dropped);
	}
}

uint64_t
eventlog_dropped(const struct eventlog *l)
{
	return l ? l->dropped : 0;
}
