/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Resource keys (arbor.conf(5), RESOURCES) as cgroup files: which controller
 * a key needs, and what is written where, for cgroup v2 and for a v1
 * controller mounted on its own (hybrid hosts). No state: the runtime
 * (daemon/cgroup.c) says which directory and which keys.
 */
#ifndef ARBOR_CGLIMITS_H
#define ARBOR_CGLIMITS_H

#include <stddef.h>

#include "../config/spec.h"

enum cg_ctrl { CTRL_MEMORY, CTRL_PIDS, CTRL_CPU, CTRL_IO, CTRL_N };

enum cg_ctrl cg_key_ctrl(enum res_key);
const char *cg_ctrl_name(enum cg_ctrl);
/* The keys (1 << enum res_key) a controller carries. */
unsigned cg_keys_of(enum cg_ctrl);

/*
 * Writes keys (a mask of enum res_key bits) of r into the cgroup v2
 * directory dirfd: a key that r does not set gets its default back ("max",
 * weight 100, oom_group 0). Returns the keys written; the first failure is
 * described in why ("memory.max: Permission denied").
 */
unsigned cg_write_v2(int dirfd, const struct spec_resources *r, unsigned keys,
    char *why, size_t whylen);

/*
 * The same for a v1 hierarchy of controller ctrl: memory.limit_in_bytes,
 * memory.soft_limit_in_bytes (memory_high, the nearest v1 has),
 * memory.memsw.limit_in_bytes (memory_max + memory_swap_max), pids.max,
 * cpu.cfs_quota_us and cpu.cfs_period_us, cpu.shares. Keys v1 cannot carry
 * (oom_group, io_weight) are never written: cg_v1_lacks says why.
 */
unsigned cg_write_v1(int dirfd, enum cg_ctrl ctrl,
    const struct spec_resources *r, unsigned keys, char *why, size_t whylen);
/* NULL when v1 carries key, else the reason it does not. */
const char *cg_v1_lacks(enum res_key);

#endif
