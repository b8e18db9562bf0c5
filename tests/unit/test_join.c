/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The join of core events and kernel records (exporters/join.h), rule by
 * rule, on a fake clock and fake ops: what goes out, in which order, with
 * which fields, and what the registry is told.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/join.h"
#include "daemon/util.h"

#define MS 1000000ULL

struct fake {
	struct join *j;
	json_t *out;		/* emitted events, in order */
	char log[8192];		/* metric calls, "observe restart_latency root/w 0.05; " */
	int tracked;
	int gone;
};

static void
logf_(struct fake *f, const char *fmt, ...)
{
	size_t n = strlen(f->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->log + n, sizeof(f->log) - n, fmt, ap);
	va_end(ap);
}

static void op_emit(void *c, json_t *j) { json_array_append_new(((struct fake *)c)->out, j); }
static void op_observe(void *c, enum metric m, const char *p, double v)
{ logf_(c, "observe %d %s %.3f; ", (int)m, p ? p : "-", v); }
static void op_add(void *c, enum metric m, const char *p, const char *l, double v)
{ logf_(c, "add %d %s %s %.0f; ", (int)m, p ? p : "-", l ? l : "-", v); }
static void op_set(void *c, enum metric m, const char *p, const char *l, double v)
{ (void)c; (void)m; (void)p; (void)l; (void)v; }
static void op_forget(void *c, const char *p) { logf_(c, "forget %s; ", p); }
static void op_gone(void *c, const char *p, int pid) { (void)p; (void)pid; ((struct fake *)c)->gone++; }
static void op_track(void *c, int pid) { (void)pid; ((struct fake *)c)->tracked++; }
/* Only "root/web" has held sockets. */
static bool op_has_backlog(void *c, const char *owner)
{ (void)c; return strcmp(owner, "root/web") == 0; }

static const struct join_ops ops = {
	op_emit, op_observe, op_add, op_set, op_forget, op_gone, op_track,
	op_has_backlog,
};

static struct fake *
fake_new(bool kernel)
{
	struct fake *f = xcalloc(1, sizeof(*f));

	f->out = json_array();
	f->j = join_new(&ops, f);
	join_kernel_side(f->j, kernel, 0);
	return f;
}

static void
fake_free(struct fake *f)
{
	join_free(f->j);
	json_decref(f->out);
	free(f);
}

static struct obs_msg
core(enum event_kind k, const char *path, int pid, uint64_t t)
{
	struct obs_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = OBS_MSG_EVENT;
	m.event = k;
	m.mono_ns = t;
	m.pid = pid;
	m.exit.status = -1;
	snprintf(m.path, sizeof(m.path), "%s", path);
	return m;
}

static void
send_core(struct fake *f, enum event_kind k, const char *path, int pid,
    uint64_t t)
{
	struct obs_msg m = core(k, path, pid, t);

	if (k == EV_EXIT) {
		m.exit.reason = EXIT_CRASH;
		m.exit.signal = 9;
	}
	join_core(f->j, &m, t);
}

static struct arbor_rec
krec(int kind, int pid, uint64_t t)
{
	struct arbor_rec r;

	memset(&r, 0, sizeof(r));
	r.kind = (uint32_t)kind;
	r.tgid = r.worker = (uint32_t)pid;
	r.ts = t;
	return r;
}

