/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ARBOR_SPAWN_H
#define ARBOR_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "engine.h"

/* Records the signal dispositions to reset in workers; call before any other
 * change to arbord's own dispositions. */
void spawn_init(void);
/* Marks every fd above 2 close-on-exec: what arbord inherited, or what a
 * library opened without the flag. */
void spawn_cloexec_all(void);

/*
 * What a worker gets beyond 0, 1 and 2 (arbord(8), SOCKETS AND THE FD
 * STORE): fds[] as 3, 4, ... with LISTEN_FDS, LISTEN_PID (its own pid,
 * written in the child) and LISTEN_FDNAMES = names; and for ready = "fd"
 * the pipe's write end ready_fd as fd ready_to. The fds stay the caller's.
 */
struct spawn_pass {
	const int *fds;
	size_t n;
	const char *names;
	int ready_fd;		/* -1: none */
	int ready_to;
};

/* The child's clock (CLOCK_MONOTONIC, ns) as it began, and as it called
 * execve once its work there was done (the spawn event's child_mono_ns
 * and exec_mono_ns). */
struct spawn_times {
	uint64_t child_ns, exec_ns;
};

/*
 * Starts worker n in its own process group. Returns its pid, with *pidfd set,
 * once execve has succeeded; or -1 with *err set and a message in msg naming
 * the step, the command and the error (nothing is left running). devnull is
 * an open fd of /dev/null for the worker's stdin; notify_socket the path
 * given as NOTIFY_SOCKET to ready = "notify" workers. With cg (NULL:
 * process groups only) the child is born in the cgroup cg->dirfd
 * (clone3, CLONE_INTO_CGROUP) and joins cg's v1 groups before execve.
 * capture[] are the pipes for its "log" stdout and stderr (-1: arbord's
 * stderr); they stay the caller's. pass (NULL: nothing) as above. times
 * (NULL: not wanted) gets the child's clock once it has exec'd.
 */
pid_t spawn_worker(const struct enode *n, int devnull,
    const char *notify_socket, const struct cg_spawn *cg,
    const int capture[2], const struct spawn_pass *pass, int *pidfd,
    struct spawn_times *times, int *err, char *msg, size_t msglen);

/*
 * Starts the exec health check of worker n as the worker would start (its
 * user, environment less NOTIFY_SOCKET, cwd, limits; in cg when given),
 * with stdout and stderr to out_fd. As spawn_worker otherwise.
 */
pid_t spawn_check(const struct enode *n, int devnull, int out_fd,
    const struct cg_spawn *cg, int *pidfd, int *err, char *msg,
    size_t msglen);

#endif
