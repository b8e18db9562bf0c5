/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The files root writes (daemon/rotate.h): directories and files reached
 * only through directory fds, never through a symlink or a directory
 * another user controls; modes exact whatever the umask; a rotation that
 * cannot compress keeps its file plain until a later one can.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "daemon/rotate.h"

static char top[] = "/tmp/arbor-rotate.XXXXXX";
static int topfd = -1;

static int
setup(void **state)
{
	(void)state;
	if (!mkdtemp(top) || (topfd = open(top, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char *cmd;

	(void)state;
	close(topfd);
	if (asprintf(&cmd, "rm -rf '%s'", top) < 0)
		return -1;
	if (system(cmd) != 0) {
		free(cmd);
		return -1;
	}
	free(cmd);
	return 0;
}

/* A file of top's (a test's own names) with these bytes. */
static void
put(const char *name, const char *text, mode_t mode)
{
	int fd = openat(topfd, name, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static bool
exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static mode_t
mode_of(int dirfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode & 07777;
}

/* What the gzip file dirfd/name holds, in buf. */
static void
gunzip_to(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY);
	gzFile gz;
	int n;

	assert_true(fd >= 0);
	assert_non_null(gz = gzdopen(fd, "rb"));
	n = gzread(gz, buf, (unsigned)len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	gzclose(gz);
}

static void
made_directories_have_their_mode_whatever_the_umask(void **state)
{
	char path[256];
	mode_t old = umask(0077);
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/made/a/b", top);
	fd = dir_open_safe(AT_FDCWD, path, true, 0755, NULL, 0);
	umask(old);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mode_of(topfd, "made"), 0755);
	assert_int_equal(mode_of(topfd, "made/a/b"), 0755);
	/* Without create, a missing one is an error. */
	snprintf(path, sizeof(path), "%s/made/none", top);
	assert_int_equal(dir_open_safe(AT_FDCWD, path, false, 0755, NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
}

static void
symlinks_and_others_directories_are_refused(void **state)
{
	char path[256], why[256];
	int fd;

	(void)state;
	assert_int_equal(mkdirat(topfd, "real", 0755), 0);
	assert_int_equal(symlinkat("real", topfd, "link"), 0);
	snprintf(path, sizeof(path), "%s/link/x", top);
	assert_int_equal(dir_open_safe(AT_FDCWD, path, true, 0755, why,
	    sizeof(why)), -1);
	assert_true(errno == ELOOP || errno == ENOTDIR);
	assert_false(exists(topfd, "real/x"));

	/* Writable by others: refused as the last one, taken on the way
	 * only when sticky. */
	assert_int_equal(mkdirat(topfd, "pub", 0755), 0);
	assert_int_equal(fchmodat(topfd, "pub", 0777, 0), 0);
	snprintf(path, sizeof(path), "%s/pub", top);
	assert_int_equal(dir_open_safe(AT_FDCWD, path, false, 0755, why,
	    sizeof(why)), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(why, "pub: writable by others (mode 0777)"));
	/* Group root's may write; another group may not. */
	if (geteuid() == 0) {
		assert_int_equal(fchmodat(topfd, "pub", 0775, 0), 0);
		assert_int_equal(fchownat(topfd, "pub", 0, 0, 0), 0);
		fd = dir_open_safe(AT_FDCWD, path, false, 0755, NULL, 0);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(fchownat(topfd, "pub", 0, 65534, 0), 0);
		assert_int_equal(dir_open_safe(AT_FDCWD, path, false, 0755, why,
		    sizeof(why)), -1);
		assert_non_null(strstr(why, "pub: writable by its group (mode 0775)"));
		assert_int_equal(fchmodat(topfd, "pub", 0777, 0), 0);
	}
	snprintf(path, sizeof(path), "%s/pub/mine", top);
	assert_int_equal(dir_open_safe(AT_FDCWD, path, true, 0755, NULL, 0), -1);
	assert_int_equal(fchmodat(topfd, "pub", 01777, 0), 0);
	assert_true((fd = dir_open_safe(AT_FDCWD, path, true, 0755, NULL,
	    0)) >= 0);
	close(fd);

	/* Another user's directory: refused (only root can make one). */
	if (geteuid() != 0)
		return;
	assert_int_equal(mkdirat(topfd, "pub/theirs", 0755), 0);
	assert_int_equal(fchownat(topfd, "pub/theirs", 65534, 65534, 0), 0);
	snprintf(path, sizeof(path), "%s/pub/theirs/sub", top);
	assert_int_equal(dir_open_safe(AT_FDCWD, path, true, 0755, why,
	    sizeof(why)), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(why, "pub/theirs: owned by uid 65534, not by root"));
	assert_false(exists(topfd, "pub/theirs/sub"));
}

static void
appends_only_to_a_file_or_device_of_its_own(void **state)
{
	mode_t old = umask(0);
	int fd, reader, dev;

	(void)state;
	fd = file_append_at(topfd, "live", 0640);
	umask(old);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mode_of(topfd, "live"), 0640);

	put("target", "secret\n", 0600);
	assert_int_equal(symlinkat("target", topfd, "sym"), 0);
	assert_int_equal(file_append_at(topfd, "sym", 0640), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(linkat(topfd, "target", topfd, "hard", 0), 0);
	assert_int_equal(file_append_at(topfd, "hard", 0640), -1);
	assert_int_equal(errno, EMLINK);
	assert_int_equal(mkfifoat(topfd, "fifo", 0600), 0);
	assert_int_equal(file_append_at(topfd, "fifo", 0640), -1);
	assert_int_equal(errno, ENXIO);
	/* Not with a reader either: a FIFO is no file. */
	reader = openat(topfd, "fifo", O_RDONLY | O_NONBLOCK);
	assert_true(reader >= 0);
	assert_int_equal(file_append_at(topfd, "fifo", 0640), -1);
	assert_int_equal(errno, ENXIO);
	close(reader);
	/* A device root made is taken (/dev/full: a full disk in tests). */
	assert_true((dev = open("/dev", O_RDONLY | O_DIRECTORY)) >= 0);
	assert_true((fd = file_append_at(dev, "null", 0640)) >= 0);
	close(fd);
	close(dev);
	assert_int_equal(mode_of(topfd, "target"), 0600);
}

static void
gzip_keeps_the_mode_and_never_writes_through_a_planted_temp(void **state)
{
	char buf[64];

	(void)state;
	put("g", "some lines\n", 0640);
	put("victim", "untouched\n", 0600);
	assert_int_equal(symlinkat("victim", topfd, "g.gz.tmp"), 0);
	assert_int_equal(gzip_file_at(topfd, "g", "g.gz"), 0);
	assert_false(exists(topfd, "g"));
	assert_false(exists(topfd, "g.gz.tmp"));
	assert_int_equal(mode_of(topfd, "g.gz"), 0640);
	gunzip_to(topfd, "g.gz", buf, sizeof(buf));
	assert_string_equal(buf, "some lines\n");
	gunzip_to(topfd, "victim", buf, sizeof(buf));	/* plain reads through */
	assert_string_equal(buf, "untouched\n");
}

/*
 * A compression that fails keeps the rotated file as name.1; the next
 * rotation moves it up and compresses it. The fault: a directory where
 * the temporary file must go (a full disk fails the same way, later).
 */
static void
a_failed_compression_keeps_the_file_until_a_later_one(void **state)
{
	char buf[64];

	(void)state;
	put("ev.rotated", "first\n", 0640);
	assert_int_equal(mkdirat(topfd, "ev.1.gz.tmp", 0755), 0);
	assert_int_equal(mkdirat(topfd, "ev.1.gz.tmp/x", 0755), 0);
	assert_int_not_equal(rotate_at(topfd, "ev.rotated", "ev", 3), 0);
	assert_false(exists(topfd, "ev.rotated"));
	assert_false(exists(topfd, "ev.1.gz"));
	assert_int_equal(mode_of(topfd, "ev.1"), 0640);

	assert_int_equal(unlinkat(topfd, "ev.1.gz.tmp/x", AT_REMOVEDIR), 0);
	assert_int_equal(unlinkat(topfd, "ev.1.gz.tmp", AT_REMOVEDIR), 0);
	put("ev.rotated", "second\n", 0640);
	assert_int_equal(rotate_at(topfd, "ev.rotated", "ev", 3), 0);
	assert_false(exists(topfd, "ev.1"));
	assert_false(exists(topfd, "ev.2"));
	gunzip_to(topfd, "ev.1.gz", buf, sizeof(buf));
	assert_string_equal(buf, "second\n");
	gunzip_to(topfd, "ev.2.gz", buf, sizeof(buf));
	assert_string_equal(buf, "first\n");
	assert_int_equal(mode_of(topfd, "ev.2.gz"), 0640);

	/* keep bounds the slots, plain or not. */
	for (int i = 0; i < 3; i++) {
		put("ev.rotated", "more\n", 0640);
		assert_int_equal(rotate_at(topfd, "ev.rotated", "ev", 3), 0);
	}
	assert_true(exists(topfd, "ev.3.gz"));
	assert_false(exists(topfd, "ev.4.gz"));
	gunzip_to(topfd, "ev.3.gz", buf, sizeof(buf));
	assert_string_equal(buf, "more\n");
}

/* Each rotation compresses one plain file left behind, the newest. */
static void
plain_files_are_compressed_one_a_rotation(void **state)
{
	(void)state;
	put("pl.1", "older\n", 0640);
	put("pl.2", "oldest\n", 0640);
	put("pl.rotated", "new\n", 0640);
	assert_int_equal(rotate_at(topfd, "pl.rotated", "pl", 5), 0);
	assert_true(exists(topfd, "pl.1.gz"));
	assert_true(exists(topfd, "pl.2.gz"));
	assert_false(exists(topfd, "pl.2"));
	assert_true(exists(topfd, "pl.3"));
	put("pl.rotated", "newer\n", 0640);
	assert_int_equal(rotate_at(topfd, "pl.rotated", "pl", 5), 0);
	assert_false(exists(topfd, "pl.4"));
	assert_true(exists(topfd, "pl.4.gz"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(made_directories_have_their_mode_whatever_the_umask),
		cmocka_unit_test(symlinks_and_others_directories_are_refused),
		cmocka_unit_test(appends_only_to_a_file_or_device_of_its_own),
		cmocka_unit_test(gzip_keeps_the_mode_and_never_writes_through_a_planted_temp),
		cmocka_unit_test(a_failed_compression_keeps_the_file_until_a_later_one),
		cmocka_unit_test(plain_files_are_compressed_one_a_rotation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
