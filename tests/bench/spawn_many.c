/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The floor of starting N workers: a loop spawning /bin/sleep, each spawn
 * returning once its child has exec'd (clone3 with CLONE_VM | CLONE_VFORK
 * on a stack of its own, the child calling execve at once: clone_vm.h),
 * as arbord's spawns do. Prints the seconds it took, then kills and reaps
 * them.
 *
 *   spawn_many N            plain: each child in the loop's own cgroup;
 *                           SPAWN_POSIX=1 with glibc's posix_spawn, as
 *                           before, whose child also resets every
 *                           signal's disposition (tests/bench/floor.c)
 *   spawn_many N DIR        each child born into a cgroup of its own,
 *                           DIR/wK, made just before (clone3 with
 *                           CLONE_INTO_CGROUP, vfork semantics as arbord's
 *                           spawn: clone_vm.h): what the kernel charges
 *                           for a leaf per worker; SPAWN_COPY=1 without
 *                           CLONE_VM (the page tables copied), as before
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clone_vm.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static pid_t
spawn_into(int dirfd, int k, char **argv, int copy)
{
	char name[32];
	pid_t pid;
	int fd;

	snprintf(name, sizeof(name), "w%d", k);
	if (mkdirat(dirfd, name, 0755) < 0 ||
	    (fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	pid = cv_spawn_into(fd, argv, copy);
	close(fd);
	return pid;
}

int
main(int argc, char **argv)
{
	char *sleeper[] = { "/bin/sleep", "100000", NULL };
	int n = argc > 1 ? atoi(argv[1]) : 0, dirfd = -1;
	pid_t *pids = calloc((size_t)n + 1, sizeof(*pids));
	int copy = getenv("SPAWN_COPY") && *getenv("SPAWN_COPY") == '1';
	int glibc = getenv("SPAWN_POSIX") && *getenv("SPAWN_POSIX") == '1';
	int failed = 0;
	double t0;

	if (argc > 2 && (mkdir(argv[2], 0755), dirfd = open(argv[2],
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(argv[2]);
		return 1;
	}
	t0 = now();
	for (int i = 0; i < n && !failed; i++) {
		if (dirfd >= 0)
			pids[i] = spawn_into(dirfd, i, sleeper, copy);
		else if (!glibc)
			pids[i] = cv_spawn_into(-1, sleeper, 0);
		else if ((errno = posix_spawn(&pids[i], sleeper[0], NULL, NULL,
		    sleeper, environ)) != 0)	/* its error is returned */
			pids[i] = -1;
		if (pids[i] < 0) {
			/* A short loop must never pass for the floor. */
			fprintf(stderr, "spawn_many: child %d: %s\n", i,
			    strerror(errno));
			n = i;
			failed = 1;
		}
	}
	if (!failed) {
		printf("%.3f\n", now() - t0);
		fflush(stdout);
	}
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	/* A reaped child's leaf can stay busy a moment: a leaf left behind
	 * would fail the next run's mkdir. */
	for (int i = 0; dirfd >= 0 && i < n; i++) {
		char name[32];
		double until = now() + 2;

		snprintf(name, sizeof(name), "w%d", i);
		while (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 &&
		    errno == EBUSY && now() < until)
			usleep(1000);
	}
	if (dirfd >= 0 && rmdir(argv[2]) < 0) {
		fprintf(stderr, "spawn_many: rmdir %s: %s\n", argv[2],
		    strerror(errno));
		failed = 1;
	}
	free(pids);
	return failed;
}
