/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Spawning a worker. Everything that allocates or may block (the
 * environment, user lookup, opening output files) happens in the parent;
 * the child, created with CLONE_VM | CLONE_VFORK on a stack of its own, only
 * makes system calls and then execve()s. The parent is suspended until the
 * child has exec'd or died, so a failure the child writes into the memory
 * they share (child_args.fail) is there to read when the parent goes on.
 *
 * The child changes credentials with raw system calls: glibc's setuid() and
 * friends broadcast to every thread of the process, and in a CLONE_VM child
 * those "threads" are arbord's own.
 *
 * File descriptors: arbord holds a pidfd per worker, and a child that got a
 * copy of the whole table (as fork does) would copy, then close at execve,
 * one per worker: O(workers) per spawn (starting 10,000 workers took 18.7 s
 * that way, 14.4 s this way, in tests/bench/scale.py). So pidfds
 * live at SPAWN_FD_BASE and above, the child shares arbord's table
 * (CLONE_FILES) and its first act is close_range(SPAWN_FD_BASE, ~0,
 * CLOSE_RANGE_UNSHARE), which copies only the fds below the base. When a fd
 * the child needs is not below the base, it gets the whole copy as before.
 * What arbord opens for itself at its start (epolls, sockets, the probes'
 * maps and links) is above the base too (loop.c's setup), as is what it
 * holds for a helper from each of its starts (helper.c): below it stay
 * stdio, /dev/null and what a spawn hands down, so few are copied.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/*
 * A child never returns, so the stack redzones ASan poisons for its frames
 * stay poisoned in the shared shadow memory: clear them before each reuse.
 */
#define CHILD_STACK_CLEAN(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define CHILD_STACK_CLEAN(p, n) ((void)0)
#endif

extern char **environ;

#define CHILD_STACK_SIZE (256 * 1024)

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum step {
	STEP_UNSHARE, STEP_CGROUP, STEP_SETSID, STEP_PDEATHSIG, STEP_RLIMIT,
	STEP_CHDIR, STEP_STDIO, STEP_SETGROUPS, STEP_SETGID, STEP_SETUID,
	STEP_NO_NEW_PRIVS, STEP_SIGMASK, STEP_STDOUT_FILE, STEP_STDERR_FILE,
	STEP_PASS, STEP_EXECVE,
};

static const char *const step_names[] = {
	[STEP_UNSHARE] = "unshare(CLONE_FILES)",
	[STEP_CGROUP] = "joining its cgroup", [STEP_SETSID] = "setsid",
	[STEP_PDEATHSIG] = "prctl(PDEATHSIG)",
	[STEP_RLIMIT] = "setrlimit", [STEP_CHDIR] = "chdir",
	[STEP_STDIO] = "dup2", [STEP_SETGROUPS] = "setgroups",
	[STEP_SETGID] = "setgid", [STEP_SETUID] = "setuid",
	[STEP_NO_NEW_PRIVS] = "prctl(NO_NEW_PRIVS)",
	[STEP_SIGMASK] = "sigprocmask",
	[STEP_STDOUT_FILE] = "opening its stdout file",
	[STEP_STDERR_FILE] = "opening its stderr file",
	[STEP_PASS] = "dup2 of a passed fd (LISTEN_FDS)",
	[STEP_EXECVE] = "execve",
};

struct child_failure {
	int err;
	int step;
	/* The child's clock as it began and as it called execve (struct
	 * spawn_times): the memory is the parent's (CLONE_VM). */
	uint64_t entered_ns, exec_ns;
};

struct child_args {
	char *const *argv;
	char **envp;
	const char *cwd;
	bool has_umask;
	mode_t umask;
	bool set_ids;
	uid_t uid;
	gid_t gid;
	bool set_uid;
	const gid_t *groups;
	size_t ngroups;
	bool no_new_privs;
	const struct spec_rlimit *rlimits;
	size_t nrlimits;
	int stdin_fd, stdout_fd, stderr_fd;	/* -1: inherit */
	/* "file:" outputs, opened by the child as the worker's user. */
	const char *stdout_path, *stderr_path;
	/*
	 * Where the child says why it failed: the parent's, whose memory it
	 * shares (CLONE_VM) until execve, and which is suspended until then
	 * (CLONE_VFORK), as glibc's posix_spawn reports. No pipe to make,
	 * read and close at each spawn.
	 */
	volatile struct child_failure *fail;
	pid_t parent;
	bool shares_files;	/* CLONE_FILES: unshare before any fd change */
	const int *join_fds;	/* cgroup.procs files to write "0" to */
	size_t njoin;
	int exit_signal;	/* SIGCHLD; 0 for a check (waited with __WALL) */
	/* Passed fds, moved above all targets by the parent: to 3, 4, ... */
	const int *pass;
	size_t npass;
	int ready_fd, ready_to;	/* -1: none */
	char *listen_pid;	/* the digits of LISTEN_PID= in envp */
};

static void *child_stack;
static pid_t arbord_pid;

/* arbord's pid, asked once (it is the parent of every child spawned). */
static pid_t
self_pid(void)
{
	if (!arbord_pid)
		arbord_pid = getpid();
	return arbord_pid;
}
/* Signals arbord found ignored (SIG_IGN survives execve): reset in workers. */
static int ignored[64];
static size_t nignored;
/* arbord's soft RLIMIT_NOFILE as it started: workers get it back. */
static struct rlimit nofile_at_start;
static bool nofile_raised;

/*
 * Workers get fds 0, 1 and 2 and nothing else, as systemd services do: what
 * arbord inherited beyond them (a shell's or a test runner's fds) is marked
 * close-on-exec once here; everything arbord opens itself is already.
 */
void
spawn_cloexec_all(void)
{
	DIR *d;
	struct dirent *e;

	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (!(d = opendir("/proc/self/fd")))	/* kernels before 5.11 */
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

void
spawn_init(void)
{
	struct rlimit rl;

	spawn_cloexec_all();

	/*
	 * A pidfd per worker: arbord takes what the hard limit allows, and
	 * gives its workers the limit it was started with.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		nofile_at_start = rl;
		rl.rlim_cur = rl.rlim_max;
		nofile_raised = setrlimit(RLIMIT_NOFILE, &rl) == 0;
	}
	for (int sig = 1; sig < 65 && nignored < ARRAY_SIZE(ignored); sig++) {
		struct sigaction sa;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) == 0 &&
		    (sa.sa_handler == SIG_IGN || sig == SIGPIPE))
			ignored[nignored++] = sig;
	}
}

/*
 * Leaves the child without any exit hook: it shares arbord's memory, and a
 * hook (a sanitizer's leak check, say) must not run there.
 */
static _Noreturn void
child_exit(void)
{
	for (;;)
		syscall(SYS_exit_group, 127);
}

static _Noreturn void
child_fail(const struct child_args *a, enum step step)
{
	a->fail->err = errno;
	a->fail->step = step;
	child_exit();
}

/*
 * A "file:" output, opened after the worker's credentials are taken: the
 * file is the worker's to write, never root's (a worker that owns the
 * directory could otherwise point the name at any file and have root
 * append to it). The last component is never a symlink; a FIFO does not
 * block the open. 0 or -1 with errno.
 */
static int
child_open_output(const char *path, int to)
{
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    dup2(fd, to) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * LISTEN_PID is the worker's own pid, known only in the child: written
 * into the environment's string (the memory is shared until execve, and
 * the parent, suspended, never reads it). No stdio here: the child only
 * makes system calls.
 */
static void
put_pid(char *at, long pid)
{
	char d[24];
	size_t n = 0;

	do
		d[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0 && n < sizeof(d));
	while (n > 0)
		*at++ = d[--n];
	*at = '\0';
}

static int
child_main(void *arg)
{
	const struct child_args *a = arg;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	a->fail->entered_ns = mono_ns();
	/* Nothing touches a fd before this: the table is still arbord's. */
	if (a->shares_files &&
	    syscall(SYS_close_range, SPAWN_FD_BASE, ~0U, CLOSE_RANGE_UNSHARE) < 0 &&
	    syscall(SYS_unshare, CLONE_FILES) < 0)
		child_fail(a, STEP_UNSHARE);
	/* v1 groups (hybrid hosts): before anything of the program runs. */
	for (size_t i = 0; i < a->njoin; i++)
		if (write(a->join_fds[i], "0", 1) != 1)
			child_fail(a, STEP_CGROUP);
	/*
	 * A session of its own (as systemd gives each service): its process
	 * group can then be joined only by its own descendants, never by
	 * another worker or arbord's group, so group and session say whom a
	 * process belongs to (stop signals, sd_notify senders).
	 */
	if (setsid() < 0)
		child_fail(a, STEP_SETSID);
	if (nofile_raised && setrlimit(RLIMIT_NOFILE, &nofile_at_start) < 0)
		child_fail(a, STEP_RLIMIT);
	for (size_t i = 0; i < a->nrlimits; i++) {
		rlim_t v = a->rlimits[i].value == UINT64_MAX ? RLIM_INFINITY
		    : (rlim_t)a->rlimits[i].value;
		struct rlimit rl = { v, v };

		if (setrlimit(a->rlimits[i].resource, &rl) < 0)
			child_fail(a, STEP_RLIMIT);
	}
	if (a->has_umask)
		umask(a->umask);
	if ((a->stdin_fd >= 0 && dup2(a->stdin_fd, 0) < 0) ||
	    (a->stdout_fd >= 0 && dup2(a->stdout_fd, 1) < 0) ||
	    (a->stderr_fd >= 0 && dup2(a->stderr_fd, 2) < 0))
		child_fail(a, STEP_STDIO);
	if (a->set_ids) {
		if (syscall(SYS_setgroups, a->ngroups, a->groups) < 0)
			child_fail(a, STEP_SETGROUPS);
		if (syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
			child_fail(a, STEP_SETGID);
		if (a->set_uid &&
		    syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
			child_fail(a, STEP_SETUID);
	}
	/*
	 * After the credentials change: the kernel clears the parent-death
	 * signal whenever the effective uid or gid changes.
	 */
	/* As the worker's user, as systemd's WorkingDirectory=: a directory
	 * it may not enter is a failed start, not one root entered for it. */
	if (a->cwd && chdir(a->cwd) < 0)
		child_fail(a, STEP_CHDIR);
	if (child_open_output(a->stdout_path, 1) < 0)
		child_fail(a, STEP_STDOUT_FILE);
	if (child_open_output(a->stderr_path, 2) < 0)
		child_fail(a, STEP_STDERR_FILE);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(a, STEP_PDEATHSIG);
	if (getppid() != a->parent)	/* arbord died before PDEATHSIG */
		child_exit();
	if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(a, STEP_NO_NEW_PRIVS);
	/*
	 * Workers start with default dispositions and an empty mask, whatever
	 * arbord inherited (a shell's background job ignores SIGINT) or set
	 * for itself (SIGPIPE ignored, signalfd signals blocked).
	 */
	for (size_t i = 0; i < nignored; i++)
		sigaction(ignored[i], &dfl, NULL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(a, STEP_SIGMASK);
	/*
	 * Only 0, 1 and 2 reach the program. A fd another thread of arbord
	 * opened without O_CLOEXEC (a library's, say) would otherwise be
	 * inherited by every worker spawned while it is open; the table is
	 * the child's own by now. A kernel before 5.11 refuses the flag:
	 * there the fds' own O_CLOEXEC is all there is.
	 */
	(void)syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	/*
	 * The passed fds, whose copies the parent put above every target
	 * (so no dup2 here lands on a source not yet moved); dup2 leaves the
	 * targets without close-on-exec.
	 */
	for (size_t i = 0; i < a->npass; i++)
		if (dup2(a->pass[i], 3 + (int)i) < 0)
			child_fail(a, STEP_PASS);
	if (a->ready_fd >= 0 && dup2(a->ready_fd, a->ready_to) < 0)
		child_fail(a, STEP_PASS);
	if (a->listen_pid)
		put_pid(a->listen_pid, (long)syscall(SYS_getpid));
	a->fail->exec_ns = mono_ns();
	execve(a->argv[0], a->argv, a->envp);
	child_fail(a, STEP_EXECVE);
}

static bool
internal_var(const char *kv)
{
	static const char *const names[] = {
		"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
		"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
		"ARBOR_OBS_FAULT=", "ARBOR_PATH=",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

static bool
overridden(const struct spec_worker *w, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < w->nenv; i++)
		if (strncmp(w->env[i], kv, klen + 1) == 0)
			return true;
	return false;
}

/*
 * arbord's environment less its own variables: sifted once, at the first
 * spawn, not at each (a restart's set-up touched every string of it, cold
 * after the worker's life, for a result that never changes: arbord never
 * sets or unsets a variable of its own once it runs).
 */
static char **inherited;
static size_t ninherited;

static void
inherited_ready(void)
{
	if (inherited)
		return;
	inherited = xcalloc(strv_len(environ) + 1, sizeof(*inherited));
	for (char **e = environ; *e; e++)
		if (!internal_var(*e))
			inherited[ninherited++] = *e;
}

/* "NAME=" and a value joined, without printf's machinery (a restart's). */
static char *
env_var(const char *name_eq, const char *value)
{
	size_t a = strlen(name_eq), b = strlen(value);
	char *s = xreallocarray(NULL, a + b + 1, 1);

	memcpy(s, name_eq, a);
	memcpy(s + a, value, b + 1);
	return s;
}

/*
 * arbord's environment less its own variables, then env, then ARBOR_PATH
 * and, for notify workers, NOTIFY_SOCKET and WATCHDOG_USEC. The strings
 * of arbord's environment and of env are not copied (they outlive the
 * spawn, and the child only reads them): envp[*owned] on are the ones
 * made here, for env_free.
 */
static char **
build_env(const struct enode *n, const char *notify_socket,
    const struct spawn_pass *pass, char **listen_pid, size_t *owned)
{
	const struct spec_worker *w = &enode_spec(n)->w;
	bool notify = w->ready == READY_NOTIFY || w->fd_store_max > 0;
	char **envp;
	size_t k = 0;

	inherited_ready();
	envp = xcalloc(ninherited + w->nenv + 7, sizeof(*envp));
	if (!w->env_clear)
		for (size_t i = 0; i < ninherited; i++)
			if (!w->nenv || !overridden(w, inherited[i]))
				envp[k++] = inherited[i];
	for (size_t i = 0; i < w->nenv; i++)
		envp[k++] = w->env[i];
	*owned = k;
	envp[k++] = env_var("ARBOR_PATH=", enode_path(n));
	if (notify && notify_socket)
		envp[k++] = env_var("NOTIFY_SOCKET=", notify_socket);
	*listen_pid = NULL;
	if (pass && pass->n > 0) {
		envp[k++] = xasprintf("LISTEN_FDS=%zu", pass->n);
		envp[k++] = xasprintf("LISTEN_FDNAMES=%s", pass->names);
		/* Room for any pid: the child writes its own. */
		envp[k] = xstrdup("LISTEN_PID=0000000000000000000000");
		*listen_pid = envp[k++] + strlen("LISTEN_PID=");
	}
	if (w->ready == READY_NOTIFY && w->watchdog_ms > 0)
		envp[k++] = xasprintf("WATCHDOG_USEC=%llu",
		    (unsigned long long)w->watchdog_ms * 1000);
	return envp;
}

/* Frees what build_env made: the array, and its strings from owned on. */
static void
env_free(char **envp, size_t owned)
{
	if (!envp)
		return;
	for (char **p = envp + owned; *p; p++)
		free(*p);
	free(envp);
}

/*
 * The ids resolved when the config was loaded (never a lookup here, in the
 * core); -1 with msg when they were not found then.
 */
static int
take_ids(const struct spec_worker *w, struct child_args *a, char *msg,
    size_t msglen)
{
	if (!w->user && !w->group)
		return 0;
	if (w->ids.error) {
		snprintf(msg, msglen, "%s", w->ids.error);
		errno = ENOENT;
		return -1;
	}
	a->set_ids = true;
	a->set_uid = w->ids.set_uid;
	a->uid = w->ids.uid;
	a->gid = w->ids.gid;
	a->groups = w->ids.groups;
	a->ngroups = w->ids.ngroups;
	return 0;
}

/* The stack children run on until execve (CLONE_VM | CLONE_VFORK). */
static int
child_stack_ready(int *err, char *msg, size_t msglen)
{
	if (child_stack)
		return 0;
	child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (child_stack != MAP_FAILED)
		return 0;
	child_stack = NULL;
	*err = errno;
	snprintf(msg, msglen, "mmap of a child stack: %s", strerror(*err));
	return -1;
}

/*
 * stdout and stderr per the spec: a captured one is its pipe from capture,
 * a "log" one without it arbord's own, a "file:" one a path the child
 * opens once it is the worker's user.
 */
static void
open_stdio(const struct spec_worker *w, struct child_args *a, int devnull,
    const int capture[2])
{
	const struct spec_stdio *outs[] = { &w->out, &w->err };
	int *fds[] = { &a->stdout_fd, &a->stderr_fd };
	const char **paths[] = { &a->stdout_path, &a->stderr_path };

	for (size_t i = 0; i < ARRAY_SIZE(outs); i++)
		if (outs[i]->kind == STDIO_LOG)
			*fds[i] = capture[i];
		else if (outs[i]->kind == STDIO_NULL)
			*fds[i] = devnull;
		else if (outs[i]->kind == STDIO_FILE)
			*paths[i] = outs[i]->path;
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
	    stack_size, tls, set_tid, set_tid_size, cgroup;
};

/*
 * clone3 with a stack of the child's own: the child returns from the system
 * call on that stack, with no frame of ours to return to, so it must call
 * its function at once, which only assembly can say. x86_64 only; elsewhere
 * CLONE_INTO_CGROUP is not used and the child joins its cgroup by writing
 * its cgroup.procs before execve (spawn_worker).
 */
#if defined(__x86_64__)
#define HAVE_CLONE3_STACK 1
static long
clone3_run(struct clone3_args *ca, int (*fn)(void *), void *arg)
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
	    "mov $231, %%eax\n\t"		/* exit_group */
	    "syscall\n\t"
	    "hlt\n"
	    "1:"
	    : "+r"(ret)
	    : "D"(ca), "S"(sizeof(*ca)), "r"(rfn), "r"(rarg)
	    : "rcx", "r11", "memory", "cc");
	return ret;
}
#else
#define HAVE_CLONE3_STACK 0
#endif

/*
 * Clones the child and waits (CLONE_VFORK) until it has exec'd or failed;
 * its failure comes back through the CLOEXEC pipe. Returns the pid, or -1
 * with *err and msg (the child is reaped then).
 */
static pid_t
clone_and_exec(struct child_args *a, int cgroup_fd, int *pidfd,
    struct spawn_times *times, int *err, char *msg, size_t msglen)
{
	volatile struct child_failure f = { .step = -1 };
	siginfo_t si;
	pid_t pid;
	int high;

	a->fail = &f;

	CHILD_STACK_CLEAN(child_stack, CHILD_STACK_SIZE);
	if (cgroup_fd >= 0) {
#if HAVE_CLONE3_STACK
		struct clone3_args ca = {
			.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD |
			    CLONE_INTO_CGROUP | (a->shares_files ? CLONE_FILES : 0),
			.pidfd = (uint64_t)(uintptr_t)pidfd,
			.exit_signal = (uint64_t)a->exit_signal,
			.stack = (uint64_t)(uintptr_t)child_stack,
			.stack_size = CHILD_STACK_SIZE,
			.cgroup = (uint64_t)cgroup_fd,
		};
		long ret = clone3_run(&ca, child_main, a);

		pid = ret < 0 ? -1 : (pid_t)ret;
		if (ret < 0)
			errno = (int)-ret;
#else
		pid = -1;
		errno = ENOSYS;
#endif
	} else
		pid = clone(child_main, (char *)child_stack + CHILD_STACK_SIZE,
		    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | a->exit_signal |
		    (a->shares_files ? CLONE_FILES : 0), a, pidfd);
	if (pid < 0) {
		*err = errno;
		snprintf(msg, msglen, "%s: %s", cgroup_fd >= 0 ?
		    "clone3(CLONE_INTO_CGROUP)" : "clone", strerror(*err));
		return -1;
	}
	/* Back here once the child has run execve or exited. */
	if (f.step >= 0) {
		*err = f.err;
		snprintf(msg, msglen, "%s %s: %s",
		    f.step >= 0 && (size_t)f.step < ARRAY_SIZE(step_names)
		    ? step_names[f.step] : "?",
		    f.step == STEP_STDOUT_FILE ? a->stdout_path :
		    f.step == STEP_STDERR_FILE ? a->stderr_path :
		    f.step == STEP_CHDIR ? a->cwd : a->argv[0],
		    strerror(f.err));
		/* It has exited already; this reaps it without waiting. */
		waitid(P_PIDFD, (id_t)*pidfd, &si, WEXITED | __WALL);
		close(*pidfd);
		*pidfd = -1;
		return -1;
	}
	if (times) {
		times->child_ns = f.entered_ns;
		times->exec_ns = f.exec_ns;
	}
	/* Out of the range children copy (see the top of this file); where
	 * the limit does not allow it, it stays. */
	if ((high = fcntl(*pidfd, F_DUPFD_CLOEXEC, SPAWN_FD_BASE)) >= 0) {
		close(*pidfd);
		*pidfd = high;
	}
	return pid;
}

/*
 * A process of worker n: the worker itself (check false: its argv, its
 * stdout and stderr, NOTIFY_SOCKET) or its health check (argv, both
 * outputs to out_fd).
 */
/*
 * Copies of the passed fds above every fd number the child will dup2 to
 * (3 + n, ready_to): its dup2s then never land on one still to be moved.
 * -1 with *err and msg.
 */
static int
stage_pass(const struct spawn_pass *pass, struct child_args *a, int *staged,
    int *err, char *msg, size_t msglen)
{
	int above = 3 + (int)pass->n;

	if (pass->ready_fd >= 0 && pass->ready_to >= above)
		above = pass->ready_to + 1;
	for (size_t i = 0; i < pass->n; i++) {
		if ((staged[i] = fcntl(pass->fds[i], F_DUPFD_CLOEXEC, above)) < 0)
			goto fail;
		a->npass++;
	}
	a->pass = staged;
	if (pass->ready_fd >= 0) {
		if ((a->ready_fd = fcntl(pass->ready_fd, F_DUPFD_CLOEXEC,
		    above)) < 0)
			goto fail;
		a->ready_to = pass->ready_to;
	}
	return 0;
fail:
	*err = errno;
	snprintf(msg, msglen, "fcntl(F_DUPFD) of a passed fd: %s", strerror(*err));
	return -1;
}

static void
unstage_pass(struct child_args *a)
{
	for (size_t i = 0; i < a->npass; i++)
		close(a->pass[i]);
	if (a->ready_fd >= 0)
		close(a->ready_fd);
}

static pid_t
spawn_as(const struct enode *n, char *const *argv, bool check, int out_fd,
    int devnull, const char *notify_socket, const struct cg_spawn *cg,
    const int capture[2], const struct spawn_pass *pass, int *pidfd,
    struct spawn_times *times, int *err, char *msg, size_t msglen)
{
	int staged[pass ? pass->n + 1 : 1];
	const struct spec_worker *w = &enode_spec(n)->w;
	struct child_args a = {
		.argv = argv,
		.cwd = w->cwd,
		.has_umask = w->has_umask,
		.umask = w->umask,
		.no_new_privs = w->no_new_privs,
		.rlimits = w->rlimits,
		.nrlimits = w->nrlimits,
		.stdin_fd = devnull,
		.stdout_fd = -1,
		.stderr_fd = -1,
		.ready_fd = -1,
		.ready_to = -1,
		.parent = self_pid(),
		/*
		 * A check is cloned with no exit signal, and its pidfd says
		 * when it is done. That spares the loop's orphan scan only a
		 * check that fails before its execve: the kernel makes
		 * SIGCHLD the exit signal of every process that runs execve.
		 */
		.exit_signal = check ? 0 : SIGCHLD,
	};
	int join[ARRAY_SIZE(cg->v1fd) + 1], cgroup_fd = -1, procs_fd = -1;
	size_t env_owned = 0;
	pid_t pid = -1;

	*pidfd = -1;
	*err = 0;
	msg[0] = '\0';
	if (child_stack_ready(err, msg, msglen) < 0)
		return -1;
	if (take_ids(w, &a, msg, msglen) < 0) {
		*err = errno ? errno : ENOENT;
		goto out;
	}
	if (check)
		a.stdout_fd = a.stderr_fd = out_fd;
	else
		open_stdio(w, &a, devnull, capture);
	if (pass && (pass->n > 0 || pass->ready_fd >= 0) &&
	    stage_pass(pass, &a, staged, err, msg, msglen) < 0)
		goto out;
	if (cg) {
		for (size_t i = 0; i < cg->nv1; i++)
			join[a.njoin++] = cg->v1fd[i];
		if (HAVE_CLONE3_STACK)
			cgroup_fd = cg->dirfd;
		else if ((procs_fd = openat(cg->dirfd, "cgroup.procs",
		    O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
			join[a.njoin++] = procs_fd;
		else {
			*err = errno;
			snprintf(msg, msglen, "cgroup.procs: %s", strerror(*err));
			goto out;
		}
		a.join_fds = join;
	}
	a.envp = build_env(n, check ? NULL : notify_socket, pass,
	    &a.listen_pid, &env_owned);
	a.shares_files = devnull < SPAWN_FD_BASE &&
	    a.stdout_fd < SPAWN_FD_BASE && a.stderr_fd < SPAWN_FD_BASE &&
	    a.ready_fd < SPAWN_FD_BASE;
	for (size_t i = 0; i < a.njoin; i++)
		a.shares_files &= join[i] < SPAWN_FD_BASE;
	for (size_t i = 0; i < a.npass; i++)
		a.shares_files &= a.pass[i] < SPAWN_FD_BASE;
	pid = clone_and_exec(&a, cgroup_fd, pidfd, times, err, msg, msglen);
out:
	unstage_pass(&a);
	if (procs_fd >= 0)
		close(procs_fd);
	if (!check && a.stdout_fd >= 0 && a.stdout_fd != devnull &&
	    a.stdout_fd != capture[0])
		close(a.stdout_fd);
	if (!check && a.stderr_fd >= 0 && a.stderr_fd != devnull &&
	    a.stderr_fd != capture[1])
		close(a.stderr_fd);
	env_free(a.envp, env_owned);
	return pid;
}

pid_t
spawn_worker(const struct enode *n, int devnull, const char *notify_socket,
    const struct cg_spawn *cg, const int capture[2],
    const struct spawn_pass *pass, int *pidfd, struct spawn_times *times,
    int *err, char *msg, size_t msglen)
{
	return spawn_as(n, enode_argv(n), false, -1, devnull, notify_socket,
	    cg, capture, pass, pidfd, times, err, msg, msglen);
}

pid_t
spawn_check(const struct enode *n, int devnull, int out_fd,
    const struct cg_spawn *cg, int *pidfd, int *err, char *msg,
    size_t msglen)
{
	static const int none[2] = { -1, -1 };

	return spawn_as(n, enode_spec(n)->w.health.argv, true, out_fd,
	    devnull, NULL, cg, none, NULL, pidfd, NULL, err, msg, msglen);
}
