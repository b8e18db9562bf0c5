/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rotate.h"
#include "util.h"

/* What a failed gz call says, as an errno. */
static int
gz_errno(gzFile gz, int rc)
{
	int zerr = rc;

	if (gz)
		gzerror(gz, &zerr);
	return zerr == Z_ERRNO && errno ? errno : EIO;
}

/* --- through directory fds ----------------------------------------- */

/*
 * Whether the directory fd (shown as the first len bytes of path) may
 * hold what root writes: see dir_open_safe. errno and why say what is
 * wrong.
 */
bool
dir_trusted(int fd, const char *path, int len, bool last, char *why,
    size_t whylen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int err = errno;

		snprintf(why, whylen, "%.*s: %s", len, path, strerror(err));
		errno = err;
		return false;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, whylen, "%.*s: owned by uid %u, not by root",
		    len, path, (unsigned)st.st_uid);
		errno = EPERM;
		return false;
	}
	/* Group root may write, as config/config.c allows for the config
	 * file: only root is in it. */
	if (((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) &&
	    st.st_gid != 0)) && (last || !(st.st_mode & S_ISVTX))) {
		snprintf(why, whylen, "%.*s: writable by %s (mode %04o)", len,
		    path, st.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
		errno = EPERM;
		return false;
	}
	return true;
}

int
dir_open_safe(int at, const char *path, bool create, mode_t mode, char *why,
    size_t whylen)
{
	const int dflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	char spare[8], *name;
	size_t i = 0, n;
	int fd, next, err;

	if (!why) {
		why = spare;
		whylen = sizeof(spare);
	}
	if (path[0] == '/')
		fd = open("/", dflags);
	else
		fd = openat(at, ".", dflags);
	if (fd < 0) {
		err = errno;
		snprintf(why, whylen, "%s: %s", path[0] == '/' ? "/" : ".",
		    strerror(err));
		errno = err;
		return -1;
	}
	while (path[i] == '/')
		i++;
	if (!dir_trusted(fd, path[0] == '/' ? "/" : ".", 1, path[i] == '\0',
	    why, whylen))
		goto fail;
	while (path[i]) {
		bool made = false;

		n = strcspn(path + i, "/");
		name = xasprintf("%.*s", (int)n, path + i);
		next = openat(fd, name, dflags);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, mode) == 0)
				made = true;
			else if (errno != EEXIST) {
				err = errno;
				snprintf(why, whylen, "%.*s: mkdir: %s",
				    (int)(i + n), path, strerror(err));
				free(name);
				errno = err;
				goto fail;
			}
			next = openat(fd, name, dflags);
		}
		free(name);
		if (next < 0) {
			err = errno;
			snprintf(why, whylen, "%.*s: %s", (int)(i + n), path,
			    err == ELOOP ? "a symlink, not followed" :
			    strerror(err));
			errno = err;
			goto fail;
		}
		close(fd);
		fd = next;
		/* mkdirat's mode went through the umask. */
		if (made && fchmod(fd, mode) < 0) {
			err = errno;
			snprintf(why, whylen, "%.*s: chmod: %s", (int)(i + n),
			    path, strerror(err));
			errno = err;
			goto fail;
		}
		i += n;
		if (!dir_trusted(fd, path, (int)i, path[i + strspn(path + i,
		    "/")] == '\0', why, whylen))
			goto fail;
		while (path[i] == '/')
			i++;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int
