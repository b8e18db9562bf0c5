/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The helpers' common runtime (hrt.h). The seccomp allow-list's default
 * action kills the whole process (SECCOMP_RET_KILL_PROCESS): the core sees
 * it die by SIGSYS and restarts it, as after any other crash. clone is
 * allowed for threads only (libcurl's resolver may make one); clone3, whose
 * flags a filter cannot see, fails with ENOSYS, on which glibc falls back
 * to clone.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hmsg.h"
#include "hrt.h"

enum hrt_fault {
	F_SEGV, F_ABORT, F_OOM, F_HANG, F_EXIT,
	/* Test-only kinds of a hostile helper (arbord(8), FAULT DOMAINS). */
	F_EXECVE, F_PTRACE, F_GARBAGE, F_OVERSIZE, F_FORGE, F_DEAF,
	F_N
};

static const char *const fault_names[F_N] = {
	"segv", "abort", "oom", "hang", "exit",
	"execve", "ptrace", "garbage", "oversize", "forge", "deaf",
};

/* After each start, the fault comes this late: the helper is up by then. */
#define FAULT_AFTER_MS 50
/* deaf: so long it reads nothing before it shuts its reading side. */
#define DEAF_MS 1000

static const char *const base_calls[] = {
	"read", "write", "readv", "writev", "close", "lseek",
	"sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg",
	"socket", "connect", "getsockopt", "setsockopt", "getsockname",
	"getpeername", "shutdown", "socketpair", "pipe2", "poll", "ppoll",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"fcntl", "fstat", "newfstatat", "statx", "ioctl", "dup", "dup3",
	"mmap", "munmap", "mprotect", "mremap", "madvise", "brk",
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"tgkill", "getrandom", "uname", "openat", "exit", "exit_group",
	"restart_syscall", "prlimit64", "getrlimit", "set_tid_address",
	NULL
};

/*
 * What the sanitizers' runtimes (make asan, make tsan) call beside the
 * helper's own code; plain builds do not allow them.
 */
static const char *const sanitizer_calls[] = {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	"readlink", "readlinkat", "prctl", "getdents64", "sched_getparam",
	"sched_getscheduler", "getppid", "kill", "pipe", "open", "stat",
	"lstat", "access", "faccessat", "membarrier", "personality",
#endif
	NULL
};

/*
 * Under a sanitizer, a fault stays the fault it is (a SIGSEGV kills, not a
 * report and exit 1), and nothing runs that the allow-list forbids: no
 * symbolizer (an execve), no leak check at exit (ptrace). The sanitizers
 * call these hooks at start; plain builds never do.
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__tsan_default_options(void);

const char *
__asan_default_options(void)
{
	return "handle_segv=0:handle_abort=0:handle_sigbus=0:handle_sigfpe=0:"
	    "detect_leaks=0:symbolize=0:allow_user_segv_handler=1";
}

const char *
__ubsan_default_options(void)
{
	return "symbolize=0:handle_segv=0:handle_abort=0";
}

const char *
__tsan_default_options(void)
{
	return "symbolize=0:handle_segv=0:handle_abort=0:die_after_fork=0";
}

void
hrt_init(struct hrt *h, const char *name)
{
	const char *env = getenv("ARBOR_HELPER_FAULT");
	struct itimerspec beat = {
		.it_interval.tv_nsec = HMSG_HEARTBEAT_MS * 1000000L,
		.it_value.tv_nsec = HMSG_HEARTBEAT_MS * 1000000L };
	int type;
	socklen_t len = sizeof(type);

	memset(h, 0, sizeof(*h));
	h->name = name;
	h->sock = HMSG_FD;
	h->fault_fd = -1;
	if (getsockopt(h->sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET) {
		fprintf(stderr, "arbor-%s: a helper of arbord(8), started by it only\n",
		    name);
		exit(2);
	}
	h->beat_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (h->beat_fd < 0 || timerfd_settime(h->beat_fd, 0, &beat, NULL) < 0)
		exit(2);
	/* The first at once: the core gives a helper's start more time
	 * than a beat, until this one comes. */
	hrt_beat(h);
	/* "checks:segv,obs:hang": the kinds named for this helper. */
	if (env) {
		char *copy = strdup(env), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t;
		    t = strtok_r(NULL, ",", &save)) {
			char *colon = strchr(t, ':'), *at;
			unsigned *to = &h->faults;

			if (!colon || (size_t)(colon - t) != strlen(name) ||
			    strncmp(t, name, strlen(name)))
				continue;
			/* "oversize@stop": at the stop, not after the start;
			 * "segv@held": see hrt_held. */
			if ((at = strchr(colon + 1, '@')) && (!strcmp(at, "@stop") ||
			    !strcmp(at, "@held"))) {
				to = !strcmp(at, "@stop") ? &h->stop_faults :
				    &h->held_faults;
				*at = '\0';
			}
			for (int k = 0; k < F_N; k++)
				if (!strcmp(colon + 1, fault_names[k]))
					*to |= 1U << k;
		}
		free(copy);
	}
	if (h->faults) {
		struct itimerspec at = {
			.it_value.tv_nsec = FAULT_AFTER_MS * 1000000L };

		h->fault_fd = timerfd_create(CLOCK_MONOTONIC,
		    TFD_CLOEXEC | TFD_NONBLOCK);
		if (h->fault_fd < 0 || timerfd_settime(h->fault_fd, 0, &at,
		    NULL) < 0)
			exit(2);
	}
}

