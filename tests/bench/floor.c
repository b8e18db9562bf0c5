/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The floor of restart latency: spawn, wait on a pidfd, respawn at once,
 * nothing else. Usage: floor COUNT PROGRAM [ARG...] (COUNT spawns).
 * Each child is cloned with vfork semantics (clone3 with CLONE_VM |
 * CLONE_VFORK, on a stack of its own, as arbord spawns: clone_vm.h) and
 * calls execve at once. FLOOR_POSIX_SPAWN=1 spawns with glibc's
 * posix_spawn instead, as the bare floor did before: its child also
 * resets every signal's disposition (some 120 system calls, here), work
 * no supervisor has to do, which made it slower than the floor in a
 * cgroup's bare child and hid what the cgroup costs.
 * With FLOOR_CGROUP=DIR (a cgroup v2 directory, reused for every child as
 * arbord reuses a worker's leaf) each child is born there (clone3 with
 * CLONE_INTO_CGROUP and vfork semantics, CLONE_VM on a stack of its own,
 * as arbord spawns: clone_vm.h): what the kernel itself charges a process
 * for living in a cgroup of its own. FLOOR_COPY=1 leaves CLONE_VM out, as
 * this floor did before: each spawn then copies the floor's page tables.
 * With FLOOR_STAMPS=FILE it appends "woke NS" when a child's pidfd wakes it
 * "clone NS" before each spawn, "child NS" as the child began (its own
 * clock, just before its execve; not with FLOOR_POSIX_SPAWN or FLOOR_COPY)
 * and "back NS" when the spawn returns (the child has exec'd:
 * CLONE_VFORK) (CLOCK_MONOTONIC): the phases of its restarts
 * (restart.py).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "clone_vm.h"

static void
stamp(int fd, const char *what)
{
	struct timespec ts;

	if (fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	dprintf(fd, "%s %lld\n", what,
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

int
main(int argc, char **argv)
{
	int count = argc > 2 ? atoi(argv[1]) : 0;
	const char *cg = getenv("FLOOR_CGROUP");
	int cgfd = cg ? open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	const char *st = getenv("FLOOR_STAMPS");
	int copy = getenv("FLOOR_COPY") && *getenv("FLOOR_COPY") == '1';
	int glibc = getenv("FLOOR_POSIX_SPAWN") &&
	    *getenv("FLOOR_POSIX_SPAWN") == '1';
	int sfd = st ? open(st, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644) : -1;

	static volatile unsigned long long entered;

	if (cg && cgfd < 0)
		return 1;
	if (sfd >= 0)
		cv_entered = &entered;
	for (int i = 0; i < count; i++) {
		siginfo_t si;
		pid_t pid;
		int pfd;

		stamp(sfd, "clone");
		if (glibc && cgfd < 0) {
			if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2,
			    environ) != 0)
				return 1;
		} else if ((pid = cv_spawn_into(cgfd, argv + 2, copy)) < 0)
			return 1;
		if (sfd >= 0 && entered) {
			dprintf(sfd, "child %llu\n", entered);
			entered = 0;
		}
		stamp(sfd, "back");
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		poll(&p, 1, -1);
		stamp(sfd, "woke");
		waitid(P_PIDFD, (id_t)pfd, &si, WEXITED);
		close(pfd);
	}
	return 0;
}
