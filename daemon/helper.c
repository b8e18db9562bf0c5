/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helper processes, the core's side (helper.h). A helper is a child of the
 * core's, started by clone (CLONE_VM | CLONE_VFORK: nothing of the core's
 * memory is copied, and the core goes on once the child has called
 * execve) into its own cgroup leaf, with only raw system calls between the
 * clone and the execve: glibc's setuid would signal the core's threads,
 * whose memory the child shares until then.
 *
 * Its life: RUNNING from its start (the tree never waits for it), watched
 * by its pidfd and a stall timer its heartbeat pushes on (the helper
 * holds the timer too, so an idle core is never woken); at its death, the
 * cause is logged and counted and it is BACKOFF until its restart (10 ms,
 * doubling to 1 s, back to 10 ms after it lived RESET_AFTER_NS). A binary
 * that is missing or not executable is MISSING: said once, tried again
 * with a backoff that grows to 10 s. Once found, the binary is kept open
 * and every restart runs that file: a package upgrade that replaces it
 * beside a running core (whose records the new one may not speak) takes
 * effect when arbord restarts, as for arbord itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "../helpers/common/hmsg.h"
#include "helper.h"
#include "obsq.h"
#include "log.h"
#include "util.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define MISSING_MAX_MS 10000
#define RESET_AFTER_NS (5 * NSEC_PER_SEC)
/* Records waiting for room in a helper's socket; more are refused. The
 * output helper is given every source again at its start (10,000 workers:
 * 10,000 records and more). */
#define QUEUE_MAX 1024
#define QUEUE_MAX_OUTPUT 65536
/* A helper's pids.max: its threads (libcurl's resolver, a sanitizer's). */
#define HELPER_PIDS_MAX 64
#define CHILD_STACK (64 * 1024)
/* Its first heartbeat may take this long: a loaded host, a sanitizer's
 * start. */
#define FIRST_BEAT_MS 2000

enum hstate { H_IDLE, H_RUNNING, H_BACKOFF, H_MISSING };

static const char *const state_names[] = {
	[H_IDLE] = "idle", [H_RUNNING] = "running",
	[H_BACKOFF] = "restarting", [H_MISSING] = "missing",
};

/* The table: every helper there is. */
static const struct {
	const char *name, *exe;
	unsigned hung_ms;	/* silence this long is a hang */
} table[HELPER_N] = {
	[HELPER_CHECKS] = { "checks", "arbor-checks", HMSG_HUNG_MS },
	[HELPER_OUTPUT] = { "output", "arbor-output", HMSG_HUNG_MS },
	/* A scrape or status of 10,000 workers holds its loop longer. */
	[HELPER_OBS] = { "observability", "arbor-obs", 3000 },
};

struct qrec {
	size_t len;
	int fds[HMSG_FDS_MAX];	/* the queue's own copies */
	int nfds;
	unsigned char b[];
};

struct helper {
	struct helpers *hs;
	enum helper_id id;
	const char *name;
	char *path;
	int exefd;		/* the binary, O_PATH, once found */
	enum hstate state;
	pid_t pid;
	struct watch pw, sw, tw;	/* pidfd, socket, timer */
	/*
	 * The stall timer: the helper holds it too (HMSG_BEAT_FD) and pushes
	 * it on at each heartbeat, so a live helper never wakes the core; it
	 * fires only when the helper has said nothing for its hung_ms.
	 */
	struct watch stw;
	uint64_t started, armed;
	uint64_t restarts;
	uint32_t backoff_ms;
	bool killing;		/* SIGKILLed by the core: why says why */
	bool stalled;		/* the queue waits for the next send (flush_queue) */
	char why[160];
	bool said_missing;
	struct qrec **q;
	size_t qlen, qcap, qmax;
	struct helper_client cl;
};

struct helpers {
	struct obs_helpers *counts;	/* NULL: none */
	struct reactor *r;
	struct cgroups *cg;
	uid_t uid;
	gid_t gid;
	uint64_t memory_max;
	uint64_t obs_caps;	/* helpers_obs_caps */
	int devnull;
	struct helper h[HELPER_N];
};

