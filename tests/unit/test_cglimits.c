/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Resource keys as cgroup files, against a fake cgroupfs directory: what is
 * written where for each key, on a pure cgroup v2 host (this machine's v2
 * has no controllers, so only a fake directory shows it) and through v1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/cglimits.h"
#include "daemon/util.h"

static const char *const v2_files[] = {
	"memory.max", "memory.high", "memory.swap.max", "memory.oom.group",
	"pids.max", "cpu.max", "cpu.weight", "io.weight",
};
static const char *const v1_files[] = {
	"memory.limit_in_bytes", "memory.soft_limit_in_bytes",
	"memory.memsw.limit_in_bytes", "pids.max", "cpu.cfs_quota_us",
	"cpu.cfs_period_us", "cpu.shares",
};

struct fake {
	char dir[64];
	int fd;
};

/* A directory with the interface files, each holding "untouched". */
static void
fake_new(struct fake *f, const char *const *files, size_t n)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/arbor-cgfake.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->fd >= 0);
	for (size_t i = 0; i < n; i++) {
		int fd = openat(f->fd, files[i], O_WRONLY | O_CREAT, 0644);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "untouched", 9), 9);
		close(fd);
	}
}

static void
fake_free(struct fake *f, const char *const *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		unlinkat(f->fd, files[i], 0);
	close(f->fd);
	rmdir(f->dir);
}