/* Field key of the i-th emitted event, as an integer (-1: absent). */
static long long
field(struct fake *f, size_t i, const char *key)
{
	json_t *v = json_object_get(json_array_get(f->out, i), key);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* The registry was told this (fmt takes the metric's number). */
static void
assert_logged(struct fake *f, const char *fmt, enum metric m)
{
	char want[128];

	snprintf(want, sizeof(want), fmt, (int)m);
	if (!strstr(f->log, want))
		fail_msg("\"%s\" not in \"%s\"", want, f->log);
}

static const char *
kind(struct fake *f, size_t i)
{
	return json_string_value(json_object_get(json_array_get(f->out, i),
	    "event"));
}

static void
exit_joined_with_its_kernel_record(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec r = krec(ARBOR_REC_EXIT, 42, 1000 * MS);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 10 * MS);
	r.exit_code = 9;
	r.has_fatal = 1;
	r.fatal.sender_pid = 77;
	snprintf(r.fatal.sender_comm, sizeof(r.fatal.sender_comm), "bash");
	send_core(f, EV_EXIT, "root/w", 42, 1003 * MS);
	assert_int_equal(json_array_size(f->out), 1);	/* the exit waits */
	assert_true(join_waiting(f->j));
	join_kernel(f->j, &r, 1004 * MS);
	assert_int_equal(json_array_size(f->out), 2);
	assert_string_equal(kind(f, 1), "exit");
	assert_int_equal(field(f, 1, "mono_ns"), 1000 * MS);
	assert_int_equal(field(f, 1, "arbord_mono_ns"), 1003 * MS);
	assert_int_equal(field(f, 1, "killer_pid"), 77);
	assert_string_equal(json_string_value(json_object_get(json_array_get(f->out, 1),
	    "killer_comm")), "bash");
	assert_false(json_is_true(json_object_get(json_array_get(f->out, 1), "oom")));
	/* exit-detect latency: kernel exit to the core's, 3 ms */
	assert_logged(f, "observe %d - 0.003;", M_EXIT_DETECT_LATENCY);
	assert_false(join_waiting(f->j));
	assert_int_equal(f->gone, 1);
	assert_int_equal(join_nprocs(f->j), 0);	/* the process is forgotten */
	fake_free(f);
}

static void
kernel_record_first_joins_at_once(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec r = krec(ARBOR_REC_EXIT, 42, 500 * MS);

	(void)state;
	r.has_fatal = 1;
	r.fatal.kernel = 1;
	r.fatal.oom = 1;
	send_core(f, EV_SPAWN, "root/w", 42, 10 * MS);
	join_kernel(f->j, &r, 501 * MS);
	send_core(f, EV_EXIT, "root/w", 42, 502 * MS);
	assert_int_equal(json_array_size(f->out), 2);
	assert_true(json_is_true(json_object_get(json_array_get(f->out, 1), "oom")));
	assert_true(json_is_null(json_object_get(json_array_get(f->out, 1), "killer_pid")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(f->out, 1),
	    "killer_comm")), "kernel");
	assert_logged(f, "add %d root/w - 1;", M_OOM_KILLS);
	fake_free(f);
}

/*
 * The queue place of the oldest event not yet out is what the helper gives
 * back to (exporters/obs.c, commit): an exit held for its kernel record
 * holds its place and those after it; out, nothing is held.
 */
static void
the_oldest_event_not_out_holds_the_queue(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec r = krec(ARBOR_REC_EXIT, 42, 100 * MS);
	struct obs_msg m;
	uint64_t at;

	(void)state;
	m = core(EV_SPAWN, "root/w", 42, 10 * MS);
	m.qseq = 7;
	join_core(f->j, &m, 10 * MS);
	assert_false(join_first_held(f->j, &at, NULL));
	m = core(EV_EXIT, "root/w", 42, 101 * MS);
	m.qseq = 8;
	join_core(f->j, &m, 101 * MS);
	m = core(EV_RESTART, "root/w", 0, 101 * MS);
	m.qseq = 9;
	join_core(f->j, &m, 101 * MS);
	assert_true(join_first_held(f->j, &at, NULL));
	assert_int_equal(at, 8);
	assert_false(join_kexit_waits(f->j, 42));
	join_kernel(f->j, &r, 102 * MS);
	assert_int_equal(json_array_size(f->out), 3);
	assert_false(join_first_held(f->j, &at, NULL));
	fake_free(f);
}

/*
 * A kernel exit of an earlier process of a pid, left unjoined (kept by a
 * helper that died, given again to its next one), is not joined with a
 * later process of that pid.
 */
