/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cglimits.h"
#include "util.h"

enum cg_ctrl
cg_key_ctrl(enum res_key k)
{
	switch (k) {
	case RES_PIDS_MAX: return CTRL_PIDS;
	case RES_CPU_MAX: case RES_CPU_WEIGHT: return CTRL_CPU;
	case RES_IO_WEIGHT: return CTRL_IO;
	default: return CTRL_MEMORY;
	}
}

const char *
cg_ctrl_name(enum cg_ctrl c)
{
	static const char *const names[] = { [CTRL_MEMORY] = "memory",
	    [CTRL_PIDS] = "pids", [CTRL_CPU] = "cpu", [CTRL_IO] = "io" };

	return (size_t)c < ARRAY_SIZE(names) ? names[c] : "?";
}

unsigned
cg_keys_of(enum cg_ctrl c)
{
	unsigned m = 0;

	for (int k = 0; k < RES_NKEYS; k++)
		if (cg_key_ctrl((enum res_key)k) == c)
			m |= 1U << k;
	return m;
}

/* One file, rewritten whole; false with why on failure. */
static bool
put(int dirfd, const char *file, const char *value, char *why, size_t whylen)
{
	/* file is one name in a directory cgroup.c opened without a link. */
	int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_TRUNC | O_NOFOLLOW);
	ssize_t w = -1;

	if (fd >= 0) {
		w = write(fd, value, strlen(value));
		if (w < 0) {
			int e = errno;

			close(fd);
			errno = e;
		} else
			close(fd);
	}
	if (w == (ssize_t)strlen(value))
		return true;
	if (why && !why[0])
		snprintf(why, whylen, "%s: %s", file, strerror(errno));
	return false;
}

static void
size_text(char *buf, size_t len, uint64_t v, const char *unlimited)
{
	if (v == RES_MAX)
		snprintf(buf, len, "%s", unlimited);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

static bool
has(const struct spec_resources *r, enum res_key k)
{
	return r->set & (1U << k);
}

/* A size-like key's value, "max" when it is not given. */
static uint64_t
given_size(const struct spec_resources *r, enum res_key k)
{
	return has(r, k) ? res_size(r, k) : RES_MAX;
}

/* Each key's cgroup v2 file. */
static const char *const v2_files[RES_NKEYS] = {
	[RES_MEMORY_MAX] = "memory.max", [RES_MEMORY_HIGH] = "memory.high",
	[RES_MEMORY_SWAP_MAX] = "memory.swap.max",
	[RES_OOM_GROUP] = "memory.oom.group", [RES_PIDS_MAX] = "pids.max",
	[RES_CPU_MAX] = "cpu.max", [RES_CPU_WEIGHT] = "cpu.weight",
	[RES_IO_WEIGHT] = "io.weight",
};

unsigned
cg_write_v2(int dirfd, const struct spec_resources *r, unsigned keys,
    char *why, size_t whylen)
{
	unsigned done = 0;
	char v[64];

	if (why && whylen)
		why[0] = '\0';
	for (int k = 0; k < RES_NKEYS; k++) {
		if (!(keys & (1U << k)))
			continue;
		switch ((enum res_key)k) {
		case RES_MEMORY_MAX:
		case RES_MEMORY_HIGH:
		case RES_MEMORY_SWAP_MAX:
		case RES_PIDS_MAX:
			size_text(v, sizeof(v), given_size(r, k), "max");
			break;
		case RES_OOM_GROUP:
			snprintf(v, sizeof(v), "%d", has(r, k) && r->oom_group);
			break;
		case RES_CPU_MAX:
			if (has(r, k) && r->cpu_quota_us != RES_MAX)
				snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64,
				    r->cpu_quota_us, r->cpu_period_us);
			else
				snprintf(v, sizeof(v), "max %" PRIu64,
				    has(r, k) ? r->cpu_period_us : 100000);
			break;
		case RES_CPU_WEIGHT:
			snprintf(v, sizeof(v), "%u", has(r, k) ? r->cpu_weight : 100);
			break;
		case RES_IO_WEIGHT:
			snprintf(v, sizeof(v), "default %u",
			    has(r, k) ? r->io_weight : 100);
			break;
		default:
			continue;
		}
		if (put(dirfd, v2_files[k], v, why, whylen))
			done |= 1U << k;
	}
	return done;
}

