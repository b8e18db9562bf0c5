/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * OTP's rules (arbord(8)) one by one, against the pure engine with a fake clock and fake
 * processes. Test names say the behaviour, after OTP's supervisor_SUITE.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "daemon/util.h"

#define assert_log(f, prefix, expected) do {				\
		char *got_ = fake_take((f), (prefix));			\
		assert_string_equal(got_, (expected));			\
		free(got_);						\
	} while (0)

#define W(name, extra) "{ name = \"" name "\"; command = [\"/bin/true\"]; " extra " }"

static void
start_in_list_order(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "); };");

	(void)state;
	assert_log(f, "spawn", "spawn root/a 1001; spawn root/b 1002; spawn root/c 1003");
	assert_string_equal(state_of(f, "root"), "running");
	fake_free(f);
}

/* Counts "spawn" lines in what f logged since the last take. */
static size_t
spawns_taken(struct fake *f)
{
	char *got = fake_take(f, "spawn");
	size_t n = 0;

	for (const char *p = got; (p = strstr(p, "spawn ")); p++)
		n++;
	free(got);
	return n;
}

/*
 * A start of many goes on over several of the loop's batches (32 spawns
 * each), so arbord answers, reaps and restarts in between; in order, and
 * the supervisor is running only once the last is.
 */
static void
a_large_start_yields_to_the_loop_between_batches(void **state)
{
	char conf[32768] = "tree = { strategy = \"one_for_one\"; children = (";
	struct fake *f;

	(void)state;
	for (int i = 0; i < 100; i++) {
		char w[96];

		snprintf(w, sizeof(w), "%s{ name = \"w%d\"; command = [\"/bin/true\"]; }",
		    i ? "," : "", i);
		strcat(conf, w);
	}
	strcat(conf, "); };");
	f = fake_new(conf);
	assert_int_equal(spawns_taken(f), 32);
	assert_false(engine_started(f->eng));
	assert_string_equal(state_of(f, "root"), "running");	/* SPEC: no starting */
	assert_string_equal(state_of(f, "root/w31"), "running");
	assert_string_equal(state_of(f, "root/w32"), "stopped");
	assert_int_equal(engine_next_deadline(f->eng), 1);	/* at once */
	/* An exit between two batches is taken in its own, with the next 31. */
	fake_exit(f, "root/w3", 1, 0);
	assert_int_equal(spawns_taken(f), 32);
	assert_string_equal(state_of(f, "root/w3"), "running");
	assert_int_equal(enode_restarts(node(f, "root/w3")), 1);
	assert_string_equal(state_of(f, "root/w62"), "running");
	assert_string_equal(state_of(f, "root/w63"), "stopped");
	assert_false(engine_started(f->eng));
	fake_advance(f, 0);	/* the batches due at once: the rest */
	assert_int_equal(spawns_taken(f), 37);
	assert_true(engine_started(f->eng));
	assert_string_equal(state_of(f, "root/w99"), "running");
	assert_true(engine_next_deadline(f->eng) != 1);
	fake_free(f);
}

/* root { pool { n workers }, b { x } }, x with extra keys. */
static char *
pool_then_b(int n, const char *x_extra)
{
	char *conf = xcalloc(1, 64 + (size_t)n * 64 + 256);

	strcat(conf, "tree = { strategy = \"one_for_one\"; children = (");
	if (n > 0) {
		strcat(conf, "{ name = \"pool\"; strategy = \"one_for_one\"; children = (");
		for (int i = 0; i < n; i++)
			sprintf(conf + strlen(conf), "%s{ name = \"w%d\"; command = [\"/bin/true\"]; }",
			    i ? "," : "", i);
		strcat(conf, "); },");
	}
	sprintf(conf + strlen(conf), "{ name = \"b\"; strategy = \"one_for_one\"; children = ("
	    "{ name = \"x\"; command = [\"/bin/true\"]; %s }); }); };", x_extra);
	return conf;
}

/*
 * A worker of a running one_for_one elsewhere in the tree comes back at
 * once while a start of many goes on in steps, whether its exit shares a
 * batch with a step or its backoff ends during the start.
 */
static void
a_restart_elsewhere_does_not_wait_for_a_large_start(void **state)
{
	char *small = pool_then_b(0, ""), *big = pool_then_b(100, "");
	struct fake *f = fake_new(small);
	struct reload_summary sum;
	const char *why = NULL;
	pid_t old;

	(void)state;
	assert_int_equal(fake_reload(f, big, &sum, &why), 0);	/* pool first */
	reload_summary_free(&sum);
	assert_string_equal(state_of(f, "root/pool/w32"), "stopped");
	fake_clear(f);
	/* One batch: a step of the start, then x's exit. */
	engine_tick(f->eng, f->now);
	old = enode_pid(node(f, "root/b/x"));
	engine_exited(f->eng, node(f, "root/b/x"), 1, 0, f->now);
	engine_batch_done(f->eng);
	assert_string_equal(state_of(f, "root/b/x"), "running");
	assert_true(enode_pid(node(f, "root/b/x")) != old);
	assert_string_equal(state_of(f, "root/pool/w64"), "stopped");
	fake_free(f);
	free(small);
	free(big);

	small = pool_then_b(0, "restart_delay = 100;");
	big = pool_then_b(100, "restart_delay = 100;");
	f = fake_new(small);
	assert_int_equal(fake_reload(f, big, &sum, &why), 0);
	reload_summary_free(&sum);
	fake_exit(f, "root/b/x", 1, 0);
	assert_string_equal(state_of(f, "root/b/x"), "backoff");
	fake_clear(f);
	/* The backoff ends while the start still has steps to go: x first. */
	f->now += 100 * NSEC_PER_MSEC;
	engine_tick(f->eng, f->now);
	engine_batch_done(f->eng);
	{
		char *got = fake_take(f, "spawn");

		assert_true(strncmp(got, "spawn root/b/x ", 15) == 0);
		free(got);
	}
	assert_string_equal(state_of(f, "root/b/x"), "running");
	assert_string_equal(state_of(f, "root/pool/w62"), "running");
	assert_string_equal(state_of(f, "root/pool/w63"), "stopped");
	fake_free(f);
	free(small);
	free(big);
}

static void
start_gated_on_notify_ready(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("db", "ready = \"notify\";") "," W("app", "") "); };");

	(void)state;
	assert_log(f, "spawn", "spawn root/db 1001");
	assert_string_equal(state_of(f, "root/db"), "starting");
	assert_string_equal(state_of(f, "root/app"), "stopped");
	engine_ready(f->eng, node(f, "root/db"), f->now);
	assert_log(f, "spawn", "spawn root/app 1002");
	assert_string_equal(state_of(f, "root/db"), "running");
	fake_free(f);
}

static void
ready_timeout_is_a_crash(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("db", "ready = \"notify\"; ready_timeout = 500; shutdown = 100;") "); };");

	(void)state;
	fake_clear(f);
	fake_advance(f, 499);
	assert_log(f, "signal", "");
	fake_advance(f, 1);
	assert_log(f, "signal", "signal root/db 1001 TERM");
	fake_exit(f, "root/db", 0, SIGTERM);
	assert_int_equal(enode_last_exit(node(f, "root/db"))->reason, EXIT_CRASH);
	assert_int_equal(enode_last_exit(node(f, "root/db"))->cause, CAUSE_READY_TIMEOUT);
	assert_int_equal(pid_of(f, "root/db"), 1002);
	assert_int_equal(enode_restarts(node(f, "root/db")), 1);
	fake_free(f);
}

static void
permanent_restarted_after_any_exit(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 10; children = ("
	    W("a", "") "); };");

	(void)state;
	fake_exit(f, "root/a", 0, 0);
	assert_int_equal(pid_of(f, "root/a"), 1002);
	fake_exit(f, "root/a", 1, 0);
	assert_int_equal(pid_of(f, "root/a"), 1003);
	fake_exit(f, "root/a", -1, SIGSEGV);
	assert_int_equal(pid_of(f, "root/a"), 1004);
	assert_int_equal(enode_restarts(node(f, "root/a")), 3);
	assert_int_equal(enode_last_exit(node(f, "root/a"))->signal, SIGSEGV);
	fake_free(f);
}