/* What the child needs, all made before the clone. */
struct child {
	const char *path;
	int exefd;		/* the binary, opened by the core */
	char *const *argv, *const *envp;
	int sock, devnull, stall;
	int procs[4];
	size_t nprocs;
	uid_t uid;
	gid_t gid;
	bool switch_user;	/* arbord is root: the helper is helper_user */
	uint64_t caps;		/* kept across the user change and execve */
};

static void start(struct helper *);

/* ---- the child, between clone and execve: raw system calls only ---- */

static int
child_main(void *arg)
{
	const struct child *c = arg;
	sigset_t none;
	int stall;

	for (size_t i = 0; i < c->nprocs; i++)
		if (write(c->procs[i], "0", 1) < 0)
			_exit(126);
	if (dup2(c->devnull, 0) < 0 || dup2(c->devnull, 1) < 0)
		_exit(126);
	/* The stall timer out of the way first: it may be on fd 3. */
	if ((stall = fcntl(c->stall, F_DUPFD_CLOEXEC, 10)) < 0)
		_exit(126);
	if (c->sock == HMSG_FD) {
		if (fcntl(HMSG_FD, F_SETFD, 0) < 0)
			_exit(126);
	} else if (dup2(c->sock, HMSG_FD) < 0)
		_exit(126);
	if (dup2(stall, HMSG_BEAT_FD) < 0)
		_exit(126);
	if (c->switch_user && c->caps &&
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		_exit(126);
	if (c->switch_user && (syscall(SYS_setgroups, 0, NULL) < 0 ||
	    syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0 ||
	    syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0))
		_exit(126);
	/*
	 * Only the capabilities asked (the observability helper's CAP_BPF):
	 * permitted, effective and inheritable, then ambient, which is what
	 * an execve of a plain file keeps for a user that is not root.
	 */
	if (c->switch_user && c->caps) {
		struct __user_cap_header_struct hdr = {
			.version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2] = {
			{ .permitted = (uint32_t)c->caps,
			  .effective = (uint32_t)c->caps,
			  .inheritable = (uint32_t)c->caps },
			{ .permitted = (uint32_t)(c->caps >> 32),
			  .effective = (uint32_t)(c->caps >> 32),
			  .inheritable = (uint32_t)(c->caps >> 32) } };

		if (syscall(SYS_capset, &hdr, d) < 0)
			_exit(126);
		for (int cap = 0; cap < 64; cap++)
			if ((c->caps >> cap & 1) && prctl(PR_CAP_AMBIENT,
			    PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				_exit(126);
	}
	/* After the uid change, which clears it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(126);
	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, _NSIG / 8);
	/* By the descriptor the core opened: the helper's user need not be
	 * able to walk to it (a build tree under a home of mode 0700). */
	syscall(SYS_execveat, c->exefd, "", c->argv, c->envp, AT_EMPTY_PATH);
	_exit(127);
}

/* ---- the core's side ---- */

static void
arm(struct helper *h, uint64_t at)
{
	timerfd_arm_at(h->tw.fd, at, &h->armed);
}

static void
qrec_free(struct qrec *q)
{
	for (int i = 0; i < q->nfds; i++)
		close(q->fds[i]);
	free(q);
}

static void
queue_free(struct helper *h)
{
	for (size_t i = 0; i < h->qlen; i++)
		qrec_free(h->q[i]);
	h->qlen = 0;
	h->stalled = false;
	if (h->qcap > 64) {
		free(h->q);
		h->q = NULL;
		h->qcap = 0;
	}
}

static void
kill_for(struct helper *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
kill_for(struct helper *h, const char *fmt, ...)
{
	va_list ap;

	if (h->killing || h->state != H_RUNNING)
		return;
	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
	h->killing = true;
	/* Nothing more is read from it. */
	if (h->sw.fd >= 0)
		reactor_modify(h->hs->r, &h->sw, 0);
	if (syscall(SYS_pidfd_send_signal, h->pw.fd, SIGKILL, NULL, 0) < 0)
		log_msg(LOG_WARN, "helper %s: kill: %s", h->name, strerror(errno));
}

static void
describe(const siginfo_t *si, char *out, size_t len)
{
	if (si->si_code == CLD_EXITED)
		snprintf(out, len, "exited with status %d", si->si_status);
	else
		snprintf(out, len, "killed by SIG%s",
		    sigabbrev_np(si->si_status) ? sigabbrev_np(si->si_status) :
		    "?");
}

static void
died(struct helper *h, const siginfo_t *si)
{
	uint64_t now = mono_ns();
	uint32_t delay;
	char cause[200];

	reactor_unwatch(h->hs->r, &h->pw);
	close(h->pw.fd);
	h->pw.fd = -1;
	reactor_unwatch(h->hs->r, &h->sw);
	close(h->sw.fd);
	h->sw.fd = -1;
	timerfd_arm(h->stw.fd, 0, 0);
	queue_free(h);
	if (h->killing && !strncmp(h->why, "hung", 4))
		snprintf(cause, sizeof(cause), "%s", h->why);
	else
		describe(si, cause, sizeof(cause));
	if (now - h->started >= RESET_AFTER_NS)
		h->backoff_ms = BACKOFF_MIN_MS;
	delay = h->backoff_ms;
	h->backoff_ms = h->backoff_ms * 2 < BACKOFF_MAX_MS ?
	    h->backoff_ms * 2 : BACKOFF_MAX_MS;
	h->restarts++;
	if (h->hs->counts)
		atomic_store(&h->hs->counts->restarts[h->id], h->restarts);
	h->pid = 0;
	h->killing = false;
	h->state = H_BACKOFF;
	log_msg(LOG_WARN, "helper %s %s, restarting in %u ms", h->name, cause,
	    delay);
	arm(h, now + (uint64_t)delay * NSEC_PER_MSEC);
	if (h->cl.on_down)
		h->cl.on_down(h->cl.ctx);
}

static void
reap(struct helper *h)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)h->pw.fd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	died(h, &si);
}

static void
on_pidfd(void *owner, uint32_t events)
{
	(void)events;
	reap(owner);
}

/*
 * A send the socket refused for good, not for want of room: the helper
 * shut its reading side (its socket stays writable, and takes nothing),
 * or it is dying. It is killed; one that has exited is left to its reap,
 * which says how it ended.
 */
static void
send_refused(struct helper *h, int err)
{
	struct pollfd p[2] = { { .fd = h->pw.fd, .events = POLLIN },
	    { .fd = h->sw.fd, .events = 0 } };

	/* Its end closed (a reset, a hang-up): it is dying, not deaf. */
	if (h->killing || h->state != H_RUNNING || err == ECONNRESET ||
	    poll(p, 2, 0) < 0 || p[0].revents || (p[1].revents & POLLHUP))
		return;
	log_msg(LOG_WARN, "helper %s: its socket takes no more records (%s); killing it",
	    h->name, strerror(err));
	kill_for(h, "socket: %s", strerror(err));
}

static void
flush_queue(struct helper *h)
{
	size_t i = 0;
	int err = 0;

	while (i < h->qlen && hmsg_send_fds(h->sw.fd, h->q[i]->b,
	    h->q[i]->len, h->q[i]->fds, h->q[i]->nfds) == 0)
		qrec_free(h->q[i++]);
	if (i < h->qlen)
		err = errno;
	memmove(h->q, h->q + i, (h->qlen - i) * sizeof(*h->q));
	h->qlen -= i;
	h->stalled = false;
	/*
	 * Not a full buffer: the socket stays writable, and waiting for room
	 * would spin. Shut for good (EPIPE), the helper is killed; refused
	 * for a while (ETOOMANYREFS: descriptors in flight), the queue waits
	 * for the next send.
	 */
	if (err && err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS &&
	    err != EINTR) {
		if (err == EPIPE || err == ECONNRESET)
			send_refused(h, err);
		else
			h->stalled = true;
	}
	if (!h->killing)
		reactor_modify(h->hs->r, &h->sw, EPOLLIN |
		    (h->qlen && !h->stalled ? EPOLLOUT : 0));
}

/* Records read in one turn: a helper that floods waits for the next. */
#define READ_BATCH 64

enum said { SAID_ALL, SAID_CLOSED, SAID_BAD };

/*
 * What the helper says, up to READ_BATCH records, each judged by
 * hmsg_check_from_helper and then acted on by the client (act), or only
 * checked by it (its notes are too late at the finish). SAID_ALL: nothing
 * more now, or the helper is being killed; SAID_CLOSED: its socket closed
 * or failed; SAID_BAD: a malformed record. why says which.
 */
static enum said
read_records(struct helper *h, bool act, char *why, size_t whylen)
{
	union {
		struct hmsg_hdr hdr;
		char b[HMSG_MAX];
	} m;
	ssize_t n = 0;

	for (int i = 0; i < READ_BATCH && !h->killing; i++) {
		if ((n = hmsg_recv(h->sw.fd, &m, sizeof(m))) <= 0)
			break;
		if (hmsg_check_from_helper(&m, (size_t)n, why, whylen) < 0 ||
		    (act && h->cl.on_msg && h->cl.on_msg(h->cl.ctx, &m,
		    (size_t)n, why, whylen) < 0) ||
		    (!act && h->cl.check && h->cl.check(&m, (size_t)n, why,
		    whylen) < 0))
			return SAID_BAD;
	}
	if (n > 0 || h->killing)
		return SAID_ALL;
	if (n == 0) {
		snprintf(why, whylen, "closed its socket");
		return SAID_CLOSED;
	}
	if (errno == EMSGSIZE) {
		snprintf(why, whylen, "a record longer than %d bytes, or with descriptors",
		    HMSG_MAX);
		return SAID_BAD;
	}
	if (errno != EAGAIN && errno != EINTR) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return SAID_CLOSED;
	}
	return SAID_ALL;
}

static void
on_socket(void *owner, uint32_t events)
{
	struct helper *h = owner;
	char why[160];

	if (h->killing)
		return;
	if (events & EPOLLOUT)
		flush_queue(h);
	switch (read_records(h, true, why, sizeof(why))) {
	case SAID_BAD:
		log_msg(LOG_WARN, "helper %s: malformed message: %s; killing it",
		    h->name, why);
		kill_for(h, "malformed");
		break;
	case SAID_CLOSED:
		kill_for(h, "%s", why);
		break;
	case SAID_ALL:
		break;
	}
}

static void
on_stall(void *owner, uint32_t events)
{
	struct helper *h = owner;

	(void)events;
	read_counter(h->stw.fd);
	if (h->state != H_RUNNING || h->killing)
		return;
	timerfd_arm(h->stw.fd, 0, 0);
	kill_for(h, "hung: no heartbeat for %u ms", table[h->id].hung_ms);
}

static void
on_timer(void *owner, uint32_t events)
{
	struct helper *h = owner;
	(void)events;
	read_counter(h->tw.fd);
	h->armed = UINT64_MAX;
	switch (h->state) {
	case H_RUNNING:
		break;
	case H_BACKOFF:
	case H_MISSING:
		start(h);
		break;
	case H_IDLE:
		break;
	}
}

/* Whether its binary can be run; else said once, and tried again later. */
static bool
runnable(struct helper *h)
{
	struct stat st;
	const char *what;
	uint64_t delay;

	/* Out of the range each spawning child copies (spawn.c), as all
	 * that arbord holds for a while. */
	if (h->exefd < 0 && (h->exefd = open(h->path, O_PATH | O_CLOEXEC)) >= 0)
		h->exefd = fd_move_high(h->exefd);
	if (h->exefd < 0 || fstat(h->exefd, &st) < 0)
		what = strerror(errno);
	else if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		what = "not an executable file";
	else
		return true;
	if (h->exefd >= 0)
		close(h->exefd);	/* looked for by its path again */
	h->exefd = -1;
	if (!h->said_missing)
		log_msg(LOG_WARN, "helper %s: %s: %s; running without it, and trying again",
		    h->name, h->path, what);
	h->said_missing = true;
	delay = h->state == H_MISSING ? h->backoff_ms : BACKOFF_MIN_MS;
	h->backoff_ms = delay * 2 < MISSING_MAX_MS ? (uint32_t)delay * 2 :
	    MISSING_MAX_MS;
	h->state = H_MISSING;
	arm(h, mono_ns() + delay * NSEC_PER_MSEC);
	return false;
}

/*
 * Its environment: the fault switch for it alone, nothing else of the
 * core's (a sanitizer's options are the helper's own: hrt.c).
 */
static char **
child_env(const struct helper *h)
{
	char **env = xcalloc(2, sizeof(*env));
	const char *fault = getenv("ARBOR_HELPER_FAULT"), *obs;
	char *shorthand = NULL;
	size_t n = 0;

	/* ARBOR_OBS_FAULT (arbord(8), ENVIRONMENT): crash is a segv, stall
	 * a hang of the observability helper. */
	if (h->id == HELPER_OBS && (obs = getenv("ARBOR_OBS_FAULT")) &&
	    (!strcmp(obs, "crash") || !strcmp(obs, "stall"))) {
		shorthand = xasprintf("%s%sobservability:%s", fault ? fault : "",
		    fault ? "," : "", !strcmp(obs, "crash") ? "segv" : "hang");
		fault = shorthand;
	}
	if (fault) {
		char *copy = xstrdup(fault), *save = NULL, *mine = NULL;
		size_t nl = strlen(h->name);

		for (char *t = strtok_r(copy, ",", &save); t;
		    t = strtok_r(NULL, ",", &save)) {
			char *prev = mine;

			if (strncmp(t, h->name, nl) || t[nl] != ':')
				continue;
			mine = prev ? xasprintf("%s,%s", prev, t) : xstrdup(t);
			free(prev);
		}
		if (mine)
			env[n++] = xasprintf("ARBOR_HELPER_FAULT=%s", mine);
		free(mine);
		free(copy);
	}
	free(shorthand);
	return env;
}

static void
start(struct helper *h)
{
	struct helpers *hs = h->hs;
	struct cg_spawn cs = { .dirfd = -1 };
	struct child c = { .path = h->path, .exefd = -1, .uid = hs->uid,
	    .stall = h->stw.fd,
	    .gid = hs->gid, .devnull = hs->devnull,
	    .switch_user = geteuid() == 0,
	    .caps = h->id == HELPER_OBS ? hs->obs_caps : 0 };
	char *argv[] = { (char *)(uintptr_t)table[h->id].exe, NULL };
	char msg[512], **env;
	int sv[2] = { -1, -1 }, pidfd = -1;
	void *stack = NULL;
	pid_t pid;

	if (!runnable(h))
		return;
	c.exefd = h->exefd;
	h->said_missing = false;
	if (hs->cg && cgroups_helper_prepare(hs->cg, h->name, hs->memory_max,
	    HELPER_PIDS_MAX, &cs, msg, sizeof(msg)) < 0)
		log_msg(LOG_WARN, "helper %s: %s; started in arbord's cgroup",
		    h->name, msg);
	if (cs.dirfd >= 0 &&
	    (c.procs[c.nprocs] = openat(cs.dirfd, "cgroup.procs",
	    O_WRONLY | O_CLOEXEC)) >= 0)
		c.nprocs++;
	for (size_t i = 0; i < cs.nv1; i++)
		c.procs[c.nprocs++] = cs.v1fd[i];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, sv) < 0) {
		log_msg(LOG_WARN, "helper %s: socketpair: %s", h->name,
		    strerror(errno));
		goto fail;
	}
	/* Its end blocks: it waits on epoll, and its writes are its own. */
	fcntl(sv[1], F_SETFL, 0);
	c.sock = sv[1];
	c.argv = argv;
	c.envp = env = child_env(h);
	stack = xcalloc(1, CHILD_STACK);
	pid = clone(child_main, (char *)stack + CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &c, &pidfd);
	strv_free(env);
	free(stack);
	close(sv[1]);
	if (pid < 0) {
		log_msg(LOG_WARN, "helper %s: clone: %s", h->name, strerror(errno));
		close(sv[0]);
		goto fail;
	}
	for (size_t i = 0; i < c.nprocs; i++)
		close(c.procs[i]);
	if (cs.dirfd >= 0)
		close(cs.dirfd);
	/* Held until the helper's next end: out of the spawn range too. */
	pidfd = fd_move_high(pidfd);
	sv[0] = fd_move_high(sv[0]);
	h->pid = pid;
	h->state = H_RUNNING;
	h->killing = false;
	h->started = mono_ns();
	if (reactor_watch(hs->r, &h->pw, pidfd, EPOLLIN, on_pidfd, h) < 0 ||
	    reactor_watch(hs->r, &h->sw, sv[0], EPOLLIN, on_socket, h) < 0)
		fatal("helper %s: epoll_ctl: %s", h->name, strerror(errno));
	{
		/* Its first beat may take FIRST_BEAT_MS more; then each must
		 * come within hung_ms (the interval, which the helper keeps). */
		/* Above hung_ms: helper_silent tells a start by it. */
		unsigned first = FIRST_BEAT_MS + table[h->id].hung_ms;
		struct itimerspec it = {
			.it_value.tv_sec = first / 1000,
			.it_value.tv_nsec = first % 1000 * 1000000L,
			.it_interval.tv_sec = table[h->id].hung_ms / 1000,
			.it_interval.tv_nsec = table[h->id].hung_ms % 1000 *
			    1000000L };

		timerfd_settime(h->stw.fd, 0, &it, NULL);
	}
	if (h->cl.on_up)
		h->cl.on_up(h->cl.ctx);
	return;
