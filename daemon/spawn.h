/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ARBOR_SPAWN_H
#define ARBOR_SPAWN_H

#include <sys/types.h>

#include "cgroup.h"
#include "engine.h"

/* Records the signal dispositions to reset in workers; call before any other
 * change to arbord's own dispositions. */
void spawn_init(void);

/*
 * Starts worker n in its own process group. Returns its pid, with *pidfd set,
 * once execve has succeeded; or -1 with *err set and a message in msg naming
 * the step, the command and the error (nothing is left running). devnull is
 * an open fd of /dev/null for the worker's stdin; notify_socket the path
 * given as NOTIFY_SOCKET to ready = "notify" workers. With cg (NULL:
 * process groups only) the child is born in the cgroup cg->dirfd
 * (clone3, CLONE_INTO_CGROUP) and joins cg's v1 groups before execve.
 */
pid_t spawn_worker(const struct enode *n, int devnull,
    const char *notify_socket, const struct cg_spawn *cg, int *pidfd,
    int *err, char *msg, size_t msglen);

#endif