static void
transient_normal_exit_not_restarted(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "restart = \"transient\";") "); };");

	(void)state;
	fake_exit(f, "root/a", 0, 0);
	assert_string_equal(state_of(f, "root/a"), "stopped");
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_NORMAL);
	fake_free(f);
}

static void
transient_abnormal_restarted(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "restart = \"transient\";") "); };");

	(void)state;
	fake_exit(f, "root/a", 2, 0);
	assert_string_equal(state_of(f, "root/a"), "running");
	assert_int_equal(pid_of(f, "root/a"), 1002);
	fake_free(f);
}

static void
temporary_never_restarted(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "restart = \"temporary\";") "); };");

	(void)state;
	fake_exit(f, "root/a", -1, SIGKILL);
	assert_string_equal(state_of(f, "root/a"), "stopped");
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_CRASH);
	fake_free(f);
}

static void
success_exit_codes_count_as_normal(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "restart = \"transient\"; success_exit_codes = [3];") "); };");

	(void)state;
	fake_exit(f, "root/a", 3, 0);
	assert_string_equal(state_of(f, "root/a"), "stopped");
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_NORMAL);
	engine_cmd_start(f->eng, node(f, "root/a"), f->now, &(const char *){ 0 });
	fake_exit(f, "root/a", 0, 0);	/* 0 is no longer in the list */
	assert_string_equal(state_of(f, "root/a"), "running");
	fake_free(f);
}

static void
one_for_one_restarts_only_the_crashed_child(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "); };");

	(void)state;
	fake_clear(f);
	fake_exit(f, "root/b", 1, 0);
	assert_log(f, "s", "spawn root/b 1004");
	assert_int_equal(pid_of(f, "root/a"), 1001);
	assert_int_equal(pid_of(f, "root/c"), 1003);
	fake_free(f);
}

static void
one_for_all_stops_in_reverse_and_starts_in_order(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_all\"; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "," W("d", "") "); };");

	(void)state;
	fake_clear(f);
	fake_exit(f, "root/b", 1, 0);
	/* Reverse order, one at a time: d first; c only once d is gone. */
	assert_log(f, "signal", "signal root/d 1004 TERM");
	fake_exit(f, "root/d", 0, SIGTERM);
	assert_log(f, "signal", "signal root/c 1003 TERM");
	fake_exit(f, "root/c", 0, SIGTERM);
	assert_log(f, "signal", "signal root/a 1001 TERM");
	fake_exit(f, "root/a", 0, SIGTERM);
	assert_log(f, "spawn", "spawn root/a 1005; spawn root/b 1006; spawn root/c 1007; spawn root/d 1008");
	assert_int_equal(enode_last_exit(node(f, "root/c"))->reason, EXIT_SHUTDOWN);
	assert_int_equal(enode_restarts(node(f, "root/a")), 1);
	fake_free(f);
}

static void
rest_for_one_restarts_exactly_the_later_siblings(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"rest_for_one\"; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "," W("d", "") "); };");

	(void)state;
	fake_clear(f);
	fake_exit(f, "root/b", 1, 0);
	assert_log(f, "signal", "signal root/d 1004 TERM");
	fake_exit(f, "root/d", 0, SIGTERM);
	assert_log(f, "signal", "signal root/c 1003 TERM");
	fake_exit(f, "root/c", 0, SIGTERM);
	assert_log(f, "s", "spawn root/b 1005; spawn root/c 1006; spawn root/d 1007");
	assert_int_equal(pid_of(f, "root/a"), 1001);
	assert_int_equal(enode_restarts(node(f, "root/a")), 0);
	fake_free(f);
}

static void
intensity_exceeded_root_gives_up_exit_3(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 2; period = 5; children = ("
	    W("a", "") "," W("b", "") "); };");

	(void)state;
	fake_exit(f, "root/a", 1, 0);
	fake_exit(f, "root/a", 1, 0);
	assert_int_equal(f->exit_code, -1);
	fake_clear(f);
	fake_exit(f, "root/a", 1, 0);	/* third restart within 5 s: give up */
	assert_log(f, "", "ev exit root/a crash; ev give_up root; ev stop root/b; signal root/b 1002 TERM");
	fake_exit(f, "root/b", 0, SIGTERM);
	assert_int_equal(f->exit_code, 3);
	assert_string_equal(state_of(f, "root"), "stopped");
	fake_free(f);
}

static void
sliding_window_forgets_old_restarts(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 2; period = 5; children = ("
	    W("a", "") "); };");

	(void)state;
	for (int i = 0; i < 50; i++) {
		fake_exit(f, "root/a", 1, 0);
		fake_advance(f, 2600);	/* at most 2 in any 5 s window */
	}
	assert_int_equal(f->exit_code, -1);
	assert_int_equal(enode_restarts(node(f, "root/a")), 50);
	fake_free(f);
}

static void
intensity_zero_gives_up_on_first_restart(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 0; children = ("
	    W("a", "") "); };");

	(void)state;
	fake_exit(f, "root/a", 1, 0);
	assert_int_equal(f->exit_code, 3);
	fake_free(f);
}

static void
one_for_all_round_counts_once(void **state)
{
	/* intensity 1: one round is allowed, whatever the number of children. */
	struct fake *f = fake_new("tree = { strategy = \"one_for_all\"; intensity = 1; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "); };");

	(void)state;
	fake_exit(f, "root/a", 1, 0);
	fake_exit(f, "root/c", 0, SIGTERM);
	fake_exit(f, "root/b", 0, SIGTERM);
	assert_int_equal(f->exit_code, -1);
	assert_string_equal(state_of(f, "root/c"), "running");
	assert_int_equal(pid_of(f, "root/c"), 1006);
	fake_free(f);
}

static void
sibling_dying_during_group_restart_is_absorbed(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_all\"; intensity = 1; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "); };");

	(void)state;
	fake_exit(f, "root/a", 1, 0);		/* round 1: c is being stopped */
	fake_exit(f, "root/b", 1, 0);		/* b crashes before its turn */
	fake_exit(f, "root/c", 0, SIGTERM);
	assert_int_equal(f->exit_code, -1);	/* still one decision */
	assert_string_equal(state_of(f, "root/b"), "running");
	fake_free(f);
}

#define NESTED \
	"tree = { strategy = \"one_for_one\"; intensity = 5; children = (" \
	"  { name = \"left\"; strategy = \"one_for_one\"; intensity = 2; period = 10; children = (" \
	W("loop", "") "," W("calm", "") "); }," \
	"  { name = \"right\"; strategy = \"one_for_one\"; children = (" W("x", "") "); }" \
	"); };"

/* One exit that restarts its siblings is one cascade: each event of the
 * workers it took carries its id, and it ends when the last is ready. */
static void
a_group_restart_is_one_cascade_ending_at_the_last_ready(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_all\"; children = ("
	    W("a", "") "," W("b", "") "," W("c", "") "); };");
	char *got;

	(void)state;
	free(fake_cascades(f));
	fake_exit(f, "root/b", 1, 0);
	fake_exit(f, "root/c", 0, SIGTERM);
	got = fake_cascades(f);
	assert_string_equal(got, "restart root/b #1; restart root/a #1; "
	    "restart root/c #1; stop root/c #1; exit root/c #1; stop root/a #1");
	free(got);
	fake_exit(f, "root/a", 0, SIGTERM);
	got = fake_cascades(f);
	assert_string_equal(got, "exit root/a #1; spawn root/a #1; exec root/a #1; "
	    "ready root/a #1; spawn root/b #1; exec root/b #1; ready root/b #1; "
	    "spawn root/c #1; exec root/c #1; ready root/c #1; "
	    "cascade root/b #1 3/3 last=root/c");
	free(got);
	/* Over: the next exit is a new cascade, and nothing holds the old. */
	fake_exit(f, "root/a", 1, 0);
	got = fake_cascades(f);
	assert_non_null(strstr(got, "restart root/a #2"));
	free(got);
	fake_free(f);
}

