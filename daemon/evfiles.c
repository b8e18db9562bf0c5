/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evfiles.h"
#include "log.h"
#include "rotate.h"
#include "util.h"

#define RETRY_NS (5 * NSEC_PER_SEC)

struct evfiles {
	struct reactor *r;
	char *path;
	char *name;		/* the file's name in its directory */
	char *rotated;		/* name.rotated: a full file being rotated */
	char *dir;
	int dirfd;		/* held: every file is opened in it by name */
	uint32_t keep;
	bool failing;		/* said once; said again when it works */
	uint64_t retry_at;
	struct watch zw;	/* the compressing child's pidfd; fd -1: none */
};

static void
failed(struct evfiles *e, const char *what, const char *why)
{
	e->retry_at = mono_ns() + RETRY_NS;
	if (e->failing)
		return;
	e->failing = true;
	log_msg(LOG_WARN, "event log %s: %s: %s; events are dropped and counted, retrying every %d s",
	    e->path, what, why, (int)(RETRY_NS / NSEC_PER_SEC));
}

struct evfiles *
evfiles_new(struct reactor *r, const char *path, uint32_t keep)
{
	struct evfiles *e = xcalloc(1, sizeof(*e));
	const char *slash = strrchr(path, '/');

	e->r = r;
	e->path = xstrdup(path);
	e->name = xstrdup(slash ? slash + 1 : path);
	e->rotated = xasprintf("%s.rotated", e->name);
	e->dir = slash ? xasprintf("%.*s", (int)(slash - path), path) :
	    xstrdup(".");
	if (!*e->dir) {
		free(e->dir);
		e->dir = xstrdup("/");
	}
	e->dirfd = -1;
	e->keep = keep;
	e->zw.fd = -1;
	return e;
}

static void
on_compressed(void *owner, uint32_t events)
{
	struct evfiles *e = owner;

	(void)events;
	/* The catch-all reaper (loop.c) reaps it; its end is all we need. */
	reactor_unwatch(e->r, &e->zw);
	close(e->zw.fd);
	e->zw.fd = -1;
}

void
evfiles_free(struct evfiles *e)
{
	if (!e)
		return;
	if (e->zw.fd >= 0) {
		reactor_unwatch(e->r, &e->zw);
		close(e->zw.fd);
	}
	if (e->dirfd >= 0)
		close(e->dirfd);
	free(e->path);
	free(e->name);
	free(e->rotated);
	free(e->dir);
	free(e);
}

int
evfiles_open(struct evfiles *e)
{
	char why[512];
	int fd;

	if (mono_ns() < e->retry_at)
		return -1;
	/* The directory is made (0755, as log_dir's are), checked and held:
	 * a symlink planted later cannot move the files. */
	if (e->dirfd < 0 && (e->dirfd = dir_open_safe(AT_FDCWD, e->dir, true,
	    0755, why, sizeof(why))) < 0) {
		failed(e, "directory", why);
		return -1;
	}
	if ((fd = file_append_at(e->dirfd, e->name, 0640)) < 0) {
		failed(e, "open", strerror(errno));
		/* The next try walks the path again: the directory may have
		 * been removed (and is then made anew). */
		close(e->dirfd);
		e->dirfd = -1;
		return -1;
	}
	if (e->failing)
		log_msg(LOG_INFO, "event log %s: open again", e->path);
	e->failing = false;
	return fd;
}

/* Compresses name.rotated into the rotation, in a child of its own. */
static void
compress(struct evfiles *e)
{
	pid_t pid = fork();
	int pfd;

	if (pid < 0) {
		log_msg(LOG_WARN, "event log %s: fork for its compression: %s; the full file waits as %s",
		    e->path, strerror(errno), e->rotated);
		return;
	}
	if (pid == 0) {
		int err;

		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		err = rotate_at(e->dirfd, e->rotated, e->name, e->keep);
		if (err)
			dprintf(2, "arbord: event log %s: rotation: cannot write %s.1.gz: %s; its events stay uncompressed in %s.1 (or %s) until a later rotation can compress them\n",
			    e->path, e->path, strerror(err), e->path,
			    e->rotated);
		_exit(err ? 1 : 0);
	}
	if ((pfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0 ||
	    reactor_watch(e->r, &e->zw, pfd, EPOLLIN, on_compressed, e) < 0) {
		/* Gone already, or no pidfd: no wait for it. */
		if (pfd >= 0)
			close(pfd);
		e->zw.fd = -1;
	}
}

int
evfiles_rotate(struct evfiles *e)
{
	struct stat st;

	if (e->zw.fd >= 0 || e->dirfd < 0)
		return -1;	/* the last compression still runs */
	/* A device (/dev/full) is never rotated, nor an empty file (the
	 * helper's word is not taken for it: one compression at a time, of
	 * something). */
	if (fstatat(e->dirfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size == 0)
		return evfiles_open(e);
	if (e->keep == 0) {
		unlinkat(e->dirfd, e->name, 0);
		return evfiles_open(e);
	}
	/* Never over an earlier full file not yet rotated: that one first. */
	if (renameat2(e->dirfd, e->name, e->dirfd, e->rotated,
	    RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			compress(e);
		else
			log_msg(LOG_WARN, "event log %s: rotate: %s; writing on past event_log_max_bytes, trying again later",
			    e->path, strerror(errno));
		return -1;
	}
	compress(e);
	return evfiles_open(e);
}