static void
an_exit_of_an_earlier_process_of_the_pid_is_not_joined(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec old = krec(ARBOR_REC_EXIT, 42, 50 * MS);
	struct arbor_rec r = krec(ARBOR_REC_EXIT, 42, 300 * MS);
	struct obs_msg m;

	(void)state;
	old.fatal.sender_pid = 1;
	old.has_fatal = 1;
	join_kernel(f->j, &old, 60 * MS);
	assert_true(join_kexit_waits(f->j, 42));
	m = core(EV_SPAWN, "root/w", 42, 100 * MS);
	m.clone_ns = 99 * MS;
	join_core(f->j, &m, 100 * MS);
	assert_false(join_kexit_waits(f->j, 42));
	send_core(f, EV_EXIT, "root/w", 42, 301 * MS);
	assert_int_equal(json_array_size(f->out), 1);	/* waits for its own */
	r.has_fatal = 1;
	r.fatal.sender_pid = 77;
	join_kernel(f->j, &r, 302 * MS);
	assert_int_equal(field(f, 1, "killer_pid"), 77);
	/* Its spawn not read again (written out before the helper died):
	 * the kept exit is forgotten once the events left are read. */
	join_kernel(f->j, &old, 400 * MS);
	join_forget_unmet(f->j);
	send_core(f, EV_EXIT, "root/w", 42, 501 * MS);
	assert_int_equal(json_array_size(f->out), 2);	/* waits for its own */
	r.ts = 500 * MS;
	join_kernel(f->j, &r, 502 * MS);
	assert_int_equal(field(f, 2, "killer_pid"), 77);
	/* A kernel exec after a kept exit: that exit is an earlier one's. */
	join_kernel(f->j, &old, 600 * MS);
	assert_true(join_kexit_waits(f->j, 42));
	{
		struct arbor_rec x = krec(ARBOR_REC_EXEC, 42, 60 * MS);

		join_kernel(f->j, &x, 601 * MS);
	}
	assert_false(join_kexit_waits(f->j, 42));
	fake_free(f);
}

static void
restart_latency_from_kernel_exit_to_kernel_exec(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec ex = krec(ARBOR_REC_EXIT, 42, 1000 * MS);
	struct arbor_rec ec = krec(ARBOR_REC_EXEC, 43, 1050 * MS);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 10 * MS);
	join_kernel(f->j, &ex, 1000 * MS);
	send_core(f, EV_EXIT, "root/w", 42, 1001 * MS);
	send_core(f, EV_RESTART, "root/w", 0, 1001 * MS);
	send_core(f, EV_SPAWN, "root/w", 43, 1040 * MS);
	send_core(f, EV_EXEC, "root/w", 43, 1041 * MS);	/* waits */
	assert_string_equal(kind(f, json_array_size(f->out) - 1), "spawn");
	join_kernel(f->j, &ec, 1051 * MS);
	assert_string_equal(kind(f, json_array_size(f->out) - 1), "exec");
	assert_int_equal(field(f, json_array_size(f->out) - 1, "restart_latency_ns"),
	    50 * MS);
	assert_int_equal(field(f, json_array_size(f->out) - 1, "mono_ns"), 1050 * MS);
	assert_logged(f, "observe %d root/w 0.050;", M_RESTART_LATENCY);
	fake_free(f);
}

static void
core_event_waits_at_most_the_join_window_then_goes_alone(void **state)
{
	struct fake *f = fake_new(true);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 0);
	send_core(f, EV_EXIT, "root/w", 42, 1000 * MS);
	join_tick(f->j, 1000 * MS + JOIN_WAIT_NS - 1);
	assert_int_equal(json_array_size(f->out), 1);
	join_tick(f->j, 1000 * MS + JOIN_WAIT_NS);
	assert_int_equal(json_array_size(f->out), 2);
	assert_string_equal(kind(f, 1), "exit");
	assert_int_equal(field(f, 1, "killer_pid"), -1);	/* alone: no kernel fields */
	assert_int_equal(field(f, 1, "mono_ns"), 1000 * MS);
	assert_false(join_waiting(f->j));
	fake_free(f);
}

/*
 * A pid reused within the join window: its second exit waits in the
 * first's place, and the first goes out as the core saw it; nothing after
 * them is held up for good.
 */
