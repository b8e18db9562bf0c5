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
	char *name;		/* the file's name in its directory */
	char *rotated;		/* name.rotated: a full file being rotated */
	char *dir;		/* its directory, made at start when missing */
	int dirfd;		/* every file is opened in it, by name only */
	uint64_t max_bytes;
	uint32_t keep;
	int fd;
	uint64_t size;
	bool regular;		/* not a device: rotated at max_bytes */
	bool failing;		/* said once; said again when it works */
	uint64_t retry_at;
	uint64_t rotate_retry_at; /* a failed rotation is tried again then */
	uint64_t dropped;
};

static void
failed(struct eventlog *l, const char *what, const char *why)
{
	l->retry_at = mono_ns() + RETRY_NS;
	if (l->failing)
		return;
	l->failing = true;
	log_msg(LOG_WARN, "event log %s: %s: %s; events are dropped and counted, retrying every %d s",
	    l->path, what, why, (int)(RETRY_NS / NSEC_PER_SEC));
}

static bool
reopen(struct eventlog *l)
{
	char why[512];
	struct stat st;

	if (l->fd >= 0)
		return true;
	if (mono_ns() < l->retry_at)
		return false;
	/* The directory is made (0755, as log_dir's are), checked and held:
	 * a symlink planted later cannot move the files. */
	if (l->dirfd < 0 && (l->dirfd = dir_open_safe(AT_FDCWD, l->dir, true,
	    0755, why, sizeof(why))) < 0) {
		failed(l, "directory", why);
		return false;
	}
	l->fd = file_append_at(l->dirfd, l->name, 0640);
	if (l->fd < 0) {
		failed(l, "open", strerror(errno));
		/* The next try walks the path again: the directory may have
		 * been removed (and is then made anew). */
		close(l->dirfd);
		l->dirfd = -1;
		return false;
	}
	l->regular = fstat(l->fd, &st) == 0 && S_ISREG(st.st_mode);
	l->size = l->regular ? (uint64_t)st.st_size : 0;
	return true;
}

/* Moves the full file aside, never over an earlier one not yet rotated. */
static int
take_full(struct eventlog *l)
{
	if (renameat2(l->dirfd, l->name, l->dirfd, l->rotated,
	    RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return errno;
	/* A file an earlier rotation could not even keep as name.1: into
	 * the rotation first (plain, should it still not compress). */
	rotate_at(l->dirfd, l->rotated, l->name, l->keep);
	return renameat2(l->dirfd, l->name, l->dirfd, l->rotated,
	    RENAME_NOREPLACE) == 0 ? 0 : errno;
}

static void
rotate(struct eventlog *l)
{
	int err;

	close(l->fd);
	l->fd = -1;
	if (l->keep == 0) {
		unlinkat(l->dirfd, l->name, 0);
		return;
	}
	if ((err = take_full(l)) != 0) {
		/* Said and tried again every RETRY_NS, not at every event. */
		l->rotate_retry_at = mono_ns() + RETRY_NS;
		log_msg(LOG_WARN, "event log %s: rotate: %s; writing on past event_log_max_bytes, trying again in %d s",
		    l->path, strerror(err), (int)(RETRY_NS / NSEC_PER_SEC));
		return;
	}
	if ((err = rotate_at(l->dirfd, l->rotated, l->name, l->keep)) != 0)
		log_msg(LOG_WARN, "event log %s: rotation: cannot write %s.1.gz: %s; its events stay uncompressed in %s.1 (or %s) until a later rotation can compress them",
		    l->path, l->path, strerror(err), l->path, l->rotated);
}

struct eventlog *
eventlog_open(const char *path, uint64_t max_bytes, uint32_t keep)
{
	struct eventlog *l = xcalloc(1, sizeof(*l));
	const char *slash = strrchr(path, '/');

	l->path = xstrdup(path);
	l->name = xstrdup(slash ? slash + 1 : path);
	l->rotated = xasprintf("%s.rotated", l->name);
	l->dir = slash ? xasprintf("%.*s", (int)(slash - path), path) :
	    xstrdup(".");
	if (!*l->dir) {
		free(l->dir);
		l->dir = xstrdup("/");
	}
	l->dirfd = -1;
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
	if (l->dirfd >= 0)
		close(l->dirfd);
	free(l->path);
	free(l->name);
	free(l->rotated);
	free(l->dir);
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
	if (l->regular && l->size > 0 && l->size + len + 1 > l->max_bytes &&
	    mono_ns() >= l->rotate_retry_at) {
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
		failed(l, "write", strerror(err));
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