/* A one_for_one restart of the child alone is no cascade. */
static void
a_lone_restart_is_no_cascade(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "") "," W("b", "") "); };");
	char *got;

	(void)state;
	fake_exit(f, "root/a", 1, 0);
	got = fake_cascades(f);
	assert_string_equal(got, "");
	free(got);
	assert_string_equal(state_of(f, "root/a"), "running");
	fake_free(f);
}

/* An escalation is one cascade: the exit that made left give up caused
 * left's restart by root and both its workers' (right is not in it). */
static void
an_escalation_is_one_cascade_from_the_first_exit(void **state)
{
	struct fake *f = fake_new(NESTED);
	char *got;

	(void)state;
	fake_exit(f, "root/left/loop", 1, 0);
	fake_exit(f, "root/left/loop", 1, 0);
	free(fake_cascades(f));
	fake_exit(f, "root/left/loop", 1, 0);	/* left gives up */
	fake_exit(f, "root/left/calm", 0, SIGTERM);
	assert_string_equal(state_of(f, "root/left"), "running");
	got = fake_cascades(f);
	assert_non_null(strstr(got, "restart root/left #"));
	assert_non_null(strstr(got, "ready root/left/calm #"));
	assert_non_null(strstr(got, "ready root/left/loop #"));
	assert_null(strstr(got, "root/right"));
	assert_non_null(strstr(got, "cascade root/left/loop #"));
	assert_non_null(strstr(got, " 2/2 last=root/left/"));
	free(got);
	fake_free(f);
}

/* A worker of a cascade stopped by command is not waited for. */
static void
a_cascade_does_not_wait_for_a_stopped_worker(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"rest_for_one\"; children = ("
	    W("a", "") "," W("b", "ready = \"notify\";") "); };");
	const char *why;
	char *got;

	(void)state;
	engine_ready(f->eng, node(f, "root/b"), f->now);
	free(fake_cascades(f));
	fake_exit(f, "root/a", 1, 0);
	fake_exit(f, "root/b", 0, SIGTERM);
	/* a is ready (exec), b is started and not ready yet: stop it. */
	assert_int_equal(engine_cmd_stop(f->eng, node(f, "root/b"), f->now, &why), 0);
	fake_exit(f, "root/b", 0, SIGTERM);
	got = fake_cascades(f);
	assert_non_null(strstr(got, "cascade root/a #1 1/2 last=root/b"));
	free(got);
	fake_free(f);
}

static void
crash_loop_escalates_and_parent_restarts_subtree_fresh(void **state)
{
	struct fake *f = fake_new(NESTED);
	int right_pid = pid_of(f, "root/right/x");

	(void)state;
	fake_exit(f, "root/left/loop", 1, 0);
	fake_exit(f, "root/left/loop", 1, 0);
	fake_clear(f);
	fake_exit(f, "root/left/loop", 1, 0);	/* left gives up */
	assert_log(f, "ev give_up", "ev give_up root/left");
	assert_string_equal(state_of(f, "root/left"), "stopping");
	fake_exit(f, "root/left/calm", 0, SIGTERM);
	/* root restarted left: both children fresh, right untouched. */
	assert_string_equal(state_of(f, "root/left"), "running");
	assert_int_equal(enode_restarts(node(f, "root/left")), 1);
	assert_int_equal(enode_last_exit(node(f, "root/left"))->cause, CAUSE_GIVE_UP);
	assert_int_equal(pid_of(f, "root/right/x"), right_pid);
	assert_string_equal(state_of(f, "root/left/calm"), "running");
	/* Fresh counters: two more crashes are allowed again. */
	fake_exit(f, "root/left/loop", 1, 0);
	fake_exit(f, "root/left/loop", 1, 0);
	assert_string_equal(state_of(f, "root/left"), "running");
	assert_int_equal(f->exit_code, -1);
	fake_free(f);
}

static void
escalation_reaches_root_exit_3(void **state)
{
	struct fake *f = fake_new(
	    "tree = { strategy = \"one_for_one\"; intensity = 0; children = ("
	    "  { name = \"sub\"; strategy = \"one_for_one\"; intensity = 0; children = (" W("w", "") "); }"
	    "); };");

	(void)state;
	fake_exit(f, "root/sub/w", 1, 0);	/* sub gives up; root gives up */
	assert_int_equal(f->exit_code, 3);
	fake_free(f);
}

static void
transient_supervisor_restarted_after_give_up(void **state)
{
	struct fake *f = fake_new(
	    "tree = { strategy = \"one_for_one\"; children = ("
	    "  { name = \"sub\"; strategy = \"one_for_one\"; restart = \"transient\"; intensity = 0; children = (" W("w", "") "); }"
	    "); };");

	(void)state;
	fake_exit(f, "root/sub/w", 1, 0);
	assert_string_equal(state_of(f, "root/sub"), "running");
	assert_int_equal(pid_of(f, "root/sub/w"), 1002);
	fake_free(f);
}

static void
failed_start_is_a_crash_subject_to_intensity(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 3; children = ("
	    W("a", "") "," W("bad", "") "); };");

	(void)state;
	f->fail_spawn = "root/bad";
	fake_exit(f, "root/bad", 1, 0);		/* restart 1: spawn fails */
	assert_int_equal(f->spawns, 3);
	/* The failure is handled on the next tick, not in a loop. */
	assert_string_equal(state_of(f, "root/bad"), "starting");
	engine_tick(f->eng, f->now);		/* crash; restart 2 fails */
	assert_int_equal(enode_last_exit(node(f, "root/bad"))->cause, CAUSE_SPAWN_FAILED);
	assert_int_equal(enode_last_exit(node(f, "root/bad"))->err, ENOENT);
	assert_int_equal(f->spawns, 4);
	engine_tick(f->eng, f->now);		/* restart 3 fails */
	assert_int_equal(f->spawns, 5);
	assert_int_equal(f->exit_code, -1);
	engine_tick(f->eng, f->now);		/* a 4th restart: give up */
	assert_int_equal(f->spawns, 5);
	fake_exit(f, "root/a", 0, SIGTERM);
	assert_int_equal(f->exit_code, 3);
	fake_free(f);
}

static void
shutdown_stops_in_reverse_order_and_kills_after_timeout(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "shutdown = 100;") "," W("b", "shutdown = 2000; stop_signal = \"SIGINT\";") "); };");

	(void)state;
	fake_clear(f);
	engine_shutdown(f->eng, f->now);
	assert_log(f, "signal", "signal root/b 1002 INT");
	fake_advance(f, 1999);
	assert_log(f, "signal", "");
	fake_advance(f, 1);
	assert_log(f, "signal", "signal root/b 1002 KILL");
	fake_exit(f, "root/b", -1, SIGKILL);
	assert_log(f, "signal", "signal root/a 1001 TERM");
	fake_exit(f, "root/a", 0, 0);
	assert_int_equal(f->exit_code, 0);
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_SHUTDOWN);
	fake_free(f);
}

static void
brutal_kill_and_infinity(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "shutdown = \"infinity\";") "," W("b", "shutdown = \"brutal_kill\";") "); };");

	(void)state;
	fake_clear(f);
	engine_shutdown(f->eng, f->now);
	assert_log(f, "signal", "signal root/b 1002 KILL");
	fake_exit(f, "root/b", -1, SIGKILL);
	fake_advance(f, 3600 * 1000);
	assert_log(f, "signal", "signal root/a 1001 TERM");
	assert_string_equal(state_of(f, "root/a"), "stopping");
	fake_exit(f, "root/a", 0, 0);
	assert_int_equal(f->exit_code, 0);
	fake_free(f);
}