static void
a_reused_pid_never_holds_the_stream(void **state)
{
	struct fake *f = fake_new(true);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 0);
	send_core(f, EV_EXIT, "root/w", 42, 1000 * MS);
	send_core(f, EV_SPAWN, "root/w", 42, 1010 * MS);
	send_core(f, EV_EXIT, "root/w", 42, 1020 * MS);
	join_tick(f->j, 1020 * MS + JOIN_WAIT_NS);
	send_core(f, EV_SPAWN, "root/w", 43, 2000 * MS);
	assert_int_equal(json_array_size(f->out), 5);
	assert_string_equal(kind(f, 1), "exit");
	assert_int_equal(field(f, 1, "mono_ns"), 1000 * MS);
	assert_string_equal(kind(f, 2), "spawn");
	assert_string_equal(kind(f, 3), "exit");
	assert_int_equal(field(f, 3, "mono_ns"), 1020 * MS);
	assert_string_equal(kind(f, 4), "spawn");
	assert_false(join_waiting(f->j));
	fake_free(f);
}

static void
order_is_kept_behind_a_waiting_event(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec r = krec(ARBOR_REC_EXIT, 42, 999 * MS);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 0);
	send_core(f, EV_EXIT, "root/w", 42, 1000 * MS);
	send_core(f, EV_RESTART, "root/w", 0, 1000 * MS);
	send_core(f, EV_GIVE_UP, "root", 0, 1000 * MS);
	assert_int_equal(json_array_size(f->out), 1);	/* all held by the exit */
	join_kernel(f->j, &r, 1001 * MS);
	assert_int_equal(json_array_size(f->out), 4);
	assert_string_equal(kind(f, 1), "exit");
	assert_string_equal(kind(f, 2), "restart");
	assert_string_equal(kind(f, 3), "give_up");
	fake_free(f);
}

static void
without_the_kernel_side_events_go_out_at_once(void **state)
{
	struct fake *f = fake_new(false);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 0);
	send_core(f, EV_EXEC, "root/w", 42, 1);
	send_core(f, EV_EXIT, "root/w", 42, 2);
	assert_int_equal(json_array_size(f->out), 3);
	assert_false(join_waiting(f->j));
	assert_int_equal(f->tracked, 0);
	fake_free(f);
}

static void
entries_are_bounded_and_kernel_only_ones_forgotten(void **state)
{
	struct fake *f = fake_new(true);

	(void)state;
	/* kernel records of processes the core never spawned */
	for (int pid = 1; pid <= 1000; pid++) {
		struct arbor_rec r = krec(ARBOR_REC_EXEC, pid, 0);

		join_kernel(f->j, &r, 0);
	}
	assert_int_equal(join_nprocs(f->j), 1000);
	join_tick(f->j, JOIN_FORGET_NS);
	assert_int_equal(join_nprocs(f->j), 1000);
	/* swept once a second when nothing waits */
	join_tick(f->j, JOIN_FORGET_NS + NSEC_PER_SEC / 2);
	assert_int_equal(join_nprocs(f->j), 1000);
	join_tick(f->j, JOIN_FORGET_NS + NSEC_PER_SEC);
	assert_int_equal(join_nprocs(f->j), 0);
	/* a crash loop leaves nothing behind either */
	for (int i = 0; i < 10000; i++) {
		send_core(f, EV_SPAWN, "root/w", 5000 + i, (uint64_t)i * MS);
		send_core(f, EV_EXIT, "root/w", 5000 + i, (uint64_t)i * MS);
		join_tick(f->j, (uint64_t)i * MS + JOIN_WAIT_NS);
	}
	assert_int_equal(join_nprocs(f->j), 0);
	assert_false(join_waiting(f->j));
	fake_free(f);
}

static void
removed_child_is_forgotten(void **state)
{
	struct fake *f = fake_new(false);

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 0);
	send_core(f, EV_CHILD_REMOVED, "root/w", 0, 1);
	assert_non_null(strstr(f->log, "forget root/w;"));
	fake_free(f);
}

static void
spawned_before_attach_is_tracked(void **state)
{
	struct fake *f = fake_new(true);

	(void)state;
	join_kernel_side(f->j, true, 100);
	send_core(f, EV_SPAWN, "root/w", 42, 50);
	send_core(f, EV_SPAWN, "root/v", 43, 150);
	assert_int_equal(f->tracked, 1);
	fake_free(f);
}

/* An exit whose stderr is captured waits for its tail, however late the
 * kernel's record is or whichever comes first, and carries it. */
