/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event log's files, the core's side (arbor.conf(5), OBSERVABILITY;
 * arbord(8), FAULT DOMAINS). The observability helper writes the event
 * log through a descriptor the core opens: the core makes and holds the
 * directory (daemon/rotate.h: no path another user could change), opens
 * the file to append, and rotates it when the helper says it is full. The
 * full file is compressed into the rotation by a short-lived child of the
 * core's, so zlib never runs in the core's process.
 */
#ifndef ARBOR_EVFILES_H
#define ARBOR_EVFILES_H

#include <stdbool.h>
#include <stdint.h>

#include "reactor.h"

struct evfiles;

struct evfiles *evfiles_new(struct reactor *, const char *path,
    uint32_t keep);
void evfiles_free(struct evfiles *);
/*
 * The file, opened to append (the caller's to pass and close); -1 when it
 * cannot be now (said once, and again when it works).
 */
int evfiles_open(struct evfiles *);
/*
 * The helper says the file is full: moved aside for its compression, and
 * a new one opened as by evfiles_open (an empty file is only opened
 * again: the helper's word is not taken for it). -1 when that cannot be now (a
 * compression still runs, or the rename failed: said); the helper writes
 * on to the old one and asks again later.
 */
int evfiles_rotate(struct evfiles *);

#endif