static void
nested_supervisor_stops_its_children_in_reverse(void **state)
{
	struct fake *f = fake_new(
	    "tree = { strategy = \"one_for_one\"; children = (" W("first", "") ","
	    "  { name = \"sub\"; strategy = \"one_for_one\"; children = (" W("x", "") "," W("y", "") "); }"
	    "); };");

	(void)state;
	fake_clear(f);
	engine_shutdown(f->eng, f->now);
	assert_log(f, "signal", "signal root/sub/y 1003 TERM");
	fake_exit(f, "root/sub/y", 0, SIGTERM);
	assert_log(f, "signal", "signal root/sub/x 1002 TERM");
	fake_exit(f, "root/sub/x", 0, SIGTERM);
	assert_log(f, "signal", "signal root/first 1001 TERM");
	fake_exit(f, "root/first", 0, SIGTERM);
	assert_int_equal(f->exit_code, 0);
	fake_free(f);
}

static void
supervisor_shutdown_timeout_kills_subtree(void **state)
{
	struct fake *f = fake_new(
	    "tree = { strategy = \"one_for_one\"; children = ("
	    "  { name = \"sub\"; strategy = \"one_for_one\"; shutdown = 1000; children = ("
	    W("x", "shutdown = \"infinity\";") "); }); };");

	(void)state;
	fake_clear(f);
	engine_shutdown(f->eng, f->now);
	fake_advance(f, 1000);
	assert_log(f, "signal", "signal root/sub/x 1001 TERM; signal root/sub/x 1001 KILL");
	fake_exit(f, "root/sub/x", -1, SIGKILL);
	assert_int_equal(f->exit_code, 0);
	fake_free(f);
}

static void
exit_while_stopping_is_shutdown_not_restarted(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "") "); };");
	const char *why;

	(void)state;
	assert_int_equal(engine_cmd_stop(f->eng, node(f, "root/a"), f->now, &why), 0);
	fake_exit(f, "root/a", 1, 0);	/* its status does not matter */
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_SHUTDOWN);
	assert_string_equal(state_of(f, "root/a"), "stopped");
	fake_free(f);
}

static void
restart_delay_doubles_up_to_max_and_resets(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 100; period = 10; children = ("
	    W("a", "restart_delay = 100; restart_delay_max = 350;") "); };");
	const uint64_t expect[] = { 100, 200, 350, 350 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
		fake_exit(f, "root/a", 1, 0);
		assert_string_equal(state_of(f, "root/a"), "backoff");
		fake_advance(f, expect[i] - 1);
		assert_string_equal(state_of(f, "root/a"), "backoff");
		fake_advance(f, 1);
		assert_string_equal(state_of(f, "root/a"), "running");
	}
	fake_advance(f, 10 * 1000);	/* stable for a period: reset */
	fake_exit(f, "root/a", 1, 0);
	fake_advance(f, 100);
	assert_string_equal(state_of(f, "root/a"), "running");
	fake_free(f);
}

/*
 * The timers are a heap: 40 backoffs of as many lengths, armed in the
 * opposite order, end each at its own time, one stopped while it waits
 * ends never; the next deadline is always the earliest armed.
 */
static void
timers_fire_in_deadline_order_whatever_the_tree(void **state)
{
	char conf[8192] = "tree = { strategy = \"one_for_one\"; intensity = 1000; period = 1; children = (";
	char path[32];
	const char *why;
	uint64_t t0;

	(void)state;
	for (int i = 0; i < 40; i++)
		snprintf(conf + strlen(conf), sizeof(conf) - strlen(conf),
		    "%s{ name = \"w%d\"; command = [\"/bin/true\"]; restart_delay = %d; }",
		    i ? ", " : "", i, (40 - i) * 10);
	strcat(conf, "); };");
	struct fake *f = fake_new(conf);

	fake_advance(f, 0);	/* the start's second batch */
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "root/w%d", i);
		fake_exit(f, path, 1, 0);
	}
	t0 = f->now;
	assert_int_equal(engine_next_deadline(f->eng), t0 + 10 * NSEC_PER_MSEC);
	assert_int_equal(engine_cmd_stop(f->eng, node(f, "root/w20"), f->now, &why), 0);
	for (int step = 1; step <= 40; step++) {
		fake_advance(f, 10);
		for (int i = 0; i < 40; i++) {
			snprintf(path, sizeof(path), "root/w%d", i);
			assert_string_equal(state_of(f, path), i == 20 ? "stopped" :
			    (40 - i) <= step ? "running" : "backoff");
		}
		if (step < 40)
			assert_true(engine_next_deadline(f->eng) ==
			    t0 + (uint64_t)(step + (step == 19 ? 2 : 1)) * 10 * NSEC_PER_MSEC);
	}
	assert_int_equal(engine_next_deadline(f->eng), UINT64_MAX);
	fake_free(f);
}

static void
auto_shutdown_any_significant(void **state)
{
	struct fake *f = fake_new(
	    "tree = { strategy = \"one_for_one\"; children = ("
	    "  { name = \"job\"; strategy = \"one_for_one\"; restart = \"transient\"; auto_shutdown = \"any_significant\"; children = ("
	    W("main", "restart = \"transient\"; significant = true;") "," W("helper", "") "); }"
	    "); };");

	(void)state;
	fake_exit(f, "root/job/main", 0, 0);	/* done: job shuts down */
	assert_string_equal(state_of(f, "root/job"), "stopping");
	fake_exit(f, "root/job/helper", 0, SIGTERM);
	assert_string_equal(state_of(f, "root/job"), "stopped");
	assert_int_equal(enode_last_exit(node(f, "root/job"))->reason, EXIT_NORMAL);
	assert_int_equal(f->exit_code, -1);
	fake_free(f);
}

static void
auto_shutdown_all_significant(void **state)
{
	struct fake *f = fake_new(
	    "tree = { strategy = \"one_for_one\"; auto_shutdown = \"all_significant\"; children = ("
	    W("a", "restart = \"temporary\"; significant = true;") ","
	    W("b", "restart = \"temporary\"; significant = true;") "," W("c", "") "); };");

	(void)state;
	fake_exit(f, "root/a", 1, 0);
	assert_string_equal(state_of(f, "root"), "running");
	fake_exit(f, "root/b", 0, 0);
	assert_string_equal(state_of(f, "root"), "stopping");
	fake_exit(f, "root/c", 0, SIGTERM);
	assert_int_equal(f->exit_code, 0);
	fake_free(f);
}

#define POOL "tree = { strategy = \"one_for_one\"; children = (" \
	"  { name = \"pool\"; strategy = \"simple_one_for_one\"; intensity = 1; max_children = 2;" \
	"    template = { command = [\"/bin/true\", \"-x\"]; restart = \"transient\"; }; }" \
	"); };"

static void
simple_one_for_one_children_named_and_never_reused(void **state)
{
	struct fake *f = fake_new(POOL);
	char *const args[] = { "a1", NULL };
	const char *why = NULL;
	struct enode *c1, *c2;

	(void)state;
	assert_int_equal(enode_nchildren(node(f, "root/pool")), 0);
	c1 = engine_start_child(f->eng, node(f, "root/pool"), args, f->now, &why);
	assert_non_null(c1);
	assert_string_equal(enode_path(c1), "root/pool/child.1");
	assert_string_equal(enode_argv(c1)[1], "-x");
	assert_string_equal(enode_argv(c1)[2], "a1");
	c2 = engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why);
	assert_string_equal(enode_path(c2), "root/pool/child.2");
	assert_null(engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why));
	assert_string_equal(why, "max_children reached");
	/* transient, normal exit: removed; the number is not reused. */
	fake_exit(f, "root/pool/child.1", 0, 0);
	assert_int_equal(enode_nchildren(node(f, "root/pool")), 1);
	c1 = engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why);
	assert_string_equal(enode_path(c1), "root/pool/child.3");
	/* crash: restarted from the template with the same arguments. */
	fake_exit(f, "root/pool/child.3", 1, 0);
	assert_string_equal(state_of(f, "root/pool/child.3"), "running");
	fake_free(f);
}