static void
exit_waits_for_its_stderr_tail_from_either_side(void **state)
{
	struct obs_msg m;

	(void)state;
	for (int tail_first = 0; tail_first < 2; tail_first++) {
		struct fake *f = fake_new(false);
		json_t *ev;

		send_core(f, EV_SPAWN, "root/w", 42, 10 * MS);
		if (tail_first)
			join_tail(f->j, 42, "boom\nfatal", 11 * MS);
		m = core(EV_EXIT, "root/w", 42, 12 * MS);
		m.exit.reason = EXIT_CRASH;
		m.tail = true;
		join_core(f->j, &m, 12 * MS);
		if (!tail_first) {
			/* no kernel side, but the tail is to come: it waits */
			assert_int_equal(json_array_size(f->out), 1);
			assert_true(join_waiting(f->j));
			join_tail(f->j, 42, "boom\nfatal", 13 * MS);
		}
		assert_int_equal(json_array_size(f->out), 2);
		ev = json_array_get(f->out, 1);
		assert_string_equal(json_string_value(json_object_get(ev, "stderr_tail")),
		    "boom\nfatal");
		assert_int_equal(join_nprocs(f->j), 0);
		fake_free(f);
	}
}

/* The replacement's exec may go through the join before the exit it
 * follows (held for its tail): its restart latency is still from that
 * exit's kernel timestamp, not the one before. */
static void
restart_latency_while_the_exit_waits_for_its_tail(void **state)
{
	struct fake *f = fake_new(true);
	struct arbor_rec x1 = krec(ARBOR_REC_EXIT, 42, 1000 * MS);
	struct arbor_rec e2 = krec(ARBOR_REC_EXEC, 43, 1002 * MS);
	struct obs_msg m;

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 10 * MS);
	join_kernel(f->j, &x1, 1000 * MS);
	m = core(EV_EXIT, "root/w", 42, 1001 * MS);
	m.exit.reason = EXIT_CRASH;
	m.tail = true;
	join_core(f->j, &m, 1001 * MS);	/* waits for its tail */
	send_core(f, EV_RESTART, "root/w", 0, 1001 * MS);
	send_core(f, EV_SPAWN, "root/w", 43, 1001 * MS);
	join_kernel(f->j, &e2, 1002 * MS);
	send_core(f, EV_EXEC, "root/w", 43, 1002 * MS);
	join_tail(f->j, 42, "", 1003 * MS);
	/* spawn, exit, restart, spawn, exec: in the core's order */
	assert_int_equal(json_array_size(f->out), 5);
	assert_string_equal(kind(f, 1), "exit");
	assert_string_equal(kind(f, 4), "exec");
	assert_int_equal(field(f, 4, "restart_latency_ns"), 2 * MS);
	fake_free(f);
}

/* A tail that never comes holds the exit for the join window only; an
 * empty tail adds no field; a tail after its exit is forgotten. */
static void
missing_or_empty_tail_never_holds_an_exit_long(void **state)
{
	struct fake *f = fake_new(false);
	struct obs_msg m;

	(void)state;
	send_core(f, EV_SPAWN, "root/w", 42, 10 * MS);
	m = core(EV_EXIT, "root/w", 42, 12 * MS);
	m.tail = true;
	join_core(f->j, &m, 12 * MS);
	join_tick(f->j, 12 * MS + JOIN_WAIT_NS - 1);
	assert_int_equal(json_array_size(f->out), 1);
	join_tick(f->j, 12 * MS + JOIN_WAIT_NS);
	assert_int_equal(json_array_size(f->out), 2);
	assert_null(json_object_get(json_array_get(f->out, 1), "stderr_tail"));
	join_tail(f->j, 42, "late", 300 * MS);	/* its exit is out: kept a while */
	join_tick(f->j, 300 * MS + JOIN_FORGET_NS + NSEC_PER_SEC);
	assert_int_equal(join_nprocs(f->j), 0);

	send_core(f, EV_SPAWN, "root/w", 43, 400 * MS);
	m = core(EV_EXIT, "root/w", 43, 401 * MS);
	m.tail = true;
	join_core(f->j, &m, 401 * MS);
	join_tail(f->j, 43, "", 402 * MS);
	assert_int_equal(json_array_size(f->out), 4);
	assert_null(json_object_get(json_array_get(f->out, 3), "stderr_tail"));
	fake_free(f);
}

