/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The metrics registry of arbord(8), METRICS, owned by the observability thread: every
 * family with its HELP and TYPE, series keyed by label values, and the text
 * exposition format 0.0.4. Not thread-safe: only its owner touches it.
 */
#ifndef ARBOR_METRICS_H
#define ARBOR_METRICS_H

#include <stdint.h>
#include <stdio.h>

enum metric {
	M_CHILD_UP,
	M_CHILD_RESTARTS,
	M_CHILD_EXITS,
	M_GIVE_UPS,
	M_RESTART_LATENCY,
	M_EXIT_DETECT_LATENCY,
	M_READY_LATENCY,
	M_RUNQ_LATENCY,
	M_OOM_KILLS,
	M_BPF_ENABLED,
	M_BPF_PROGRAMS,
	M_EVENTS_DROPPED,
	M_OBS_RESTARTS,
	M_HELPER_RESTARTS,
	M_CHILD_CPU,
	M_CHILD_MEMORY,
	M_CHILD_PIDS,
	M_CHILD_PRESSURE,
	M_LOG_DROPPED,
	M_HEALTH_FAILURES,
	M_SOCKET_BACKLOG,
	M_COUNT,
};

struct registry;

struct registry *registry_new(void);
void registry_free(struct registry *);

/* label: the value of the metric's first label ("path", "source"), or NULL;
 * reason: the second label of arbor_child_exits_total. */
void reg_add(struct registry *, enum metric, const char *label,
    const char *reason, double v);
void reg_set(struct registry *, enum metric, const char *label,
    const char *reason, double v);
void reg_observe(struct registry *, enum metric, const char *label,
    double seconds);
/* Replaces a run-queue histogram with log2 ns slots (from the kernel). */
void reg_set_log2(struct registry *, enum metric, const char *label,
    const uint64_t *slots, int nslots);
/* Adds log2 ns slots to a run-queue histogram (after reg_clear). */
void reg_add_log2(struct registry *, enum metric, const char *label,
    const uint64_t *slots, int nslots);
/* Zeroes every series of a histogram family, kept (for a new sum). */
void reg_clear(struct registry *, enum metric);
/* Drops every series of a path that no longer exists. */
void reg_forget(struct registry *, const char *path);
/* The exposition, standard process_* metrics included. */
void registry_format(struct registry *, FILE *);

#endif
