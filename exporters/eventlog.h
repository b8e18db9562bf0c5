/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event log (arbor.conf(5), OBSERVABILITY): JSON lines appended to a file,
 * rotated at a size into gzip files (FILE.1.gz newest ... FILE.N.gz). Its
 * directory is made when missing, checked and held (daemon/rotate.h): no
 * file is reached through a path another user could change. A failing
 * write is logged once, counted and retried; it never blocks long.
 */
#ifndef ARBOR_EVENTLOG_H
#define ARBOR_EVENTLOG_H

#include <stdbool.h>
#include <stdint.h>

struct eventlog;

struct eventlog *eventlog_open(const char *path, uint64_t max_bytes,
    uint32_t keep);
void eventlog_close(struct eventlog *);
/* Appends one line (without its newline). */
void eventlog_write(struct eventlog *, const char *line, size_t len);
/* Lines that could not be written. */
uint64_t eventlog_dropped(const struct eventlog *);

#endif
