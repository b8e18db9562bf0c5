/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The benchmark floors' spawn into a cgroup with vfork semantics, as
 * arbord's own spawn (daemon/spawn.c): clone3 with CLONE_VM | CLONE_VFORK
 * | CLONE_INTO_CGROUP, the child on a stack of its own calling execve at
 * once. Without CLONE_VM the kernel copies the parent's page tables for
 * each child, which posix_spawn (the bare floor) never does: a floor that
 * pays it is not a floor. x86_64 (the child must start on its stack with
 * no frame to return to, which only assembly can say).
 */
#ifndef ARBOR_BENCH_CLONE_VM_H
#define ARBOR_BENCH_CLONE_VM_H

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct clone3_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal,
	    stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define CV_CLONE_VM 0x100ULL
#define CV_CLONE_VFORK 0x4000ULL
#define CV_CLONE_INTO_CGROUP 0x200000000ULL
#define CV_STACK (64 * 1024)

extern char **environ;

struct cv_child {
	char **argv;
};

/* Set (floor.c, FLOOR_STAMPS): each child writes its clock there first
 * (CLOCK_MONOTONIC, ns), in the memory it shares with the caller. */
static volatile unsigned long long *cv_entered;

/*
 * Set (floor.c, FLOOR_CONTRACT): the child makes the system calls arbord's
 * child makes for its contract (daemon/spawn.c, child_main) before its
 * execve, and is cloned with CLONE_FILES as arbord's is: its own fd table
 * below 256, a session of its own, /dev/null and the two capture pipes as
 * 0, 1 and 2, the parent-death signal (and the check that the parent
 * still lives), SIGPIPE back to default, an empty mask, every other fd
 * close-on-exec.
 */
struct cv_contract {
	int devnull, out, err;
	pid_t parent;
};
static const struct cv_contract *cv_contract;

#define CV_CLONE_FILES 0x400ULL
#define CV_FD_BASE 256
#define CV_CLOSE_RANGE_UNSHARE (1U << 1)
#define CV_CLOSE_RANGE_CLOEXEC (1U << 2)
#define CV_PR_SET_PDEATHSIG 1

static void
cv_contract_calls(const struct cv_contract *k)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	if (syscall(SYS_close_range, CV_FD_BASE, ~0U, CV_CLOSE_RANGE_UNSHARE) < 0 ||
	    setsid() < 0 || dup2(k->devnull, 0) < 0 || dup2(k->out, 1) < 0 ||
	    dup2(k->err, 2) < 0 ||
	    syscall(SYS_prctl, CV_PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    getppid() != k->parent)
		syscall(SYS_exit_group, 126);
	sigaction(SIGPIPE, &dfl, NULL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		syscall(SYS_exit_group, 126);
	(void)syscall(SYS_close_range, 3, ~0U, CV_CLOSE_RANGE_CLOEXEC);
}

static int
cv_child_main(void *arg)
{
	struct cv_child *c = arg;

	if (cv_entered) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		*cv_entered = (unsigned long long)ts.tv_sec * 1000000000ULL +
		    (unsigned long long)ts.tv_nsec;
	}
	if (cv_contract)
		cv_contract_calls(cv_contract);
	execve(c->argv[0], c->argv, environ);
	syscall(SYS_exit_group, 127);
	return 127;
}

static long
cv_clone3(struct clone3_args *ca, int (*fn)(void *), void *arg)
{
	register long ret __asm__("rax") = SYS_clone3;
	register void *rfn __asm__("r12") = (void *)fn;
	register void *rarg __asm__("r13") = arg;

	__asm__ volatile(
	    "syscall\n\t"
	    "test %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xor %%ebp, %%ebp\n\t"
	    "mov %%r13, %%rdi\n\t"
	    "call *%%r12\n\t"
	    "mov %%eax, %%edi\n\t"
	    "mov $231, %%eax\n\t"
	    "syscall\n\t"
	    "hlt\n"
	    "1:"
	    : "+r"(ret)
	    : "D"(ca), "S"(sizeof(*ca)), "r"(rfn), "r"(rarg)
	    : "rcx", "r11", "memory", "cc");
	return ret;
}

/*
 * argv's child born in the cgroup cgfd, or, with cgfd -1, in the caller's
 * own (no CLONE_INTO_CGROUP: the bare floor, the same spawn otherwise);
 * with copy (the old floor, kept as a labelled row) without CLONE_VM: the
 * page tables copied. Returns once it has exec'd (CLONE_VFORK); the pid,
 * or -1.
 */
static pid_t
cv_spawn_into(int cgfd, char **argv, int copy)
{
	static void *stack;
	struct cv_child c = { argv };
	struct clone3_args a = { .flags = CV_CLONE_VFORK,
	    .exit_signal = SIGCHLD };
	long pid;

	if (cgfd >= 0) {
		a.flags |= CV_CLONE_INTO_CGROUP;
		a.cgroup = (unsigned long long)cgfd;
	}
	if (copy) {
		pid = syscall(SYS_clone3, &a, sizeof(a));
		if (pid == 0) {
			execve(argv[0], argv, environ);
			_exit(127);
		}
		return (pid_t)pid;
	}
	if (!stack && (stack = mmap(NULL, CV_STACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)) == MAP_FAILED) {
		stack = NULL;
		return -1;
	}
	a.flags |= CV_CLONE_VM | (cv_contract ? CV_CLONE_FILES : 0);
	a.stack = (unsigned long long)(unsigned long)stack;
	a.stack_size = CV_STACK;
	pid = cv_clone3(&a, cv_child_main, &c);
	if (pid < 0) {
		errno = (int)-pid;	/* the raw system call's -errno */
		return -1;
	}
	return (pid_t)pid;
}

#endif
