/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The files arbord writes as root (worker logs, the event log) and their
 * rotation: FILE.1.gz (newest) ... FILE.N.gz.
 *
 * Every such file is reached through a directory fd arbord holds, by a
 * single name in it, never through a path string another user could
 * change under it: openat with O_NOFOLLOW, mkdirat, renameat, unlinkat.
 * A directory fd is only taken from dir_open_safe, which checks each
 * directory on the way (see there), so that no other user can plant a
 * symlink, a hard link or a file of their own where arbord writes.
 *
 * Modes are explicit: what arbord creates gets the mode it asks for
 * exactly (fchmod after the create, so the umask cannot widen or narrow
 * it), and a rotated file gets the mode of the live file it was.
 *
 * A directory fd stays its caller's: none of these calls closes or keeps
 * it. Work handed to another thread (a compressor) takes a dup of its own,
 * so that the fd cannot be closed, or reused for another file, under it.
 *
 * For a worker's log, say: dir_open_safe(AT_FDCWD, log_dir, true, 0755)
 * once, then dir_open_safe(that fd, "root/api/web", true, 0755) for the
 * worker's directory, file_append_at(its fd, "current", 0640); at a
 * rotation renameat "current" to "current.rotated" and hand rotate_at(its
 * fd, "current.rotated", "current", log_keep) a dup of the fd.
 */
#ifndef ARBOR_ROTATE_H
#define ARBOR_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Opens the directory path and returns an O_DIRECTORY | O_CLOEXEC fd, or
 * -1 with errno set and why (when not NULL) saying which directory and
 * what is wrong ("/var/log/arbor: owned by uid 65534, not by root").
 *
 * path is walked one component at a time, each opened with O_NOFOLLOW
 * from the one before: an absolute path from "/", a relative one from at
 * (AT_FDCWD, or a directory fd from an earlier dir_open_safe, as for a
 * worker's "root/api/web" below log_dir). With create, a missing
 * component is made with mkdirat and given mode exactly.
 *
 * Each directory opened must be owned by root or by arbord's own user.
 * The last one (where files will be made) must not be writable by others
 * or by a group other than root's (as for the config file); one on the
 * way may be only when it is sticky (as /tmp is), since then no one else
 * can rename or remove what root owns in it. A
 * directory that fails these checks is refused with EPERM; a symlink
 * anywhere on the way fails with ELOOP or ENOTDIR.
 */
int dir_open_safe(int at, const char *path, bool create, mode_t mode,
    char *why, size_t whylen);
/*
 * Whether the directory fd (shown as the first len bytes of path) passes
 * dir_open_safe's check: the last one of a walk (last), or one on the way
 * (a sticky one may be writable by others). errno and why say what is
 * wrong.
 */
bool dir_trusted(int fd, const char *path, int len, bool last, char *why,
    size_t whylen);

/*
 * Opens name in dirfd for appending (O_WRONLY | O_APPEND | O_CLOEXEC,
 * blocking), creating it with mode exactly. Never follows a symlink
 * (ELOOP); never blocks on a FIFO; refuses what is neither a regular file
 * nor a character device (ENXIO) and a file with another link to it
 * (EMLINK), so that it cannot write into a file that lives elsewhere. (A
 * device such as /dev/full or /dev/console is only made by root: one in a
 * trusted directory is the admin's choice. Callers never rotate one:
 * check fstat's S_ISREG.) An existing file keeps its mode.
 */
int file_append_at(int dirfd, const char *name, mode_t mode);

/*
 * Compresses src (in dirfd) into dst (in dirfd) through the temporary
 * name dst.tmp, created with O_CREAT | O_EXCL | O_NOFOLLOW and given src's
 * mode, so that dst is either complete or absent and never more readable
 * than src was. Returns 0 (src is removed) or an errno (a full disk is
 * ENOSPC; src is kept as it was, dst.tmp removed).
 */
int gzip_file_at(int dirfd, const char *src, const char *dst);

/*
 * Takes src (in dirfd), a full file the caller renamed away from its live
 * name, into the rotation of name: name.1.gz (newest) ... name.keep.gz.
 *
 * The older ones move up a slot first (renameat), and the one past keep
 * is removed. src is then compressed into name.1.gz. When that fails (a
 * full disk), src is kept uncompressed as name.1, so that nothing which
 * reached the disk is lost: a slot holds name.i.gz or, after such a
 * failure, name.i, and moves up the same way; each later rotation tries
 * again to compress one of them, the newest. keep == 0: src is removed.
 *
 * Returns 0, or the errno of the compression of src that failed (src is
 * then name.1). Should even renaming src to name.1 fail, src stays under
 * its own name and rotate_at returns that errno: the caller must then not
 * rename a new file over it (renameat2 with RENAME_NOREPLACE) or must
 * count its lines as dropped.
 */
int rotate_at(int dirfd, const char *src, const char *name, uint32_t keep);

/*
 * The same steps on their own: makes room for a new name.1(.gz), removing
 * name.keep(.gz) and moving each other slot up.
 */
void rotate_shift_at(int dirfd, const char *name, uint32_t keep);

#endif
