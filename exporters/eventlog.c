/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "eventlog.h"
#include "../daemon/log.h"
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

/* What a failed gz call says, as an errno (a full disk is ENOSPC). */
static int
gz_errno(gzFile gz, int rc)
{
	int zerr = rc;

	if (gz)
		gzerror(gz, &zerr);
	return zerr == Z_ERRNO && errno ? errno : EIO;
}

/*
 * Compresses src into dst through a temporary name, so that dst is either
 * complete or absent; removes src either way (a plain rotated file would
 * be overwritten by the next rotation). Returns 0 or an errno.
 */
static int
gzip_file(const char *src, const char *dst)
{
	char *tmp = xasprintf("%s.tmp", dst);
	char buf[65536];
	gzFile gz = NULL;
	int in, rc, err = 0;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		err = errno;
	else if (!(gz = gzopen(tmp, "wb6")))
		err = errno ? errno : ENOMEM;
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(gz, buf, (unsigned)n) != (int)n)
			err = gz_errno(gz, Z_ERRNO);
	if (gz) {
		errno = 0;
		if ((rc = gzclose(gz)) != Z_OK && !err)
			err = rc == Z_ERRNO && errno ? errno : EIO;
	}
	if (in >= 0)
		close(in);
	if (!err && rename(tmp, dst) < 0)
		err = errno;
	if (err)
		unlink(tmp);
	unlink(src);
	free(tmp);
	return err;
}

static void
rotate(struct eventlog *l)
{
	char *from, *to, *plain;
	int err;

	close(l->fd);
	l->fd = -1;
	if (l->keep == 0) {
		unlink(l->path);
		return;
	}
	to = xasprintf("%s.%u.gz", l->path, l->keep);
	unlink(to);
	free(to);
	for (uint32_t i = l->keep; i > 1; i--) {
		from = xasprintf("%s.%u.gz", l->path, i - 1);
		to = xasprintf("%s.%u.gz", l->path, i);
		rename(from, to);
		free(from);
		free(to);
	}
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
