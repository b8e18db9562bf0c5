/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The floor of restart latency: spawn, wait on a pidfd, respawn at once,
 * nothing else. Usage: floor COUNT PROGRAM [ARG...] (COUNT spawns).
 */
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int
main(int argc, char **argv)
{
	int count = argc > 2 ? atoi(argv[1]) : 0;

	for (int i = 0; i < count; i++) {
		siginfo_t si;
		pid_t pid;
		int pfd;

		if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0)
			return 1;
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		poll(&p, 1, -1);
		waitid(P_PIDFD, (id_t)pfd, &si, WEXITED);
		close(pfd);
	}
	return 0;
}
