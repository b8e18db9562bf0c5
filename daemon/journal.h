/* SPDX-License-Identifier: BSD-2-Clause */
/* One worker line to the systemd journal (its native protocol, libsystemd). */
#ifndef ARBOR_JOURNAL_H
#define ARBOR_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

/* stream 0 is stdout (PRIORITY 6), 1 stderr (3); pid 0: not known. */
void journal_line(const char *path, const char *name, pid_t pid, int stream,
    const char *text, size_t len);

#endif
