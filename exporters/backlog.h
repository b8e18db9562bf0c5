/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The accept queues of the sockets arbord holds for workers (arbord(8),
 * SOCKETS AND THE FD STORE), read by the observability helper with
 * sock_diag (inet_diag for TCP, unix_diag for unix sockets): a listening
 * socket's receive queue there is the number of connections waiting to
 * be accepted. No fd of those sockets comes here: they are found by
 * their inodes, which the core publishes (obsq.h, struct obs_sockets).
 */
#ifndef ARBOR_BACKLOG_H
#define ARBOR_BACKLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "../daemon/obsq.h"

struct backlog;

struct backlog *backlog_new(const struct obs_sockets *shared);
void backlog_free(struct backlog *);

/* arbord holds stream sockets for owner (the copy as last read). */
bool backlog_has(struct backlog *, const char *owner);
/*
 * Reads every held socket's queue; then fn for each socket (depth -1:
 * not found, e.g. no longer listening). false when none could be read.
 */
bool backlog_sample(struct backlog *,
    void (*fn)(void *arg, const char *owner, const char *name, int64_t depth),
    void *arg);

#endif