static void
simple_one_for_one_restart_starts_empty(void **state)
{
	struct fake *f = fake_new(POOL);
	const char *why = NULL;

	(void)state;
	engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why);
	engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why);
	fake_exit(f, "root/pool/child.1", 1, 0);
	fake_exit(f, "root/pool/child.1", 1, 0);	/* pool gives up */
	fake_exit(f, "root/pool/child.2", 0, SIGTERM);
	assert_string_equal(state_of(f, "root/pool"), "running");
	assert_int_equal(enode_nchildren(node(f, "root/pool")), 0);
	assert_int_equal(enode_restarts(node(f, "root/pool")), 1);
	fake_free(f);
}

static void
terminate_child_stops_and_removes(void **state)
{
	struct fake *f = fake_new(POOL);
	const char *why = NULL;
	struct enode *c;

	(void)state;
	c = engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why);
	fake_clear(f);
	assert_int_equal(engine_terminate_child(f->eng, c, f->now, &why), 0);
	assert_log(f, "signal", "signal root/pool/child.1 1001 TERM");
	fake_exit(f, "root/pool/child.1", 0, SIGTERM);
	assert_int_equal(enode_nchildren(node(f, "root/pool")), 0);
	assert_int_equal(engine_terminate_child(f->eng, node(f, "root/pool"), f->now, &why), -1);
	fake_free(f);
}

static void
stop_holds_until_start(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_all\"; children = ("
	    W("a", "") "," W("b", "") "); };");
	const char *why = NULL;

	(void)state;
	engine_cmd_stop(f->eng, node(f, "root/b"), f->now, &why);
	fake_exit(f, "root/b", 0, SIGTERM);
	/* a sibling's crash restarts the group, but b stays stopped */
	fake_exit(f, "root/a", 1, 0);
	assert_string_equal(state_of(f, "root/a"), "running");
	assert_string_equal(state_of(f, "root/b"), "stopped");
	assert_int_equal(engine_cmd_start(f->eng, node(f, "root/b"), f->now, &why), 0);
	assert_string_equal(state_of(f, "root/b"), "running");
	assert_int_equal(engine_cmd_start(f->eng, node(f, "root/b"), f->now, &why), -1);
	assert_string_equal(why, "already running");
	assert_int_equal(engine_cmd_stop(f->eng, node(f, "root"), f->now, &why), -1);
	fake_free(f);
}

static void
restart_command_counts_no_crash(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 0; children = ("
	    W("a", "") "); };");
	const char *why = NULL;

	(void)state;
	for (int i = 0; i < 5; i++) {
		int pid = pid_of(f, "root/a");

		assert_int_equal(engine_cmd_restart(f->eng, node(f, "root/a"), f->now, &why), 0);
		fake_exit(f, "root/a", 0, SIGTERM);
		assert_int_not_equal(pid_of(f, "root/a"), pid);
	}
	assert_int_equal(f->exit_code, -1);
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_SHUTDOWN);
	fake_free(f);
}

static void
signal_command_reaches_workers_only(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "") "); };");
	const char *why = NULL;

	(void)state;
	fake_clear(f);
	assert_int_equal(engine_cmd_signal(f->eng, node(f, "root/a"), SIGHUP, &why), 0);
	assert_log(f, "signal", "signal root/a 1001 HUP");
	assert_int_equal(engine_cmd_signal(f->eng, node(f, "root"), SIGHUP, &why), -1);
	assert_string_equal(why, "not a worker");
	fake_free(f);
}

static void
shutdown_during_backoff_needs_no_signal(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "restart_delay = 1000;") "); };");

	(void)state;
	fake_exit(f, "root/a", 1, 0);
	assert_string_equal(state_of(f, "root/a"), "backoff");
	fake_clear(f);
	engine_shutdown(f->eng, f->now);
	assert_log(f, "signal", "");
	assert_int_equal(f->exit_code, 0);
	assert_int_equal(engine_next_deadline(f->eng), UINT64_MAX);
	fake_free(f);
}

static void
hanging_restart_loop_stays_bounded(void **state)
{
	/* A million crashes cost no more state than one. */
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 5; period = 1; children = ("
	    W("a", "") "); };");

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		fake_exit(f, "root/a", 1, 0);
		f->now += 250 * NSEC_PER_MSEC;
		fake_clear(f);
	}
	assert_int_equal(f->exit_code, -1);
	assert_int_equal(enode_restarts(node(f, "root/a")), 1000000);
	fake_free(f);
}

static void
watchdog_miss_is_a_crash_sigabrt_then_sigkill(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("w", "ready = \"notify\"; watchdog = 1000; shutdown = 100;") "); };");

	(void)state;
	engine_ready(f->eng, node(f, "root/w"), f->now);
	fake_advance(f, 900);
	engine_watchdog(f->eng, node(f, "root/w"), f->now);	/* fed in time */
	fake_advance(f, 900);
	assert_string_equal(state_of(f, "root/w"), "running");
	fake_clear(f);
	fake_advance(f, 100);
	assert_log(f, "signal", "signal root/w 1001 ABRT");
	fake_advance(f, 100);
	assert_log(f, "signal", "signal root/w 1001 KILL");
	fake_exit(f, "root/w", -1, SIGKILL);
	assert_int_equal(enode_last_exit(node(f, "root/w"))->reason, EXIT_CRASH);
	assert_int_equal(enode_last_exit(node(f, "root/w"))->cause, CAUSE_WATCHDOG);
	assert_int_equal(pid_of(f, "root/w"), 1002);
	assert_int_equal(enode_restarts(node(f, "root/w")), 1);
	fake_free(f);
}

static void
watchdog_trigger_fails_at_once(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("w", "ready = \"notify\"; watchdog = 1000;") "); };");

	(void)state;
	engine_ready(f->eng, node(f, "root/w"), f->now);
	fake_clear(f);
	engine_watchdog_trigger(f->eng, node(f, "root/w"), f->now);
	assert_log(f, "signal", "signal root/w 1001 ABRT");
	fake_free(f);
}

static void
extend_timeout_moves_the_ready_deadline(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("w", "ready = \"notify\"; ready_timeout = 500;") "); };");

	(void)state;
	fake_advance(f, 400);
	engine_extend_timeout(f->eng, node(f, "root/w"), 1000000, f->now);
	fake_advance(f, 999);
	assert_string_equal(state_of(f, "root/w"), "starting");
	fake_clear(f);
	fake_advance(f, 1);
	assert_log(f, "signal", "signal root/w 1001 TERM");
	fake_free(f);
}

#define RELOAD_A "tree = { strategy = \"one_for_one\"; intensity = 2; children = (" \
	W("a", "") "," W("b", "") "," W("c", "stop_signal = \"INT\";") "," \
	"{ name = \"sub\"; strategy = \"one_for_one\"; children = (" W("x", "") "); }," \
	"{ name = \"pool\"; strategy = \"simple_one_for_one\"; template = { command = [\"/bin/true\"]; }; }" \
	"); };"