static const char *
content(const struct fake *f, const char *file)
{
	static char buf[128];
	int fd = openat(f->fd, file, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

#define ALL ((1U << RES_NKEYS) - 1)
#define BIT(k) (1U << (k))

static struct spec_resources
every_key(void)
{
	struct spec_resources r = {
		.set = ALL,
		.memory_max = 64 << 20, .memory_high = 48 << 20,
		.memory_swap_max = 0, .pids_max = 20,
		.cpu_quota_us = 50000, .cpu_period_us = 100000,
		.cpu_weight = 200, .io_weight = 10000, .oom_group = true,
	};

	return r;
}

static void
v2_each_key_to_its_file(void **state)
{
	struct spec_resources r = every_key();
	struct fake f;
	char why[128];

	(void)state;
	fake_new(&f, v2_files, ARRAY_SIZE(v2_files));
	assert_int_equal(cg_write_v2(f.fd, &r, ALL, why, sizeof(why)), ALL);
	assert_string_equal(content(&f, "memory.max"), "67108864");
	assert_string_equal(content(&f, "memory.high"), "50331648");
	assert_string_equal(content(&f, "memory.swap.max"), "0");
	assert_string_equal(content(&f, "memory.oom.group"), "1");
	assert_string_equal(content(&f, "pids.max"), "20");
	assert_string_equal(content(&f, "cpu.max"), "50000 100000");
	assert_string_equal(content(&f, "cpu.weight"), "200");
	assert_string_equal(content(&f, "io.weight"), "default 10000");
	fake_free(&f, v2_files, ARRAY_SIZE(v2_files));
}

static void
v2_only_the_keys_asked_are_written(void **state)
{
	struct spec_resources r = every_key();
	struct fake f;

	(void)state;
	fake_new(&f, v2_files, ARRAY_SIZE(v2_files));
	assert_int_equal(cg_write_v2(f.fd, &r, BIT(RES_PIDS_MAX), NULL, 0),
	    BIT(RES_PIDS_MAX));
	assert_string_equal(content(&f, "pids.max"), "20");
	assert_string_equal(content(&f, "memory.max"), "untouched");
	assert_string_equal(content(&f, "cpu.max"), "untouched");
	fake_free(&f, v2_files, ARRAY_SIZE(v2_files));
}

/* A key no longer given (a reload dropped it) gets the default back. */
static void
v2_unset_keys_get_their_defaults(void **state)
{
	struct spec_resources r = { .set = 0 };
	struct fake f;

	(void)state;
	fake_new(&f, v2_files, ARRAY_SIZE(v2_files));
	assert_int_equal(cg_write_v2(f.fd, &r, ALL, NULL, 0), ALL);
	assert_string_equal(content(&f, "memory.max"), "max");
	assert_string_equal(content(&f, "memory.high"), "max");
	assert_string_equal(content(&f, "memory.swap.max"), "max");
	assert_string_equal(content(&f, "memory.oom.group"), "0");
	assert_string_equal(content(&f, "pids.max"), "max");
	assert_string_equal(content(&f, "cpu.max"), "max 100000");
	assert_string_equal(content(&f, "cpu.weight"), "100");
	assert_string_equal(content(&f, "io.weight"), "default 100");
	fake_free(&f, v2_files, ARRAY_SIZE(v2_files));
}

static void
v2_max_words(void **state)
{
	struct spec_resources r = { .set = BIT(RES_MEMORY_MAX) | BIT(RES_CPU_MAX),
	    .memory_max = RES_MAX, .cpu_quota_us = RES_MAX,
	    .cpu_period_us = 20000 };
	struct fake f;

	(void)state;
	fake_new(&f, v2_files, ARRAY_SIZE(v2_files));
	assert_int_equal(cg_write_v2(f.fd, &r, r.set, NULL, 0), r.set);
	assert_string_equal(content(&f, "memory.max"), "max");
	assert_string_equal(content(&f, "cpu.max"), "max 20000");
	fake_free(&f, v2_files, ARRAY_SIZE(v2_files));
}

/* A controller not enabled there: its files are absent, and it is said. */
static void
v2_a_missing_file_is_reported(void **state)
{
	static const char *const only_pids[] = { "pids.max" };
	struct spec_resources r = every_key();
	struct fake f;
	char why[128];

	(void)state;
	fake_new(&f, only_pids, 1);
	assert_int_equal(cg_write_v2(f.fd, &r, BIT(RES_MEMORY_MAX) |
	    BIT(RES_PIDS_MAX), why, sizeof(why)), BIT(RES_PIDS_MAX));
	assert_string_equal(why, "memory.max: No such file or directory");
	fake_free(&f, only_pids, 1);
}

static void
v1_files_per_controller(void **state)
{
	struct spec_resources r = every_key();
	struct fake f;
	char why[128];

	(void)state;
	r.memory_swap_max = 16 << 20;
	fake_new(&f, v1_files, ARRAY_SIZE(v1_files));
	assert_int_equal(cg_write_v1(f.fd, CTRL_MEMORY, &r, ALL, why,
	    sizeof(why)), BIT(RES_MEMORY_MAX) | BIT(RES_MEMORY_HIGH) |
	    BIT(RES_MEMORY_SWAP_MAX));
	assert_string_equal(content(&f, "memory.limit_in_bytes"), "67108864");
	assert_string_equal(content(&f, "memory.soft_limit_in_bytes"), "50331648");
	/* v1 bounds memory plus swap. */
	assert_string_equal(content(&f, "memory.memsw.limit_in_bytes"), "83886080");
	assert_string_equal(content(&f, "pids.max"), "untouched");
	assert_int_equal(cg_write_v1(f.fd, CTRL_PIDS, &r, ALL, why, sizeof(why)),
	    BIT(RES_PIDS_MAX));
	assert_string_equal(content(&f, "pids.max"), "20");
	assert_int_equal(cg_write_v1(f.fd, CTRL_CPU, &r, ALL, why, sizeof(why)),
	    BIT(RES_CPU_MAX) | BIT(RES_CPU_WEIGHT));
	assert_string_equal(content(&f, "cpu.cfs_period_us"), "100000");
	assert_string_equal(content(&f, "cpu.cfs_quota_us"), "50000");
	/* systemd's mapping: weight 100 is 1024 shares. */
	assert_string_equal(content(&f, "cpu.shares"), "2048");
	fake_free(&f, v1_files, ARRAY_SIZE(v1_files));
}

static void
v1_unset_keys_get_their_defaults(void **state)
{
	struct spec_resources r = { .set = 0 };
	struct fake f;

	(void)state;
	fake_new(&f, v1_files, ARRAY_SIZE(v1_files));
	cg_write_v1(f.fd, CTRL_MEMORY, &r, ALL, NULL, 0);
	cg_write_v1(f.fd, CTRL_PIDS, &r, ALL, NULL, 0);
	cg_write_v1(f.fd, CTRL_CPU, &r, ALL, NULL, 0);
	assert_string_equal(content(&f, "memory.limit_in_bytes"), "-1");
	assert_string_equal(content(&f, "memory.memsw.limit_in_bytes"), "-1");
	assert_string_equal(content(&f, "pids.max"), "max");
	assert_string_equal(content(&f, "cpu.cfs_quota_us"), "-1");
	assert_string_equal(content(&f, "cpu.shares"), "1024");
	fake_free(&f, v1_files, ARRAY_SIZE(v1_files));
}

static void
keys_know_their_controller(void **state)
{
	(void)state;
	assert_int_equal(cg_key_ctrl(RES_MEMORY_SWAP_MAX), CTRL_MEMORY);
	assert_int_equal(cg_key_ctrl(RES_OOM_GROUP), CTRL_MEMORY);
	assert_int_equal(cg_key_ctrl(RES_PIDS_MAX), CTRL_PIDS);
	assert_int_equal(cg_key_ctrl(RES_CPU_WEIGHT), CTRL_CPU);
	assert_int_equal(cg_key_ctrl(RES_IO_WEIGHT), CTRL_IO);
	assert_int_equal(cg_keys_of(CTRL_CPU), BIT(RES_CPU_MAX) | BIT(RES_CPU_WEIGHT));
	assert_non_null(cg_v1_lacks(RES_OOM_GROUP));
	assert_non_null(cg_v1_lacks(RES_IO_WEIGHT));
	assert_null(cg_v1_lacks(RES_MEMORY_MAX));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v2_each_key_to_its_file),
		cmocka_unit_test(v2_only_the_keys_asked_are_written),
		cmocka_unit_test(v2_unset_keys_get_their_defaults),
		cmocka_unit_test(v2_max_words),
		cmocka_unit_test(v2_a_missing_file_is_reported),
		cmocka_unit_test(v1_files_per_controller),
		cmocka_unit_test(v1_unset_keys_get_their_defaults),
		cmocka_unit_test(keys_know_their_controller),
	};

	return cmocka_run_group_tests_name("cglimits", tests, NULL, NULL);
}