/* labels: OBS_LABEL_* for a core event of path. */
static void
send_labelled(struct fake *f, enum event_kind k, const char *path, int pid,
    uint8_t labels, uint64_t t)
{
	struct obs_msg m = core(k, path, pid, t);

	m.labels = labels;
	m.exit.reason = EXIT_CRASH;
	join_core(f->j, &m, t);
}

/*
 * A pool's children count under the supervisor: up is added and taken back
 * once per child (an exit twice is no second -1), their restarts and exits
 * added there; a static worker's histograms go to its supervisor's.
 */
static void
pooled_children_and_supervisor_histograms(void **state)
{
	struct fake *f = fake_new(false);
	const uint8_t pool = OBS_LABEL_POOLED | OBS_LABEL_HIST_PARENT;
	char want[1024];

	(void)state;
	send_labelled(f, EV_SPAWN, "root/pool/job.1", 11, pool, 1 * MS);
	send_labelled(f, EV_READY, "root/pool/job.1", 11, pool, 2 * MS);
	send_labelled(f, EV_READY, "root/pool/job.1", 11, pool, 3 * MS);
	send_labelled(f, EV_SPAWN, "root/pool/job.2", 12, pool, 4 * MS);
	send_labelled(f, EV_READY, "root/pool/job.2", 12, pool, 5 * MS);
	send_labelled(f, EV_EXIT, "root/pool/job.1", 11, pool, 6 * MS);
	send_labelled(f, EV_EXIT, "root/pool/job.1", 11, pool, 7 * MS);
	send_labelled(f, EV_RESTART, "root/pool/job.1", 0, pool, 8 * MS);
	snprintf(want, sizeof(want),
	    "add %d root/pool - 1; observe %d root/pool 0.001; "
	    "observe %d root/pool 0.002; "
	    "add %d root/pool - 1; observe %d root/pool 0.001; "
	    "add %d root/pool - -1; add %d root/pool crash 1; "
	    "add %d root/pool crash 1; add %d root/pool - 1; ",
	    M_CHILD_UP, M_READY_LATENCY, M_READY_LATENCY, M_CHILD_UP,
	    M_READY_LATENCY, M_CHILD_UP, M_CHILD_EXITS, M_CHILD_EXITS,
	    M_CHILD_RESTARTS);
	assert_string_equal(f->log, want);
	f->log[0] = 0;
	send_labelled(f, EV_SPAWN, "root/w", 21, OBS_LABEL_HIST_PARENT, 10 * MS);
	send_labelled(f, EV_READY, "root/w", 21, OBS_LABEL_HIST_PARENT, 12 * MS);
	snprintf(want, sizeof(want), "observe %d root 0.002; ", M_READY_LATENCY);
	assert_string_equal(f->log, want);
	fake_free(f);
}

/*
 * A restart of a worker with held sockets waits for its backlog's peak:
 * until the replacement is ready and the queue drained, and later events
 * keep their order behind it; another worker's restart does not wait.
 */
static void
a_restart_carries_its_backlog_peak(void **state)
{
	struct fake *f = fake_new(false);

	(void)state;
	send_core(f, EV_RESTART, "root/other", 0, 1 * MS);
	assert_int_equal(json_array_size(f->out), 1);
	assert_int_equal(field(f, 0, "backlog_peak"), -1);
	send_core(f, EV_RESTART, "root/web", 0, 2 * MS);
	assert_true(join_backlog_wanted(f->j));
	/* Not sampled in the gap itself: the queue only grows there. */
	assert_int_equal(join_backlog_period_ms(f->j), -1);
	send_core(f, EV_SPAWN, "root/web", 7, 3 * MS);
	assert_int_equal(join_backlog_period_ms(f->j), 1);
	assert_int_equal(json_array_size(f->out), 1);	/* held, and behind it */
	join_backlog(f->j, "root/web", 3, 4 * MS);
	join_backlog(f->j, "root/web", 5, 5 * MS);
	join_backlog(f->j, "root/web", 0, 6 * MS);	/* not ready yet */
	assert_int_equal(json_array_size(f->out), 1);
	send_core(f, EV_READY, "root/web", 7, 7 * MS);
	join_backlog(f->j, "root/web", 2, 8 * MS);	/* still draining */
	assert_int_equal(json_array_size(f->out), 1);
	join_backlog(f->j, "root/web", 0, 9 * MS);
	assert_false(join_backlog_wanted(f->j));
	assert_int_equal(json_array_size(f->out), 4);
	assert_string_equal(kind(f, 1), "restart");
	assert_int_equal(field(f, 1, "backlog_peak"), 5);
	assert_string_equal(kind(f, 2), "spawn");
	assert_string_equal(kind(f, 3), "ready");
	fake_free(f);
}