static void
reload_applies_the_difference(void **state)
{
	struct fake *f = fake_new(RELOAD_A);
	struct reload_summary sum;
	const char *why = NULL;
	char *s;
	int a = pid_of(f, "root/a"), x = pid_of(f, "root/sub/x");

	(void)state;
	engine_start_child(f->eng, node(f, "root/pool"), NULL, f->now, &why);
	fake_clear(f);
	/* b removed, c changed, d added after a, sub's intensity in place */
	assert_int_equal(fake_reload(f, "tree = { strategy = \"one_for_one\"; intensity = 2; children = ("
	    W("a", "") "," W("d", "") ","
	    "{ name = \"c\"; command = [\"/bin/true\", \"--new\"]; }, "
	    "{ name = \"sub\"; strategy = \"one_for_one\"; intensity = 9; children = (" W("x", "") "); },"
	    "{ name = \"pool\"; strategy = \"simple_one_for_one\"; template = { command = [\"/bin/true\"]; }; }"
	    "); };", &sum, &why), 0);
	s = joined(sum.added); assert_string_equal(s, "root/d"); free(s);
	s = joined(sum.removed); assert_string_equal(s, "root/b"); free(s);
	s = joined(sum.changed); assert_string_equal(s, "root/c"); free(s);
	s = joined(sum.updated); assert_string_equal(s, "root/sub"); free(s);
	reload_summary_free(&sum);
	/* c is stopped with its old stop_signal; b with its own */
	assert_log(f, "", "ev stop root/c; signal root/c 1003 INT; ev stop root/b; "
	    "signal root/b 1002 TERM; ev reload root; spawn root/d 1006; ev spawn root/d; ev exec root/d; ev ready root/d");
	fake_exit(f, "root/c", 0, SIGINT);
	assert_string_equal(enode_argv(node(f, "root/c"))[1], "--new");
	assert_int_equal(pid_of(f, "root/c"), 1007);
	assert_int_equal(enode_restarts(node(f, "root/c")), 0);
	fake_exit(f, "root/b", 0, SIGTERM);
	assert_null(engine_find(f->eng, "root/b"));
	/* unchanged children and dynamic ones keep running */
	assert_int_equal(pid_of(f, "root/a"), a);
	assert_int_equal(pid_of(f, "root/sub/x"), x);
	assert_int_equal(pid_of(f, "root/pool/child.1"), 1005);
	/* the order is the new spec's */
	assert_string_equal(enode_name(enode_child(node(f, "root"), 1)), "d");
	/* sub's new intensity holds: 9 restarts are allowed */
	for (int i = 0; i < 9; i++)
		fake_exit(f, "root/sub/x", 1, 0);
	assert_string_equal(state_of(f, "root/sub"), "running");
	assert_int_equal(enode_restarts(node(f, "root/sub")), 0);
	fake_free(f);
}

static void
reload_with_no_change_touches_nothing(void **state)
{
	struct fake *f = fake_new(RELOAD_A);
	struct reload_summary sum;
	const char *why = NULL;

	(void)state;
	fake_clear(f);
	assert_int_equal(fake_reload(f, RELOAD_A, &sum, &why), 0);
	assert_null(sum.added);
	assert_null(sum.removed);
	assert_null(sum.changed);
	assert_null(sum.updated);
	reload_summary_free(&sum);
	assert_log(f, "", "ev reload root");
	fake_free(f);
}

static void
reload_refuses_a_new_root_name(void **state)
{
	struct fake *f = fake_new(RELOAD_A);
	struct reload_summary sum;
	const char *why = NULL;

	(void)state;
	fake_clear(f);
	assert_int_equal(fake_reload(f, "tree = { name = \"other\"; strategy = \"one_for_one\"; };",
	    &sum, &why), -1);
	assert_string_equal(why, "the root's name cannot change on reload (restart arbord)");
	assert_log(f, "", "");
	assert_int_equal(pid_of(f, "root/a"), 1001);
	fake_free(f);
}

static void
reload_removes_a_subtree_in_reverse_order(void **state)
{
	struct fake *f = fake_new(RELOAD_A);
	struct reload_summary sum;
	const char *why = NULL;

	(void)state;
	fake_clear(f);
	assert_int_equal(fake_reload(f, "tree = { strategy = \"one_for_one\"; intensity = 2; children = ("
	    W("a", "") "," W("b", "") "," W("c", "stop_signal = \"INT\";") "); };", &sum, &why), 0);
	reload_summary_free(&sum);
	assert_log(f, "signal", "signal root/sub/x 1004 TERM");
	/* the removed subtree outlives the old spec until it has stopped */
	assert_string_equal(state_of(f, "root/sub"), "stopping");
	fake_exit(f, "root/sub/x", 0, SIGTERM);
	assert_null(engine_find(f->eng, "root/sub"));
	assert_null(engine_find(f->eng, "root/pool"));
	fake_free(f);
}

#define RELOAD_X_Y "tree = { strategy = \"one_for_one\"; intensity = 5; children = (" \
	W("x", "shutdown = 3000;") "," W("y", "") "); };"
#define RELOAD_Y "tree = { strategy = \"one_for_one\"; intensity = 5; children = (" \
	W("y", "") "); };"

/* A child re-added while it is still stopping is kept. */
static void
reload_readding_a_child_still_stopping_keeps_it(void **state)
{
	struct fake *f = fake_new(RELOAD_X_Y);
	struct reload_summary sum;
	const char *why = NULL;
	char *s;

	(void)state;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(fake_reload(f, RELOAD_Y, &sum, &why), 0);
		s = joined(sum.removed); assert_string_equal(s, "root/x"); free(s);
		reload_summary_free(&sum);
		assert_string_equal(state_of(f, "root/x"), "stopping");
		assert_true(enode_removing(node(f, "root/x")));
		assert_int_equal(fake_reload(f, RELOAD_X_Y, &sum, &why), 0);
		s = joined(sum.added); assert_string_equal(s, "root/x"); free(s);
		reload_summary_free(&sum);
		assert_false(enode_removing(node(f, "root/x")));
	}
	fake_clear(f);
	/* the old process ends: x starts again, per the config */
	fake_exit(f, "root/x", 0, SIGTERM);
	assert_log(f, "spawn", "spawn root/x 1003");
	assert_string_equal(state_of(f, "root/x"), "running");
	assert_int_equal(enode_nchildren(node(f, "root")), 2);
	/* and a later removal still removes it */
	assert_int_equal(fake_reload(f, RELOAD_Y, &sum, &why), 0);
	reload_summary_free(&sum);
	fake_exit(f, "root/x", 0, SIGTERM);
	assert_null(engine_find(f->eng, "root/x"));
	fake_free(f);
}

/* A command cannot bring back a child the config removed. */
static void
commands_refuse_a_child_being_removed(void **state)
{
	struct fake *f = fake_new(RELOAD_X_Y);
	struct reload_summary sum;
	const char *why = NULL;

	(void)state;
	assert_int_equal(fake_reload(f, RELOAD_Y, &sum, &why), 0);
	reload_summary_free(&sum);
	assert_int_equal(engine_cmd_restart(f->eng, node(f, "root/x"), f->now, &why), -1);
	assert_string_equal(why, "being removed (gone from the configuration)");
	assert_int_equal(engine_cmd_start(f->eng, node(f, "root/x"), f->now, &why), -1);
	fake_clear(f);
	fake_exit(f, "root/x", 0, SIGTERM);
	assert_log(f, "spawn", "");
	assert_null(engine_find(f->eng, "root/x"));
	fake_free(f);
}

/* A worker that becomes a supervisor: one node per path. */
static void
worker_becoming_supervisor_replaces_it_once_stopped(void **state)
{
	struct fake *f = fake_new(RELOAD_X_Y);
	struct reload_summary sum;
	const char *why = NULL;
	struct enode *x;

	(void)state;
	fake_clear(f);
	assert_int_equal(fake_reload(f, "tree = { strategy = \"one_for_one\"; intensity = 5; children = ("
	    "{ name = \"x\"; strategy = \"one_for_one\"; children = (" W("inner", "") "); },"
	    W("y", "") "); };", &sum, &why), 0);
	reload_summary_free(&sum);
	x = engine_find(f->eng, "root/x");
	assert_non_null(x);
	assert_true(enode_is_supervisor(x));
	assert_non_null(engine_find(f->eng, "root/x/inner"));
	/* the new x waits for the old one */
	assert_log(f, "spawn", "");
	/* root/x names the supervisor now: the old worker ends by its node */
	assert_int_equal(enode_nchildren(node(f, "root")), 3);
	for (size_t i = 0; i < enode_nchildren(node(f, "root")); i++) {
		struct enode *c = enode_child(node(f, "root"), i);

		if (enode_removing(c))
			engine_exited(f->eng, c, 0, SIGTERM, f->now);
	}
	assert_int_equal(enode_nchildren(node(f, "root")), 2);
	assert_log(f, "spawn", "spawn root/x/inner 1003");
	assert_string_equal(state_of(f, "root/x/inner"), "running");
	fake_free(f);
}

