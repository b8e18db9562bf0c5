/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eventlog.h"
#include "../daemon/log.h"
#include "../daemon/rotate.h"
#include "../daemon/util.h"

#define RETRY_NS (5 * NSEC_PER_SEC)

struct eventlog {
	char *path;
	uint64_t max_bytes;
	uint32_t keep;
	int fd;
	uint64_t size;
	bool failing;		/* said once; said again when it works */
	uint64_t retry_at;
	uint64_t dropped;
};

static void
failed(struct eventlog *l, const char *what, int err)
{
	l->retry_at = mono_ns() + RETRY_NS;
	if (l->failing)
		return;
	l->failing = true;
	log_msg(LOG_WARN, "event log %s: %s: %s; events are dropped and counted, retrying every %d s",
	    l->path, what, strerror(err), (int)(RETRY_NS / NSEC_PER_SEC));
}

static bool
reopen(struct eventlog *l)
{
	struct stat st;

	if (l->fd >= 0)
		return true;
	if (mono_ns() < l->retry_at)
		return false;
	l->fd = open_noblock(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0640);
	if (l->fd < 0) {
		failed(l, "open", errno);
		return false;
	}
	l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return true;
}

static void
rotate(struct eventlog *l)
{
	char *to, *plain;
	int err;

	close(l->fd);
	l->fd = -1;
	if (l->keep == 0) {
		unlink(l->path);
		return;
	}
	rotate_shift(l->path, l->keep);
	plain = xasprintf("%s.1", l->path);
	to = xasprintf("%s.1.gz", l->path);
	if (rename(l->path, plain) < 0)
		log_msg(LOG_WARN, "event log %s: rotate: %s", l->path, strerror(errno));
	else if ((err = gzip_file(plain, to)) != 0)
		log_msg(LOG_WARN, "event log %s: rotation: cannot write %s: %s; the rotated events are lost",
		    l->path, to, strerror(err));
	free(plain);
	free(to);
}

struct eventlog *
eventlog_open(const char *path, uint64_t max_bytes, uint32_t keep)
{
	struct eventlog *l = xcalloc(1, sizeof(*l));

	l->path = xstrdup(path);
	l->max_bytes = max_bytes;
	l->keep = keep;
	l->fd = -1;
	reopen(l);
	return l;
}

void
eventlog_close(struct eventlog *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
}

void
eventlog_write(struct eventlog *l, const char *line, size_t len)
{
	char *buf;
	ssize_t n;

	if (!reopen(l)) {
		l->dropped++;
		return;
	}
	if (l->size > 0 && l->size + len + 1 > l->max_bytes) {
		rotate(l);
		if (!reopen(l)) {
			l->dropped++;
			return;
		}
	}
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
		failed(l, "write", err);
		close(l->fd);
		l->fd = -1;
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
