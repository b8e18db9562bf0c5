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
 * FLOOR_CONTRACT=1 (with FLOOR_CGROUP, not FLOOR_COPY) adds the system calls arbord makes
 * for its contract on each restart and nothing of arbord's own: after the
 * wake-up and waitid, a pread of the leaf's cgroup.events and an fstat of
 * the leaf (is it empty, has it sub-cgroups, is it still there), a
 * FIONREAD on each capture pipe (where the old output ends); before the
 * clone, a copy of each pipe's write end below fd 256, closed after; the
 * child's own calls (clone_vm.h, cv_contract_calls). SIGPIPE ignored and
 * the signals arbord reads from a signalfd blocked, as in arbord. Its
 * pidfd is still pidfd_open's after the clone (arbord's comes from the
 * clone, CLONE_PIDFD).
 * FLOOR_LOOP=1 (with FLOOR_CONTRACT) waits as arbord's event loop does
 * instead of with poll on the pidfd: the pidfd in an epoll that is itself
 * in the outer epoll (arbord's per-worker watches), SIGCHLD read from a
 * signalfd in the outer epoll after the restart, then one
 * waitid(P_ALL, WNOHANG) for orphans (arbord reaps what is re-parented to
 * it), and a second thread blocked in a read (arbord's log writer). Its
 * gap against the contract floor's is what the shape of such a loop
 * costs, apart from the work arbord does in it.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
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

/*
 * FLOOR_LOOP: waits until the inner epoll (the child's pidfd) is ready.
 * A SIGCHLD that comes with it is left for after the restart, as arbord
 * leaves it; one that comes before it is read here, or the signalfd
 * (still ready) would wake this wait again at once.
 */
static int
loop_wait(int outer, int inner, int sigfd)
{
	for (;;) {
		struct epoll_event ev[4], in[4];
		int n = epoll_wait(outer, ev, 4, -1);

		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			if (ev[i].data.fd == inner && epoll_wait(inner, in, 4, 0) > 0)
				return 0;
		for (int i = 0; i < n; i++)
			if (ev[i].data.fd == sigfd) {
				struct signalfd_siginfo ssi;

				while (read(sigfd, &ssi, sizeof(ssi)) ==
				    (ssize_t)sizeof(ssi))
					;
			}
	}
}

/* FLOOR_LOOP's second thread: blocked for good, as a log writer with
 * nothing to write. */
static void *
idle_thread(void *arg)
{
	char c;

	(void)read(*(int *)arg, &c, 1);
	return NULL;
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

	int contract = cgfd >= 0 && getenv("FLOOR_CONTRACT") &&
	    *getenv("FLOOR_CONTRACT") == '1';
	static struct cv_contract k;
	int evfd = -1, rfd[2] = { -1, -1 }, wfd[2] = { -1, -1 };
	int loop = getenv("FLOOR_LOOP") && *getenv("FLOOR_LOOP") == '1';
	int outer = -1, inner = -1, sigfd = -1, done = -1;
	static int idle[2];

	if ((cg && cgfd < 0) || (contract && copy) || (loop && !contract))
		return 1;
	if (sfd >= 0)
		cv_entered = &entered;
	if (contract) {
		sigset_t blocked;

		for (int j = 0; j < 2; j++) {
			int pp[2];

			if (pipe2(pp, O_CLOEXEC) < 0 ||
			    (rfd[j] = fcntl(pp[0], F_DUPFD_CLOEXEC, 256)) < 0 ||
			    (wfd[j] = fcntl(pp[1], F_DUPFD_CLOEXEC, 256)) < 0)
				return 1;
			close(pp[0]);
			close(pp[1]);
		}
		if ((k.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
		    (evfd = openat(cgfd, "cgroup.events",
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
			return 1;
		k.parent = getpid();
		signal(SIGPIPE, SIG_IGN);
		sigemptyset(&blocked);
		sigaddset(&blocked, SIGCHLD);
		sigaddset(&blocked, SIGTERM);
		sigaddset(&blocked, SIGINT);
		sigaddset(&blocked, SIGHUP);
		sigprocmask(SIG_BLOCK, &blocked, NULL);
		cv_contract = &k;
	}
	if (loop) {
		struct epoll_event e = { .events = EPOLLIN };
		sigset_t chld;
		pthread_t t;

		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		if (pipe2(idle, O_CLOEXEC) < 0 ||
		    pthread_create(&t, NULL, idle_thread, &idle[0]) != 0 ||
		    (sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
		    (outer = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		    (inner = epoll_create1(EPOLL_CLOEXEC)) < 0)
			return 1;
		e.data.fd = inner;
		if (epoll_ctl(outer, EPOLL_CTL_ADD, inner, &e) < 0)
			return 1;
		e.data.fd = sigfd;
		if (epoll_ctl(outer, EPOLL_CTL_ADD, sigfd, &e) < 0)
			return 1;
	}
	for (int i = 0; i < count; i++) {
		siginfo_t si;
		pid_t pid;
		int pfd;

		if (contract) {
			if ((k.out = fcntl(wfd[0], F_DUPFD_CLOEXEC, 3)) < 0 ||
			    (k.err = fcntl(wfd[1], F_DUPFD_CLOEXEC, 3)) < 0)
				return 1;
		}

		stamp(sfd, "clone");
		if (glibc && cgfd < 0) {
			if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2,
			    environ) != 0)
				return 1;
		} else if ((pid = cv_spawn_into(cgfd, argv + 2, copy)) < 0)
			return 1;
		if (contract) {
			close(k.out);
			close(k.err);
		}
		if (sfd >= 0 && entered) {
			dprintf(sfd, "child %llu\n", entered);
			entered = 0;
		}
		stamp(sfd, "back");
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (loop) {
			struct signalfd_siginfo ssi;
			struct epoll_event e = { .events = EPOLLIN, .data.fd = pfd };

			/* After the restart, as arbord takes the old pidfd's
			 * watch away and reads the signalfd once the watch's
			 * turn in the same batch is over. */
			if (done >= 0 && (epoll_ctl(inner, EPOLL_CTL_DEL, done,
			    NULL) < 0 || close(done) < 0))
				return 1;
			while (read(sigfd, &ssi, sizeof(ssi)) == (ssize_t)sizeof(ssi))
				;
			memset(&si, 0, sizeof(si));
			(void)waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
			if (epoll_ctl(inner, EPOLL_CTL_ADD, pfd, &e) < 0 ||
			    loop_wait(outer, inner, sigfd) < 0)
				return 1;
		} else {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, -1);
		}
		stamp(sfd, "woke");
		waitid(P_PIDFD, (id_t)pfd, &si, WEXITED);
		if (loop)
			done = pfd;
		else
			close(pfd);
		if (contract) {
			char ev[256];
			struct stat sb;
			int n;

			if (pread(evfd, ev, sizeof(ev), 0) < 0 ||
			    fstat(cgfd, &sb) < 0 ||
			    ioctl(rfd[0], FIONREAD, &n) < 0 ||
			    ioctl(rfd[1], FIONREAD, &n) < 0)
				return 1;
		}
	}
	return 0;
}