/* A restart of its supervisor does not bring a removed child back. */
static void
removed_child_stays_removed_when_its_supervisor_restarts(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 5; children = ("
	    "{ name = \"sub\"; strategy = \"one_for_all\"; children = ("
	    W("x", "shutdown = 3000;") "," W("y", "") "); }); };");
	struct reload_summary sum;
	const char *why = NULL;

	(void)state;
	assert_int_equal(fake_reload(f, "tree = { strategy = \"one_for_one\"; intensity = 5; children = ("
	    "{ name = \"sub\"; strategy = \"one_for_all\"; children = (" W("y", "") "); }); };",
	    &sum, &why), 0);
	reload_summary_free(&sum);
	assert_int_equal(engine_cmd_restart(f->eng, node(f, "root/sub"), f->now, &why), 0);
	fake_exit(f, "root/sub/y", 0, SIGTERM);
	fake_clear(f);
	fake_exit(f, "root/sub/x", 0, SIGTERM);
	assert_log(f, "spawn", "spawn root/sub/y 1003");
	assert_null(engine_find(f->eng, "root/sub/x"));
	assert_int_equal(enode_nchildren(node(f, "root/sub")), 1);
	fake_free(f);
}

/* Commands during shutdown say so. */
static void
commands_during_shutdown_say_so(void **state)
{
	struct fake *f = fake_new(RELOAD_X_Y);
	const char *why = NULL;

	(void)state;
	engine_shutdown(f->eng, f->now);
	assert_int_equal(engine_cmd_stop(f->eng, node(f, "root/x"), f->now, &why), -1);
	assert_string_equal(why, "arbord is shutting down");
	fake_free(f);
}

/* An EXTEND_TIMEOUT_USEC too large for ns saturates. */
static void
huge_extend_timeout_saturates(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "ready = \"notify\"; ready_timeout = 100;") "); };");

	(void)state;
	fake_clear(f);
	engine_extend_timeout(f->eng, node(f, "root/a"), 18446744073709552ULL, f->now);
	fake_advance(f, 1000);
	assert_string_equal(state_of(f, "root/a"), "starting");
	assert_log(f, "signal", "");
	engine_extend_timeout(f->eng, node(f, "root/a"), UINT64_MAX, f->now);
	fake_advance(f, 1000);
	assert_string_equal(state_of(f, "root/a"), "starting");
	fake_free(f);
}

/* The inputs a worker's state does not take change nothing (worker_takes). */
static void
inputs_a_state_does_not_take_are_no_ops(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("n", "ready = \"notify\"; ready_timeout = 100; watchdog = 50;") "," W("x", "") "); };");
	struct enode *n = node(f, "root/n"), *x = node(f, "root/x");

	(void)state;
	fake_clear(f);
	/* starting: no watchdog yet, neither a ping nor a trigger counts */
	engine_watchdog(f->eng, n, f->now);
	engine_watchdog_trigger(f->eng, n, f->now);
	assert_string_equal(state_of(f, "root/n"), "starting");
	assert_log(f, "", "");
	engine_ready(f->eng, n, f->now);
	assert_string_equal(state_of(f, "root/n"), "running");
	fake_clear(f);
	/* running: a second READY=1 and a late extension are no-ops */
	engine_ready(f->eng, n, f->now);
	engine_extend_timeout(f->eng, n, 1, f->now);
	assert_log(f, "", "");
	/* stopped (by command): an exit reported late changes nothing */
	engine_cmd_stop(f->eng, x, f->now, &(const char *){ NULL });
	fake_exit(f, "root/x", 0, SIGTERM);
	fake_clear(f);
	engine_exited(f->eng, x, 1, 0, f->now);
	engine_ready(f->eng, x, f->now);
	assert_log(f, "", "");
	assert_string_equal(state_of(f, "root/x"), "stopped");
	fake_free(f);
}

#define TCP_CHECK(extra) "health = { tcp = \"127.0.0.1:1\"; " extra " };"

static void
health(struct fake *f, const char *path, bool ok)
{
	engine_health(f->eng, node(f, path), ok, ok ? "fine" : "bad", 0, f->now);
}

static void
ready_health_gates_the_next_sibling(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "ready = \"health\"; " TCP_CHECK("")) ", " W("b", "") "); };");

	(void)state;
	assert_string_equal(state_of(f, "root/a"), "starting");
	assert_int_equal(pid_of(f, "root/b"), 0);
	fake_clear(f);
	/* Failures before the first pass only delay readiness: no event. */
	health(f, "root/a", false);
	health(f, "root/a", false);
	assert_log(f, "", "");
	assert_string_equal(state_of(f, "root/a"), "starting");
	health(f, "root/a", true);
	assert_log(f, "", "ev health root/a ok 0; ev ready root/a; spawn root/b 1002; ev spawn root/b; ev exec root/b; ev ready root/b");
	fake_free(f);
}

static void
ready_health_never_passing_is_a_ready_timeout(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "ready = \"health\"; ready_timeout = 500; " TCP_CHECK("")) "); };");

	(void)state;
	fake_advance(f, 400);
	health(f, "root/a", false);
	fake_clear(f);
	fake_advance(f, 100);
	assert_log(f, "signal", "signal root/a 1001 TERM");
	fake_exit(f, "root/a", -1, SIGTERM);
	assert_int_equal(enode_last_exit(node(f, "root/a"))->cause,
	    CAUSE_READY_TIMEOUT);
	fake_free(f);
}

static void
failures_in_a_row_are_an_unhealthy_crash(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "stop_signal = \"SIGINT\"; shutdown = 100; "
	    TCP_CHECK("failures = 3;")) "); };");
	struct health_view v;

	(void)state;
	fake_clear(f);
	health(f, "root/a", false);
	health(f, "root/a", false);
	health(f, "root/a", true);	/* a pass starts the count again */
	health(f, "root/a", false);
	health(f, "root/a", false);
	assert_log(f, "", "ev health root/a fail 1; ev health root/a fail 2 quiet; ev health root/a ok 0; ev health root/a fail 1; ev health root/a fail 2 quiet");
	assert_string_equal(state_of(f, "root/a"), "running");
	health(f, "root/a", false);
	assert_log(f, "", "ev health root/a fail 3 quiet; ev stop root/a; signal root/a 1001 INT");
	/* Results while it stops change nothing. */
	health(f, "root/a", false);
	assert_log(f, "", "");
	fake_advance(f, 100);
	assert_log(f, "signal", "signal root/a 1001 KILL");
	fake_exit(f, "root/a", -1, SIGKILL);
	assert_int_equal(enode_last_exit(node(f, "root/a"))->reason, EXIT_CRASH);
	assert_int_equal(enode_last_exit(node(f, "root/a"))->cause,
	    CAUSE_UNHEALTHY);
	assert_int_equal(enode_restarts(node(f, "root/a")), 1);
	assert_int_equal(pid_of(f, "root/a"), 1002);
	/* The new process starts with no result; the total stays. */
	enode_health(node(f, "root/a"), &v);
	assert_int_equal(v.result, -1);
	assert_int_equal(v.failures, 0);
	assert_int_equal(v.failures_total, 5);
	fake_free(f);
}