const char *
cg_v1_lacks(enum res_key k)
{
	switch (k) {
	case RES_OOM_GROUP:
		return "cgroup v1 memory has no group OOM kill (memory.oom.group is v2 only)";
	case RES_IO_WEIGHT:
		return "io weights need the cgroup v2 io controller";
	default:
		return NULL;
	}
}

/* memory.memsw.limit_in_bytes bounds memory plus swap. */
static void
memsw_text(char *v, size_t len, const struct spec_resources *r)
{
	uint64_t mem = given_size(r, RES_MEMORY_MAX);
	uint64_t swap = given_size(r, RES_MEMORY_SWAP_MAX);

	if (mem == RES_MAX || swap == RES_MAX)
		snprintf(v, len, "-1");
	else
		snprintf(v, len, "%" PRIu64, sat_add_u64(mem, swap));
}

unsigned
cg_write_v1(int dirfd, enum cg_ctrl ctrl, const struct spec_resources *r,
    unsigned keys, char *why, size_t whylen)
{
	unsigned done = 0;
	char v[64];

	if (why && whylen)
		why[0] = '\0';
	keys &= cg_keys_of(ctrl);
	if (keys & ((1U << RES_MEMORY_MAX) | (1U << RES_MEMORY_SWAP_MAX))) {
		bool lim_ok, sw_ok = false;

		size_text(v, sizeof(v), given_size(r, RES_MEMORY_MAX), "-1");
		/*
		 * memsw may never be below the limit: a limit raised above
		 * the old memsw fails until memsw is raised, so try again.
		 */
		lim_ok = put(dirfd, "memory.limit_in_bytes", v, NULL, 0);
		if (keys & (1U << RES_MEMORY_SWAP_MAX)) {
			char sw[64];

			memsw_text(sw, sizeof(sw), r);
			sw_ok = put(dirfd, "memory.memsw.limit_in_bytes", sw, why,
			    whylen);
		}
		if (!lim_ok)
			lim_ok = put(dirfd, "memory.limit_in_bytes", v, why, whylen);
		if (lim_ok && (keys & (1U << RES_MEMORY_MAX)))
			done |= 1U << RES_MEMORY_MAX;
		if (sw_ok)
			done |= 1U << RES_MEMORY_SWAP_MAX;
	}
	if (keys & (1U << RES_MEMORY_HIGH)) {
		size_text(v, sizeof(v), given_size(r, RES_MEMORY_HIGH), "-1");
		if (put(dirfd, "memory.soft_limit_in_bytes", v, why, whylen))
			done |= 1U << RES_MEMORY_HIGH;
	}
	if (keys & (1U << RES_PIDS_MAX)) {
		size_text(v, sizeof(v), given_size(r, RES_PIDS_MAX), "max");
		if (put(dirfd, "pids.max", v, why, whylen))
			done |= 1U << RES_PIDS_MAX;
	}
	if (keys & (1U << RES_CPU_MAX)) {
		bool on = has(r, RES_CPU_MAX) && r->cpu_quota_us != RES_MAX;
		char p[32];

		snprintf(p, sizeof(p), "%" PRIu64, has(r, RES_CPU_MAX) ?
		    r->cpu_period_us : 100000);
		if (on)
			snprintf(v, sizeof(v), "%" PRIu64, r->cpu_quota_us);
		else
			snprintf(v, sizeof(v), "-1");
		/* The quota first: a period shorter than the old quota is fine then. */
		if (put(dirfd, "cpu.cfs_quota_us", "-1", why, whylen) &&
		    put(dirfd, "cpu.cfs_period_us", p, why, whylen) &&
		    put(dirfd, "cpu.cfs_quota_us", v, why, whylen))
			done |= 1U << RES_CPU_MAX;
	}
	if (keys & (1U << RES_CPU_WEIGHT)) {
		/* systemd's mapping: weight 100 is the default 1024 shares. */
		uint64_t shares = has(r, RES_CPU_WEIGHT) ?
		    (uint64_t)r->cpu_weight * 1024 / 100 : 1024;

		snprintf(v, sizeof(v), "%" PRIu64, shares < 2 ? 2 : shares);
		if (put(dirfd, "cpu.shares", v, why, whylen))
			done |= 1U << RES_CPU_WEIGHT;
	}
	return done;
}
