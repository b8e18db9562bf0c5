/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which of arbor's BPF programs the running kernel can take. A tracepoint's
 * arguments change between kernels (sched_process_exit gained group_dead
 * after 6.1, sched_switch prev_state in 5.18, mark_victim a task and uid in
 * place of a pid); each probe has a program for each shape, newest first,
 * and the kernel's BTF says which fits. Kept apart from the loader so a test
 * can ask it about a BTF of its own making.
 */
#ifndef ARBOR_SHAPE_H
#define ARBOR_SHAPE_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

#define PROBE_VARIANTS 2

struct probe_def {
	const char *name;	/* the probe, as metrics and arborctl say it */
	const char *tp;		/* its tracepoint */
	struct {
		const char *prog;	/* a program of bpf/arbor.bpf.c */
		const char *args;	/* what it reads: 'p' pointer, 'i' integer */
	} v[PROBE_VARIANTS];
};

extern const struct probe_def probe_defs[];
extern const size_t probe_ndefs;

/*
 * Whether the tracepoint tp of btf takes at least the arguments args says,
 * of those kinds. If not, why (e.g. "takes (int), not (pointer, int)").
 */
bool shape_fits(const struct btf *, const char *tp, const char *args,
    char *why, size_t whylen);

/*
 * The variant of def that fits btf (an index into def->v), or -1 with why.
 */
int shape_choose(const struct btf *, const struct probe_def *def, char *why,
    size_t whylen);

#endif