static int
allow(scmp_filter_ctx ctx, const char *const *names)
{
	for (size_t i = 0; names && names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* A name this architecture lacks (open on arm64) is no error. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -1;
	}
	return 0;
}

void
hrt_sandbox(const struct hrt *h, const char *const *extra)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = -1;

	if (!ctx)
		goto fail;
	if (allow(ctx, base_calls) < 0 || allow(ctx, extra) < 0 ||
	    allow(ctx, sanitizer_calls) < 0)
		goto fail;
	/* Threads only: a clone without CLONE_THREAD (a fork) is killed. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) < 0)
		goto fail;
	/* Its no_new_privs was set by the core before execve. */
	if ((rc = seccomp_load(ctx)) < 0)
		goto fail;
	seccomp_release(ctx);
	return;
fail:
	fprintf(stderr, "arbor-%s: seccomp: %s\n", h->name,
	    rc < 0 ? strerror(-rc) : "cannot set the filter up");
	exit(3);
}

void
hrt_beat(struct hrt *h)
{
	struct itimerspec it;
	uint64_t n;

	(void)!read(h->beat_fd, &n, sizeof(n));	/* EAGAIN for the first */
	h->seq++;
	/* The core's stall timer, pushed on by its own interval. */
	if (timerfd_gettime(HMSG_BEAT_FD, &it) == 0) {
		it.it_value = it.it_interval;
		(void)timerfd_settime(HMSG_BEAT_FD, 0, &it, NULL);
	}
}

/*
 * A write through a null pointer, as a bug would make it: not caught by
 * UBSan's null check first (which would exit 1 instead of the SIGSEGV a
 * plain build gets).
 */
__attribute__((noinline, no_sanitize_undefined, no_sanitize_address))
static void
segv(void)
{
	/* A pointer the compiler cannot see is null: no trap put in its
	 * place, a real store to address 0. */
	volatile int *volatile null = NULL;

	*null = 1;
}

static void
oom(void)
{
	for (;;) {
		size_t sz = 16 << 20;
		char *p = malloc(sz);

		if (p)
			memset(p, 0xa5, sz);
	}
}

static uint64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/*
 * Reads nothing while the core's records pile up in its socket (beating
 * on, so it is not taken for hung), then shuts its reading side, takes
 * what had come (the core may send again: its sends fail for good now)
 * and beats for ever.
 */
static void
deaf(struct hrt *h)
{
	uint64_t end = mono_ms() + DEAF_MS;
	char b[HMSG_MAX];
	bool shut = false;

	for (;;) {
		struct pollfd p = { .fd = h->beat_fd, .events = POLLIN };

		if (poll(&p, 1, -1) > 0)
			hrt_beat(h);
		if (!shut && mono_ms() >= end) {
			(void)shutdown(h->sock, SHUT_RD);
			shut = true;
		}
		while (shut && recv(h->sock, b, sizeof(b), MSG_DONTWAIT) > 0)
			;
	}
}

void
hrt_fault(struct hrt *h)
{
	static char big[HMSG_MAX * 4];
	uint64_t n;

	if (h->fault_fd >= 0)
		(void)!read(h->fault_fd, &n, sizeof(n));
	/* Once: a fault it survived (garbage) may come again at the stop. */
	if (h->quiesce && !h->quiesced) {
		h->quiesced = true;
		h->quiesce(h->quiesce_ctx);
	}
	if (h->faults & (1U << F_SEGV))
		segv();
	if (h->faults & (1U << F_ABORT))
		abort();
	if (h->faults & (1U << F_OOM))
		oom();
	if (h->faults & (1U << F_HANG))
		for (;;)
			sleep(1);
	if (h->faults & (1U << F_EXIT))
		exit(1);
	if (h->faults & (1U << F_EXECVE)) {
		char *argv[] = { "/bin/true", NULL };

		execve(argv[0], argv, argv + 1);
	}
	if (h->faults & (1U << F_PTRACE))
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	if (h->faults & (1U << F_GARBAGE))
		(void)send(h->sock, "\x17garbage", 8, MSG_DONTWAIT);
	if (h->faults & (1U << F_OVERSIZE)) {
		struct hmsg_hdr *hd = (struct hmsg_hdr *)big;

		hd->type = HMSG_CHECK_RESULT;
		hd->len = sizeof(big);
		(void)send(h->sock, big, sizeof(big), MSG_DONTWAIT);
	}
	if (h->faults & (1U << F_DEAF))
		deaf(h);
	if (h->faults & (1U << F_FORGE)) {
		struct hmsg_check_begin b;

		/* A request only the core may make, as if the helper were it. */
		hmsg_init(&b, HMSG_CHECK_BEGIN, sizeof(b));
		(void)hmsg_send(h->sock, &b, sizeof(b));
	}
}

/* The faults of mask now, in place of those after the start. */
static void
fault_now(struct hrt *h, unsigned mask)
{
	h->faults = mask;
	if (h->fault_fd >= 0)	/* the start's faults, if any, are past */
		timerfd_settime(h->fault_fd, 0, &(struct itimerspec){ 0 },
		    NULL);
	hrt_fault(h);
}

void
hrt_stopping(struct hrt *h)
{
	if (!h->stop_faults)
		return;
	fault_now(h, h->stop_faults);
}

void
hrt_held(struct hrt *h)
{
	if (h->held_faults)
		fault_now(h, h->held_faults);
}
