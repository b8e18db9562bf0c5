/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `arborctl trace`: Chrome/Perfetto JSON of lifecycle spans, one track per
 * worker. Each track is a strict sequence down -> start -> up -> down...,
 * so spans never overlap; fatal signals and OOM kills are instant events.
 */
#ifndef ARBOR_TRACE_H
#define ARBOR_TRACE_H

#include <jansson.h>
#include <stdint.h>

struct trace;

/* Records from begin to end (CLOCK_MONOTONIC ns) for the client fd. */
struct trace *trace_start(int fd, uint64_t begin_ns, uint64_t end_ns);
/* path was up when recording began. */
void trace_running(struct trace *, const char *path);
/* Every final event (as written to the event log), in order. */
void trace_event(struct trace *, json_t *event);
uint64_t trace_end(const struct trace *);
int trace_fd(const struct trace *);
/* Closes open spans at now, frees the recorder, returns the trace. */
json_t *trace_finish(struct trace *, uint64_t now_ns);
void trace_free(struct trace *);

#endif