static void
start_period_failures_do_not_count(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", TCP_CHECK("failures = 1; start_period = 1000;")) ", "
	    W("b", TCP_CHECK("failures = 1; start_period = 1000;")) "); };");
	struct health_view v;

	(void)state;
	fake_clear(f);
	fake_advance(f, 500);
	health(f, "root/a", false);
	health(f, "root/b", false);
	assert_log(f, "", "");
	enode_health(node(f, "root/a"), &v);
	assert_int_equal(v.result, 0);	/* shown in status all the same */
	assert_string_equal(v.detail, "bad");
	/* A pass ends b's start period early, as Docker's does. */
	health(f, "root/b", true);
	health(f, "root/b", false);
	assert_log(f, "signal", "signal root/b 1002 TERM");
	fake_advance(f, 500);
	assert_string_equal(state_of(f, "root/a"), "running");
	health(f, "root/a", false);
	assert_log(f, "signal", "signal root/a 1001 TERM");
	fake_free(f);
}

static void
a_flapping_check_escalates_under_intensity(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 1; period = 10; children = ("
	    W("a", TCP_CHECK("failures = 1;")) "); };");

	(void)state;
	health(f, "root/a", true);
	health(f, "root/a", false);
	fake_exit(f, "root/a", -1, SIGTERM);
	assert_int_equal(enode_restarts(node(f, "root/a")), 1);
	fake_clear(f);
	health(f, "root/a", true);
	health(f, "root/a", false);
	fake_exit(f, "root/a", -1, SIGTERM);
	assert_log(f, "ev give_up", "ev give_up root");
	assert_int_equal(f->exit_code, 3);
	fake_free(f);
}

static void
checks_of_a_notify_worker_count_once_it_is_ready(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; children = ("
	    W("a", "ready = \"notify\"; " TCP_CHECK("failures = 1;")) "); };");

	(void)state;
	health(f, "root/a", false);
	assert_string_equal(state_of(f, "root/a"), "starting");
	engine_ready(f->eng, node(f, "root/a"), f->now);
	fake_clear(f);
	health(f, "root/a", false);
	assert_log(f, "signal", "signal root/a 1001 TERM");
	fake_free(f);
}

static void
restart_delay_jitter_spreads_the_delay(void **state)
{
	struct fake *f = fake_new("tree = { strategy = \"one_for_one\"; intensity = 100; children = ("
	    W("a", "restart_delay = 1000; restart_delay_jitter = 0.5;") "); };");

	(void)state;
	f->rand = 0;			/* the low end: 1000 * (1 - 0.5) */
	fake_clear(f);
	fake_exit(f, "root/a", 1, 0);
	assert_log(f, "ev restart", "ev restart root/a 500ms");
	fake_advance(f, 499);
	assert_int_equal(pid_of(f, "root/a"), 0);
	fake_advance(f, 1);
	assert_int_equal(pid_of(f, "root/a"), 1002);
	f->rand = UINT32_MAX;		/* the high end, just under 1500 */
	fake_exit(f, "root/a", 1, 0);
	assert_log(f, "ev restart", "ev restart root/a 1500ms");
	f->rand = 1U << 31;		/* the middle: the delay itself */
	fake_advance(f, 1500);
	fake_exit(f, "root/a", 1, 0);
	assert_log(f, "ev restart", "ev restart root/a 1000ms");
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(start_in_list_order),
		cmocka_unit_test(a_large_start_yields_to_the_loop_between_batches),
		cmocka_unit_test(a_restart_elsewhere_does_not_wait_for_a_large_start),
		cmocka_unit_test(start_gated_on_notify_ready),
		cmocka_unit_test(ready_timeout_is_a_crash),
		cmocka_unit_test(permanent_restarted_after_any_exit),
		cmocka_unit_test(transient_normal_exit_not_restarted),
		cmocka_unit_test(transient_abnormal_restarted),
		cmocka_unit_test(temporary_never_restarted),
		cmocka_unit_test(success_exit_codes_count_as_normal),
		cmocka_unit_test(one_for_one_restarts_only_the_crashed_child),
		cmocka_unit_test(one_for_all_stops_in_reverse_and_starts_in_order),
		cmocka_unit_test(a_group_restart_is_one_cascade_ending_at_the_last_ready),
		cmocka_unit_test(a_lone_restart_is_no_cascade),
		cmocka_unit_test(an_escalation_is_one_cascade_from_the_first_exit),
		cmocka_unit_test(a_cascade_does_not_wait_for_a_stopped_worker),
		cmocka_unit_test(rest_for_one_restarts_exactly_the_later_siblings),
		cmocka_unit_test(intensity_exceeded_root_gives_up_exit_3),
		cmocka_unit_test(sliding_window_forgets_old_restarts),
		cmocka_unit_test(intensity_zero_gives_up_on_first_restart),
		cmocka_unit_test(one_for_all_round_counts_once),
		cmocka_unit_test(sibling_dying_during_group_restart_is_absorbed),
		cmocka_unit_test(crash_loop_escalates_and_parent_restarts_subtree_fresh),
		cmocka_unit_test(escalation_reaches_root_exit_3),
		cmocka_unit_test(transient_supervisor_restarted_after_give_up),
		cmocka_unit_test(failed_start_is_a_crash_subject_to_intensity),
		cmocka_unit_test(shutdown_stops_in_reverse_order_and_kills_after_timeout),
		cmocka_unit_test(brutal_kill_and_infinity),
		cmocka_unit_test(nested_supervisor_stops_its_children_in_reverse),
		cmocka_unit_test(supervisor_shutdown_timeout_kills_subtree),
		cmocka_unit_test(exit_while_stopping_is_shutdown_not_restarted),
		cmocka_unit_test(restart_delay_doubles_up_to_max_and_resets),
		cmocka_unit_test(timers_fire_in_deadline_order_whatever_the_tree),
		cmocka_unit_test(auto_shutdown_any_significant),
		cmocka_unit_test(auto_shutdown_all_significant),
		cmocka_unit_test(simple_one_for_one_children_named_and_never_reused),
		cmocka_unit_test(simple_one_for_one_restart_starts_empty),
		cmocka_unit_test(terminate_child_stops_and_removes),
		cmocka_unit_test(stop_holds_until_start),
		cmocka_unit_test(restart_command_counts_no_crash),
		cmocka_unit_test(signal_command_reaches_workers_only),
		cmocka_unit_test(shutdown_during_backoff_needs_no_signal),
		cmocka_unit_test(hanging_restart_loop_stays_bounded),
		cmocka_unit_test(watchdog_miss_is_a_crash_sigabrt_then_sigkill),
		cmocka_unit_test(watchdog_trigger_fails_at_once),
		cmocka_unit_test(extend_timeout_moves_the_ready_deadline),
		cmocka_unit_test(reload_applies_the_difference),
		cmocka_unit_test(reload_readding_a_child_still_stopping_keeps_it),
		cmocka_unit_test(commands_refuse_a_child_being_removed),
		cmocka_unit_test(worker_becoming_supervisor_replaces_it_once_stopped),
		cmocka_unit_test(removed_child_stays_removed_when_its_supervisor_restarts),
		cmocka_unit_test(commands_during_shutdown_say_so),
		cmocka_unit_test(huge_extend_timeout_saturates),
		cmocka_unit_test(inputs_a_state_does_not_take_are_no_ops),
		cmocka_unit_test(reload_with_no_change_touches_nothing),
		cmocka_unit_test(reload_refuses_a_new_root_name),
		cmocka_unit_test(reload_removes_a_subtree_in_reverse_order),
		cmocka_unit_test(ready_health_gates_the_next_sibling),
		cmocka_unit_test(ready_health_never_passing_is_a_ready_timeout),
		cmocka_unit_test(failures_in_a_row_are_an_unhealthy_crash),
		cmocka_unit_test(start_period_failures_do_not_count),
		cmocka_unit_test(a_flapping_check_escalates_under_intensity),
		cmocka_unit_test(checks_of_a_notify_worker_count_once_it_is_ready),
		cmocka_unit_test(restart_delay_jitter_spreads_the_delay),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