file_append_at(int dirfd, const char *name, mode_t mode)
{
	const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK;
	struct stat st;
	bool made = false;
	int fd = -1, err;

	/* Twice at most: the file may go between the two opens. */
	for (int tries = 0; fd < 0 && tries < 2; tries++) {
		if ((fd = openat(dirfd, name, flags | O_CREAT | O_EXCL,
		    mode)) >= 0)
			made = true;
		else if (errno == EEXIST)
			fd = openat(dirfd, name, flags);
		if (fd < 0 && errno != ENOENT)
			return -1;
	}
	if (fd < 0)
		return -1;
	err = 0;
	if (fstat(fd, &st) < 0)
		err = errno;
	else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		err = ENXIO;
	else if (S_ISREG(st.st_mode) && st.st_nlink > 1)
		err = EMLINK;
	else if (made && fchmod(fd, mode) < 0)
		err = errno;
	else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		err = errno;
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int
gzip_file_at(int dirfd, const char *src, const char *dst)
{
	char *tmp = xasprintf("%s.tmp", dst);
	char buf[65536];
	struct stat st;
	gzFile gz = NULL;
	int in, out = -1, zfd, rc, err = 0;
	mode_t mode = 0600;
	ssize_t n = 0;

	if ((in = openat(dirfd, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0 || fstat(in, &st) < 0)
		err = errno;
	else if (!S_ISREG(st.st_mode))
		err = ENXIO;
	else
		mode = st.st_mode & 0666;
	/* A leftover of a crash: ours, as the directory is. */
	if (!err && unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		err = errno;
	if (!err && (out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
		err = errno;
	if (!err && fchmod(out, mode) < 0)
		err = errno;
	/* gz owns zfd; out stays open for the fdatasync. */
	if (!err && (zfd = fcntl(out, F_DUPFD_CLOEXEC, 0)) < 0)
		err = errno;
	else if (!err && !(gz = gzdopen(zfd, "wb6"))) {
		err = errno ? errno : ENOMEM;
		close(zfd);
	}
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(gz, buf, (unsigned)n) != (int)n)
			err = gz_errno(gz, Z_ERRNO);
	if (!err && n < 0)
		err = errno;
	if (gz) {
		errno = 0;
		if ((rc = gzclose(gz)) != Z_OK && !err)
			err = rc == Z_ERRNO && errno ? errno : EIO;
	}
	/* dst must be on the disk before src goes. */
	if (out >= 0 && !err && fdatasync(out) < 0)
		err = errno;
	if (out >= 0 && close(out) < 0 && !err)
		err = errno;
	if (in >= 0)
		close(in);
	if (!err && renameat(dirfd, tmp, dirfd, dst) < 0)
		err = errno;
	if (err) {
		if (out >= 0)
			unlinkat(dirfd, tmp, 0);
	} else
		unlinkat(dirfd, src, 0);
	free(tmp);
	return err;
}

void
rotate_shift_at(int dirfd, const char *name, uint32_t keep)
{
	static const char *const ext[] = { ".gz", "" };
	char *from, *to;

	for (uint32_t i = keep; i >= 1; i--)
		for (size_t e = 0; e < 2; e++) {
			from = xasprintf("%s.%u%s", name, i, ext[e]);
			if (i == keep)
				unlinkat(dirfd, from, 0);
			else {
				to = xasprintf("%s.%u%s", name, i + 1, ext[e]);
				renameat(dirfd, from, dirfd, to);
				free(to);
			}
			free(from);
		}
}

int
rotate_at(int dirfd, const char *src, const char *name, uint32_t keep)
{
	struct stat st;
	char *plain, *gz;
	int err;

	if (keep == 0) {
		unlinkat(dirfd, src, 0);
		return 0;
	}
	rotate_shift_at(dirfd, name, keep);
	plain = xasprintf("%s.1", name);
	gz = xasprintf("%s.1.gz", name);
	if ((err = gzip_file_at(dirfd, src, gz)) != 0 &&
	    renameat(dirfd, src, dirfd, plain) < 0)
		err = errno;
	free(plain);
	free(gz);
	/* A plain file an earlier full disk left is compressed now that
	 * there is room: one a rotation, so that a rotation costs two
	 * compressions at most (the event log's runs on the observability
	 * thread, which must not stall). */
	for (uint32_t i = 2; !err && i <= keep; i++) {
		bool found;

		plain = xasprintf("%s.%u", name, i);
		gz = xasprintf("%s.%u.gz", name, i);
		found = fstatat(dirfd, plain, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode);
		if (found)
			gzip_file_at(dirfd, plain, gz);
		free(plain);
		free(gz);
		if (found)
			break;
	}
	return err;
}
