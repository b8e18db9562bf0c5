/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The BPF programs against real processes. A launcher process plays arbord:
 * the probes follow its children and their descendants; what this test
 * forks itself is untracked. Skipped, with the reason printed, where BPF
 * cannot be loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bpf/loader.h"
#include "bpf/shape.h"
#ifndef ARBOR_NO_BPF
#include <bpf/btf.h>
#endif

/*
 * Under ASan this test's children must die of SIGSEGV as anyone's would:
 * ASan's own handler would catch it and exit instead.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "handle_segv=0";
}

static struct probes *probes;
static char skip_reason[256];
static pid_t launcher;
static int cmd_fd, reply_fd;
static struct arbor_rec recs[4096];
static size_t nrecs;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
on_rec(void *ctx, const struct arbor_rec *r)
{
	(void)ctx;
	if (nrecs < sizeof(recs) / sizeof(recs[0]))
		recs[nrecs++] = *r;
}

/* n seconds, times ARBOR_TIME_SCALE (a slow machine: a VM under TCG). */
static uint64_t
scaled_s(uint64_t n)
{
	const char *v = getenv("ARBOR_TIME_SCALE");
	long k = v ? strtol(v, NULL, 10) : 1;

	return n * (uint64_t)(k > 0 ? k : 1) * 1000000000ULL;
}

/* Waits up to 5 s (scaled) for a record of kind about tgid. */
static const struct arbor_rec *
wait_rec(uint32_t kind, pid_t tgid)
{
	uint64_t deadline = mono_ns() + scaled_s(5);

	while (mono_ns() < deadline) {
		struct pollfd pfd = { .fd = probes_fd(probes), .events = POLLIN };

		for (size_t i = 0; i < nrecs; i++)
			if (recs[i].kind == kind && recs[i].tgid == (uint32_t)tgid)
				return &recs[i];
		poll(&pfd, 1, 50);
		probes_consume(probes);
	}
	fail_msg("no record of kind %u for %d", kind, tgid);
	return NULL;
}

static void
pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* A real fault, which sanitizers must not turn into a report of their own. */
__attribute__((no_sanitize("address", "undefined"), noinline))
static void
fault(void)
{
	/* Through a volatile pointer: the compiler cannot see it is NULL. */
	volatile int *volatile p = NULL;

	*p = 1;
}