/* A replacement that never comes: the restart goes out after the bound. */
static void
a_held_restart_goes_out_after_its_bound(void **state)
{
	struct fake *f = fake_new(false);

	(void)state;
	send_core(f, EV_RESTART, "root/web", 0, 1 * MS);
	join_backlog(f->j, "root/web", 4, 2 * MS);
	join_tick(f->j, 1 * MS + JOIN_BACKLOG_WAIT_NS - 1);
	assert_int_equal(json_array_size(f->out), 0);
	join_tick(f->j, 1 * MS + JOIN_BACKLOG_WAIT_NS);
	assert_int_equal(json_array_size(f->out), 1);
	assert_int_equal(field(f, 0, "backlog_peak"), 4);
	/* A replacement spawned late (a slow backoff, a slow machine) is
	 * waited for JOIN_BACKLOG_WAIT_NS from its spawn. */
	send_core(f, EV_RESTART, "root/web", 0, 1000 * MS);
	send_core(f, EV_SPAWN, "root/web", 8, 1900 * MS);
	join_tick(f->j, 1000 * MS + JOIN_BACKLOG_WAIT_NS + 1);
	assert_int_equal(json_array_size(f->out), 1);
	join_backlog(f->j, "root/web", 6, 2500 * MS);
	join_tick(f->j, 1900 * MS + JOIN_BACKLOG_WAIT_NS);
	assert_int_equal(json_array_size(f->out), 3);
	assert_int_equal(field(f, 1, "backlog_peak"), 6);
	/* Removed while one is held: out first, then the removal. */
	send_core(f, EV_RESTART, "root/web", 0, 2000 * MS);
	send_core(f, EV_CHILD_REMOVED, "root/web", 0, 2001 * MS);
	assert_int_equal(json_array_size(f->out), 5);
	assert_string_equal(kind(f, 3), "restart");
	assert_string_equal(kind(f, 4), "child_removed");
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exit_joined_with_its_kernel_record),
		cmocka_unit_test(the_oldest_event_not_out_holds_the_queue),
		cmocka_unit_test(an_exit_of_an_earlier_process_of_the_pid_is_not_joined),
		cmocka_unit_test(kernel_record_first_joins_at_once),
		cmocka_unit_test(restart_latency_from_kernel_exit_to_kernel_exec),
		cmocka_unit_test(core_event_waits_at_most_the_join_window_then_goes_alone),
		cmocka_unit_test(a_reused_pid_never_holds_the_stream),
		cmocka_unit_test(order_is_kept_behind_a_waiting_event),
		cmocka_unit_test(without_the_kernel_side_events_go_out_at_once),
		cmocka_unit_test(entries_are_bounded_and_kernel_only_ones_forgotten),
		cmocka_unit_test(removed_child_is_forgotten),
		cmocka_unit_test(spawned_before_attach_is_tracked),
		cmocka_unit_test(exit_waits_for_its_stderr_tail_from_either_side),
		cmocka_unit_test(missing_or_empty_tail_never_holds_an_exit_long),
		cmocka_unit_test(restart_latency_while_the_exit_waits_for_its_tail),
		cmocka_unit_test(pooled_children_and_supervisor_histograms),
		cmocka_unit_test(a_restart_carries_its_backlog_peak),
		cmocka_unit_test(a_held_restart_goes_out_after_its_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
