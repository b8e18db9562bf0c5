/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event log (arbor.conf(5), OBSERVABILITY), the writing side: JSON
 * lines appended to a file the core opened and passed (daemon/evfiles.h).
 * At event_log_max_bytes the core is asked to rotate it and passes the new
 * file; until then lines go on to the old one. Without a file, lines are
 * dropped and counted, and the core is asked again every few seconds. A
 * write never blocks long.
 */
#ifndef ARBOR_EVENTLOG_H
#define ARBOR_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct eventlog;

/* ask(ctx, full): the file is full (true) or there is none (false). */
struct eventlog *eventlog_new(const char *path, uint64_t max_bytes,
    void (*ask)(void *ctx, bool full), void *ctx);
void eventlog_close(struct eventlog *);
/* The core's file (taken; -1: none now). */
void eventlog_set_fd(struct eventlog *, int fd);
/* Asks again when due: the next due time in ms, -1: none. */
int eventlog_tick(struct eventlog *, uint64_t now);
/* Appends one line (without its newline). */
void eventlog_write(struct eventlog *, const char *line, size_t len);
/* Lines that could not be written. */
uint64_t eventlog_dropped(const struct eventlog *);

#endif