/* In the launcher: one command byte in, one child started, its pid out. */
static void
launcher_loop(int in, int out)
{
	char c;

	while (read(in, &c, 1) == 1) {
		pid_t pid = fork();

		if (pid == 0) {
			switch (c) {
			case 'e':
				_exit(3);
			case 'k':
				pause();
				_exit(0);
			case 's':
				fault();
				_exit(0);
			case 'x':
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			case 'g':
				if (fork() == 0)
					_exit(5);
				wait(NULL);
				pause();
				_exit(0);
			case 'b':
				pin_to_cpu0();
				for (;;)
					;
			}
			_exit(0);
		}
		if (write(out, &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		/* Zombies are reaped so the launcher keeps going. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	_exit(0);
}

static pid_t
launch(char c)
{
	pid_t pid;

	assert_int_equal(write(cmd_fd, &c, 1), 1);
	assert_int_equal(read(reply_fd, &pid, sizeof(pid)), sizeof(pid));
	return pid;
}

static int
setup(void **state)
{
	int to[2], from[2];

	(void)state;
	if (pipe(to) < 0 || pipe(from) < 0)
		return -1;
	launcher = fork();
	if (launcher == 0) {
		close(to[1]);
		close(from[0]);
		/* cmocka catches SIGSEGV and friends: workers must not. */
		for (int sig = 1; sig < 32; sig++)
			signal(sig, SIG_DFL);
		launcher_loop(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	cmd_fd = to[1];
	reply_fd = from[0];
	probes = probes_open(launcher, (pid_t)gettid(), NULL, on_rec, NULL,
	    skip_reason, sizeof(skip_reason));
	if (!probes)
		fprintf(stderr, "SKIP: BPF unavailable: %s\n", skip_reason);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	probes_close(probes);
	close(cmd_fd);
	kill(launcher, SIGKILL);
	waitpid(launcher, NULL, 0);
	return 0;
}

#define NEED_BPF() do { if (!probes) { skip(); } } while (0)

static void
exit_status_with_kernel_timestamp(void **state)
{
	uint64_t before = mono_ns();
	const struct arbor_rec *r;
	pid_t pid;

	(void)state;
	NEED_BPF();
	pid = launch('e');
	r = wait_rec(ARBOR_REC_EXIT, pid);
	assert_int_equal(r->worker, pid);
	assert_int_equal(r->exit_code, 3 << 8);
	assert_int_equal(r->has_fatal, 0);
	assert_true(r->ts > before && r->ts < mono_ns());
}

static void
kill_is_attributed_to_its_sender(void **state)
{
	const struct arbor_rec *r;
	pid_t victim, killer;

	(void)state;
	NEED_BPF();
	victim = launch('k');
	killer = fork();
	if (killer == 0) {
		prctl(PR_SET_NAME, "arbor-killer");
		kill(victim, SIGKILL);
		_exit(0);
	}
	waitpid(killer, NULL, 0);
	r = wait_rec(ARBOR_REC_EXIT, victim);
	assert_int_equal(r->exit_code & 0x7f, SIGKILL);
	assert_int_equal(r->has_fatal, 1);
	assert_int_equal(r->fatal.sig, SIGKILL);
	assert_int_equal(r->fatal.kernel, 0);
	assert_int_equal(r->fatal.sender_pid, killer);
	assert_string_equal(r->fatal.sender_comm, "arbor-killer");
}

static void
segfault_comes_from_the_kernel(void **state)
{
	const struct arbor_rec *r;
	pid_t pid;

	(void)state;
	NEED_BPF();
	pid = launch('s');
	r = wait_rec(ARBOR_REC_EXIT, pid);
	assert_int_equal(r->exit_code & 0x7f, SIGSEGV);
	assert_int_equal(r->has_fatal, 1);
	assert_int_equal(r->fatal.sig, SIGSEGV);
	assert_int_equal(r->fatal.kernel, 1);
	assert_int_equal(r->fatal.sender_pid, 0);
}

static void
exec_is_recorded(void **state)
{
	const struct arbor_rec *r;
	pid_t pid;

	(void)state;
	NEED_BPF();
	pid = launch('x');
	r = wait_rec(ARBOR_REC_EXEC, pid);
	assert_string_equal(r->comm, "true");
	assert_int_equal(r->worker, pid);
}

static void
descendants_are_followed(void **state)
{
	pid_t pid;
	size_t i;

	(void)state;
	NEED_BPF();
	pid = launch('g');
	/* The grandchild exits with 5; its record names the worker. */
	for (uint64_t deadline = mono_ns() + scaled_s(5); mono_ns() < deadline;) {
		struct pollfd pfd = { .fd = probes_fd(probes), .events = POLLIN };

		for (i = 0; i < nrecs; i++)
			if (recs[i].kind == ARBOR_REC_EXIT &&
			    recs[i].worker == (uint32_t)pid &&
			    recs[i].tgid != (uint32_t)pid) {
				assert_int_equal(recs[i].exit_code, 5 << 8);
				kill(pid, SIGKILL);
				return;
			}
		poll(&pfd, 1, 50);
		probes_consume(probes);
	}
	fail_msg("no exit record of a descendant of %d", pid);
}

static uint64_t
hist_total(const struct arbor_hist *h)
{
	uint64_t n = 0;

	for (int i = 0; i < ARBOR_HIST_SLOTS; i++)
		n += h->slots[i];
	return n;
}

static void
runq_fills_for_workers_only(void **state)
{
	struct arbor_hist h;
	pid_t tracked, untracked;

	(void)state;
	NEED_BPF();
	tracked = launch('b');
	untracked = fork();
	if (untracked == 0) {
		pin_to_cpu0();
		for (;;)
			;
	}
	/* Two spinners on one CPU wait for each other in its run queue. */
	usleep(500000);
	assert_int_equal(probes_runq(probes, (uint32_t)tracked, &h), 0);
	assert_true(hist_total(&h) > 0);
	assert_int_equal(probes_runq(probes, (uint32_t)untracked, &h), -1);
	/* This thread (as arbord's core) sleeps and wakes: it is measured. */
	assert_int_equal(probes_runq(probes, ARBOR_SELF_KEY, &h), 0);
	assert_true(hist_total(&h) > 0);
	kill(tracked, SIGKILL);
	kill(untracked, SIGKILL);
	waitpid(untracked, NULL, 0);
}

/*
 * With cgroups, as arbord runs: a base with arbord's leaf, its helpers'
 * cgroup and the tree beside each other. A process in the tree is a
 * worker; one in the helpers' cgroup is arbord's own and makes no record.
 */
static char cg_base[320];

/* The cgroup v2 mount (pure v2 or the hybrid "unified"); "" if none. */
static void
v2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], mnt[256], type[64];

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (sep && sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1 &&
		    sscanf(sep + 3, "%63s", type) == 1 &&
		    strcmp(type, "cgroup2") == 0) {
			snprintf(out, len, "%s", mnt);
			break;
		}
	}
	if (f)
		fclose(f);
}

static uint64_t
cg_id(const char *rel)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", cg_base, rel);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* A child moved into rel (below cg_base) that execs /bin/true; reaped. */
static pid_t
run_true_in(const char *rel)
{
	char path[600];
	pid_t pid;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", cg_base, rel);
	pid = fork();
	if (pid == 0) {
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 ||
		    write(fd, "0", 1) != 1)
			_exit(126);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

/* The base of the test below, parents first. */
static const char *const cg_dirs[] = { "", "arbord", "helpers",
    "helpers/checks", "root", "root/w" };

/* Removes the first n of cg_dirs below cg_base, children first. */
static void
cg_remove(size_t n)
{
	char path[400];

	while (n-- > 0) {
		snprintf(path, sizeof(path), "%s/%s", cg_base, cg_dirs[n]);
		rmdir(path);
	}
}

static void
helper_processes_make_no_records(void **state)
{
	const size_t ndirs = sizeof(cg_dirs) / sizeof(cg_dirs[0]);
	char mnt[256], path[400];
	struct probes_cgroup pc = { .base_level = 1 };
	struct stat nst;
	struct probes *cp;
	pid_t helper, worker;
	bool exit = false, seen_helper = false;
	int st;

	(void)state;
	NEED_BPF();
	v2_mount(mnt, sizeof(mnt));
	if (!mnt[0]) {
		fprintf(stderr, "SKIP: no cgroup v2 mount\n");
		skip();
	}
	/* The level below is counted from the mount, which is the hierarchy's
	 * root only outside a cgroup namespace. */
	if (stat("/proc/self/ns/cgroup", &nst) == 0 && nst.st_ino != 0xEFFFFFFBU) {
		fprintf(stderr, "SKIP: in a cgroup namespace of its own\n");
		skip();
	}
	snprintf(cg_base, sizeof(cg_base), "%s/arbor-test-probes-%d", mnt,
	    (int)getpid());
	for (size_t i = 0; i < ndirs; i++) {
		snprintf(path, sizeof(path), "%s/%s", cg_base, cg_dirs[i]);
		if (mkdir(path, 0755) < 0) {
			fprintf(stderr, "SKIP: cgroup %s: %s\n", path, strerror(errno));
			cg_remove(i);
			skip();
		}
	}
	pc.base_id = cg_id("");
	pc.self_id = cg_id("arbord");
	pc.helpers_id = cg_id("helpers");
	cp = probes_open(getpid(), (pid_t)gettid(), &pc, on_rec, NULL,
	    skip_reason, sizeof(skip_reason));
	if (!cp) {
		cg_remove(ndirs);
		fail_msg("probes on a cgroup base: %s", skip_reason);
	}
	helper = run_true_in("helpers/checks");
	assert_int_equal(waitpid(helper, &st, 0), helper);
	assert_int_equal(st, 0);
	worker = run_true_in("root/w");
	assert_int_equal(waitpid(worker, &st, 0), worker);
	assert_int_equal(st, 0);
	/* The worker's exit record comes (a process that moved itself there
	 * was not seen born: it stands for itself); the helper's, made before
	 * it, would have come first. */
	for (uint64_t deadline = mono_ns() + scaled_s(5); mono_ns() < deadline;) {
		struct pollfd pfd = { .fd = probes_fd(cp), .events = POLLIN };

		probes_consume(cp);
		exit = false;
		for (size_t i = 0; i < nrecs; i++) {
			seen_helper |= recs[i].tgid == (uint32_t)helper;
			exit |= recs[i].kind == ARBOR_REC_EXIT && recs[i].tgid == (uint32_t)worker;
		}
		if (exit)
			break;
		poll(&pfd, 1, 50);
	}
	probes_close(cp);
	cg_remove(ndirs);
	if (seen_helper)
		fail_msg("a record of the process %d in helpers/checks", helper);
	if (!exit)
		fail_msg("no exit record of the worker %d in root/w", worker);
}

#ifndef ARBOR_NO_BPF
/* Adds typedef btf_trace_NAME: void (*)(void *, args[0..n)). */
static void
add_tp(struct btf *b, const char *name, int voidp, const int *args, int n)
{
	char td[96];
	int proto = btf__add_func_proto(b, 0);

	assert_true(proto > 0);
	assert_int_equal(btf__add_func_param(b, "__data", voidp), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(btf__add_func_param(b, "a", args[i]), 0);
	snprintf(td, sizeof(td), "btf_trace_%s", name);
	assert_true(btf__add_typedef(b, td, btf__add_ptr(b, proto)) > 0);
}

enum shapes { SHAPES_618, SHAPES_515, SHAPES_CHANGED };

/* The tracepoints of a kernel, as its BTF has them: 6.18's, 5.15's (and
 * 6.1's, but for sched_switch), or a future one that changed again. */
static struct btf *
fake_kernel(enum shapes k)
{
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int u32 = btf__add_int(b, "unsigned int", 4, 0);
	int bl = btf__add_int(b, "_Bool", 1, BTF_INT_BOOL);
	int task = btf__add_ptr(b, btf__add_struct(b, "task_struct", 0));
	int info = btf__add_ptr(b, btf__add_struct(b, "kernel_siginfo", 0));
	int bprm = btf__add_ptr(b, btf__add_struct(b, "linux_binprm", 0));
	int vp = btf__add_ptr(b, 0);
	int pid = btf__add_typedef(b, "pid_t", i32);
	int fork_a[] = { task, task }, exec_a[] = { task, pid, bprm };
	int sig_a[] = { i32, info, task, i32, i32 }, wake_a[] = { task };
	int exit_new[] = { task, bl }, exit_old[] = { task };
	int oom_new[] = { task, u32 }, oom_old[] = { i32 };
	int sw_new[] = { bl, task, task, u32 }, sw_old[] = { bl, task, task };
	int sw_changed[] = { task };

	add_tp(b, "sched_process_fork", vp, fork_a, 2);
	add_tp(b, "sched_process_exec", vp, exec_a, 3);
	add_tp(b, "signal_generate", vp, sig_a, 5);
	add_tp(b, "sched_wakeup", vp, wake_a, 1);
	add_tp(b, "sched_wakeup_new", vp, wake_a, 1);
	if (k == SHAPES_618) {
		add_tp(b, "sched_process_exit", vp, exit_new, 2);
		add_tp(b, "mark_victim", vp, oom_new, 2);
		add_tp(b, "sched_switch", vp, sw_new, 4);
	} else {
		add_tp(b, "sched_process_exit", vp, exit_old, 1);
		if (k == SHAPES_515)
			add_tp(b, "mark_victim", vp, oom_old, 1);
		add_tp(b, "sched_switch", vp, k == SHAPES_515 ? sw_old :
		    sw_changed, k == SHAPES_515 ? 3 : 1);
	}
	return b;
}

static const struct probe_def *
def_of(const char *name)
{
	for (size_t i = 0; i < probe_ndefs; i++)
		if (strcmp(probe_defs[i].name, name) == 0)
			return &probe_defs[i];
	fail_msg("no probe %s", name);
	return NULL;
}

/* The program each probe of a kernel gets, or "-" with why. */
static const char *
chosen(struct btf *b, const char *probe, char *why, size_t len)
{
	const struct probe_def *d = def_of(probe);
	int v = shape_choose(b, d, why, len);

	return v < 0 ? "-" : d->v[v].prog;
}

static void
each_kernel_gets_the_program_its_tracepoints_fit(void **state)
{
	struct btf *b;
	char why[256];

	(void)state;
	b = fake_kernel(SHAPES_618);
	assert_string_equal(chosen(b, "exit", why, sizeof(why)), "on_exit");
	assert_string_equal(chosen(b, "oom", why, sizeof(why)), "on_oom_victim");
	assert_string_equal(chosen(b, "switch", why, sizeof(why)), "on_switch");
	for (size_t i = 0; i < probe_ndefs; i++)
		assert_int_equal(shape_choose(b, &probe_defs[i], why,
		    sizeof(why)), 0);
	btf__free(b);

	b = fake_kernel(SHAPES_515);
	assert_string_equal(chosen(b, "exit", why, sizeof(why)), "on_exit_v1");
	assert_string_equal(chosen(b, "oom", why, sizeof(why)), "on_oom_victim_v1");
	assert_string_equal(chosen(b, "switch", why, sizeof(why)), "on_switch_v1");
	assert_string_equal(chosen(b, "fork", why, sizeof(why)), "on_fork");
	assert_string_equal(chosen(b, "signal", why, sizeof(why)), "on_signal");
	btf__free(b);

	/* Changed again, or gone: that probe off, saying why; the rest on. */
	b = fake_kernel(SHAPES_CHANGED);
	assert_string_equal(chosen(b, "switch", why, sizeof(why)), "-");
	assert_non_null(strstr(why, "sched_switch takes (pointer) here"));
	assert_string_equal(chosen(b, "oom", why, sizeof(why)), "-");
	assert_non_null(strstr(why, "no tracepoint mark_victim"));
	assert_string_equal(chosen(b, "exit", why, sizeof(why)), "on_exit_v1");
	btf__free(b);
}

/* On this host: each probe runs the program its BTF fits, all attached. */
static void
this_kernel_runs_what_its_btf_fits(void **state)
{
	struct probe_state st[16];
	struct btf *vmlinux;
	char why[256];
	size_t n;

	(void)state;
	NEED_BPF();
	vmlinux = btf__load_vmlinux_btf();
	assert_non_null(vmlinux);
	n = probes_states(st, 16);
	assert_int_equal(n, probe_ndefs);
	for (size_t i = 0; i < n; i++) {
		int v = shape_choose(vmlinux, &probe_defs[i], why, sizeof(why));

		assert_string_equal(st[i].name, probe_defs[i].name);
		assert_true(v >= 0);
		assert_string_equal(st[i].program, probe_defs[i].v[v].prog);
		assert_string_equal(st[i].state, "attached");
		printf("probe %s: %s\n", st[i].name, st[i].program);
	}
	btf__free(vmlinux);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_status_with_kernel_timestamp),
		cmocka_unit_test(kill_is_attributed_to_its_sender),
		cmocka_unit_test(segfault_comes_from_the_kernel),
		cmocka_unit_test(exec_is_recorded),
		cmocka_unit_test(descendants_are_followed),
		cmocka_unit_test(runq_fills_for_workers_only),
		cmocka_unit_test(helper_processes_make_no_records),
#ifndef ARBOR_NO_BPF
		cmocka_unit_test(each_kernel_gets_the_program_its_tracepoints_fit),
		cmocka_unit_test(this_kernel_runs_what_its_btf_fits),
#endif
	};

	return cmocka_run_group_tests_name("bpf", tests, setup, teardown);
}