fail:
	for (size_t i = 0; i < c.nprocs; i++)
		close(c.procs[i]);
	if (cs.dirfd >= 0)
		close(cs.dirfd);
	h->state = H_BACKOFF;
	arm(h, mono_ns() + (uint64_t)BACKOFF_MAX_MS * NSEC_PER_MSEC);
}

/*
 * Beside arbord's own executable (the build tree), else in libexec/arbor
 * beside the directory it was installed in (sbin/arbord ->
 * libexec/arbor/), so that an installed tree finds its helpers wherever
 * its prefix is, and nothing of the build tree depends on the prefix.
 */
static char *
helper_path(const char *exe)
{
	char self[PATH_MAX], *slash, *p;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct stat st;

	if (n <= 0 || !(slash = strrchr((self[n] = '\0', self), '/')))
		return xasprintf("/usr/libexec/arbor/%s", exe);
	*slash = '\0';
	p = xasprintf("%s/%s", self, exe);
	if (stat(p, &st) == 0)
		return p;
	free(p);
	if ((slash = strrchr(self, '/')))
		*slash = '\0';
	return xasprintf("%s/libexec/arbor/%s", *self ? self : "", exe);
}

static void
resolve_user(struct helpers *hs, const struct spec *sp)
{
	const char *name = sp->helper_user;
	struct passwd *pw = NULL;

	if (name && !(pw = getpwnam(name)))
		log_msg(LOG_WARN, "daemon.helper_user = \"%s\": no such user; helpers run as nobody",
		    name);
	if (!pw && !name)
		pw = getpwnam("arbor");
	if (!pw)
		pw = getpwnam("nobody");
	hs->uid = pw ? pw->pw_uid : 65534;
	hs->gid = pw ? pw->pw_gid : 65534;
	/* An arbord that is not root runs its helpers as itself. */
	if (geteuid() != 0) {
		hs->uid = geteuid();
		hs->gid = getegid();
	}
}

struct helpers *
helpers_open(struct reactor *r, struct cgroups *cg, const struct spec *sp,
    struct obs_helpers *counts)
{
	struct helpers *hs = xcalloc(1, sizeof(*hs));

	_Static_assert(HELPER_N <= OBS_HELPERS_MAX, "obs_helpers too small");
	hs->counts = counts;	/* its names: helpers_names, before its reader */

	hs->r = r;
	hs->cg = cg;
	hs->memory_max = sp->helper_memory_max;
	resolve_user(hs, sp);
	if ((hs->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		fatal("%s: /dev/null: %s", __func__, strerror(errno));
	for (int i = 0; i < HELPER_N; i++) {
		struct helper *h = &hs->h[i];
		int fd;

		h->hs = hs;
		h->id = (enum helper_id)i;
		h->name = table[i].name;
		h->path = helper_path(table[i].exe);
		h->backoff_ms = BACKOFF_MIN_MS;
		h->qmax = i == HELPER_OUTPUT ? QUEUE_MAX_OUTPUT : QUEUE_MAX;
		h->armed = UINT64_MAX;
		h->pw.fd = h->sw.fd = h->exefd = -1;
		if ((fd = timerfd_create(CLOCK_MONOTONIC,
		    TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
		    reactor_watch(r, &h->tw, fd, EPOLLIN, on_timer, h) < 0 ||
		    (fd = timerfd_create(CLOCK_MONOTONIC,
		    TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
		    reactor_watch(r, &h->stw, fd, EPOLLIN, on_stall, h) < 0)
			fatal("%s: timerfd: %s", __func__, strerror(errno));
	}
	return hs;
}

/* Kills (unless it is gone), reaps and forgets h's process; h stays idle. */
static void
bury(struct helper *h)
{
	struct helpers *hs = h->hs;

	timerfd_arm(h->stw.fd, 0, 0);
	if (h->pw.fd < 0)
		return;
	syscall(SYS_pidfd_send_signal, h->pw.fd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, (id_t)h->pw.fd, &(siginfo_t){ 0 }, WEXITED);
	reactor_unwatch(hs->r, &h->pw);
	close(h->pw.fd);
	h->pw.fd = -1;
	reactor_unwatch(hs->r, &h->sw);
	close(h->sw.fd);
	h->sw.fd = -1;
	cgroups_helper_remove(hs->cg, h->name);
	h->pid = 0;
}

void
helpers_close(struct helpers *hs)
{
	if (!hs)
		return;
	for (int i = 0; i < HELPER_N; i++) {
		struct helper *h = &hs->h[i];

		bury(h);
		reactor_unwatch(hs->r, &h->tw);
		close(h->tw.fd);
		reactor_unwatch(hs->r, &h->stw);
		close(h->stw.fd);
		queue_free(h);
		free(h->q);
		free(h->path);
		if (h->exefd >= 0)
			close(h->exefd);
	}
	close(hs->devnull);
	free(hs);
}

void
helper_start_now(struct helper *h)
{
	if (h->state == H_BACKOFF || h->state == H_IDLE) {
		timerfd_arm(h->tw.fd, 0, 0);
		h->armed = UINT64_MAX;
		start(h);
	}
}

int
helper_finish(struct helper *h, unsigned ms)
{
	uint64_t end = mono_ns() + (uint64_t)ms * NSEC_PER_MSEC;
	bool closed = false;
	int ended = 0;
	enum said said;
	char why[160];

	timerfd_arm(h->tw.fd, 0, 0);
	h->armed = UINT64_MAX;
	while (h->state == H_RUNNING && !h->killing && h->pw.fd >= 0) {
		uint64_t now = mono_ns();
		struct pollfd p[2] = {
			{ .fd = h->pw.fd, .events = POLLIN },
			{ .fd = closed ? -1 : h->sw.fd,
			  .events = POLLIN |
			  (h->qlen && !h->stalled ? POLLOUT : 0) },
		};

		if (now >= end)
			break;
		if (poll(p, 2, (int)((end - now) / NSEC_PER_MSEC) + 1) < 0 &&
		    errno != EINTR)
			break;
		if (p[0].revents) {
			ended = 1;
			break;
		}
		if (p[1].revents & POLLOUT)
			flush_queue(h);
		if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		/* Its socket closed: its pidfd says the rest. A hostile
		 * helper is not waited for: it is killed below. */
		said = read_records(h, false, why, sizeof(why));
		if (said == SAID_CLOSED)
			closed = true;
		else if (said == SAID_BAD) {
			log_msg(LOG_WARN, "helper %s: malformed message: %s; killing it",
			    h->name, why);
			ended = -1;
			break;
		}
	}
	/* Killed meanwhile (a record it sent, a socket it shut): not waited for. */
	if (ended == 0 && h->killing)
		ended = -1;
	bury(h);
	queue_free(h);
	h->state = H_IDLE;
	return ended;
}

struct helper *
helpers_get(struct helpers *hs, enum helper_id id)
{
	return &hs->h[id];
}

void
helper_attach(struct helper *h, const struct helper_client *cl)
{
	h->cl = *cl;
}

void
helper_need(struct helper *h)
{
	if (h->state == H_IDLE)
		start(h);
}

bool
helper_up(const struct helper *h)
{
	return h->state == H_RUNNING && !h->killing;
}

/* Silent: its stall timer has not been pushed on for two heartbeats. */
bool
helper_silent(const struct helper *h)
{
	struct itimerspec left;
	uint64_t ms;

	if (!helper_up(h))
		return true;
	if (timerfd_gettime(h->stw.fd, &left) < 0)
		return false;
	ms = (uint64_t)left.it_value.tv_sec * 1000 +
	    (uint64_t)left.it_value.tv_nsec / 1000000;
	/* Before its first beat: its start's longer time is counting down. */
	if (ms > table[h->id].hung_ms)
		return false;
	return ms + 2 * HMSG_HEARTBEAT_MS < table[h->id].hung_ms;
}

int
helper_send(struct helper *h, const void *rec, size_t len)
{
	return helper_send_fds(h, rec, len, NULL, 0);
}

int
helper_send_fds(struct helper *h, const void *rec, size_t len,
    const int *fds, int nfds)
{
	struct qrec *q;

	if (!helper_up(h) || nfds > HMSG_FDS_MAX)
		return -1;
	if (h->qlen == 0 && hmsg_send_fds(h->sw.fd, rec, len, fds, nfds) == 0)
		return 0;
	if (h->qlen == 0 && (errno == EPIPE || errno == ECONNRESET)) {
		send_refused(h, errno);
		return -1;
	}
	if (h->qlen == 0 && errno != EAGAIN)
		return -1;
	if (h->stalled)
		flush_queue(h);
	if (h->qlen == h->qmax || !helper_up(h))
		return -1;
	q = xcalloc(1, sizeof(*q) + len);
	q->len = len;
	memcpy(q->b, rec, len);
	for (int i = 0; i < nfds; i++) {
		if ((q->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) {
			qrec_free(q);
			return -1;
		}
		q->nfds++;
	}
	if (h->qlen == h->qcap) {
		h->qcap = h->qcap ? h->qcap * 2 : 64;
		h->q = xreallocarray(h->q, h->qcap, sizeof(*h->q));
	}
	h->q[h->qlen++] = q;
	if (h->qlen == 1)
		reactor_modify(h->hs->r, &h->sw, EPOLLIN | EPOLLOUT);
	return 0;
}

bool
helpers_reap(struct helpers *hs, pid_t pid)
{
	if (!hs || pid <= 0)
		return false;
	for (int i = 0; i < HELPER_N; i++)
		if (hs->h[i].pid == pid && hs->h[i].pw.fd >= 0) {
			reap(&hs->h[i]);
			return true;
		}
	return false;
}

void
helpers_names(struct obs_helpers *counts)
{
	for (int i = 0; i < HELPER_N; i++)
		snprintf(counts->name[i], sizeof(counts->name[i]), "%s",
		    table[i].name);
}

void
helpers_obs_caps(struct helpers *hs, uint64_t caps)
{
	hs->obs_caps = caps;
}

pid_t
helper_pid(const struct helper *h)
{
	return h->pid;
}

void
helper_user(const struct helper *h, uid_t *uid, gid_t *gid)
{
	helpers_user(h->hs, uid, gid);
}

void
helpers_user(const struct helpers *hs, uid_t *uid, gid_t *gid)
{
	*uid = hs->uid;
	*gid = hs->gid;
}

size_t
helpers_stats(const struct helpers *hs, struct helper_stat *st, size_t max)
{
	size_t n = 0;

	for (int i = 0; hs && i < HELPER_N && n < max; i++, n++) {
		st[n].name = hs->h[i].name;
		st[n].state = state_names[hs->h[i].state];
		st[n].pid = hs->h[i].pid;
		st[n].restarts = hs->h[i].restarts;
	}
	return n;
}
