/* SPDX-License-Identifier: BSD-2-Clause */
/* The registry's text exposition: escaping, histograms, forgetting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exporters/metrics.h"

static char *
format(struct registry *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	registry_format(r, f);
	fclose(f);
	return text;
}

static void
label_values_are_escaped(void **state)
{
	struct registry *r = registry_new();
	char *t;

	(void)state;
	reg_set(r, M_CHILD_UP, "odd\"path\\with\nnewline", NULL, 1);
	t = format(r);
	assert_non_null(strstr(t, "arbor_child_up{path=\"odd\\\"path\\\\with\\nnewline\"} 1\n"));
	free(t);
	registry_free(r);
}

/* Values as short as they can be and still read back exactly. */
static void
values_are_short_and_exact(void **state)
{
	struct registry *r = registry_new();
	double third = 0.1 + 0.2;
	char *t;

	(void)state;
	reg_set(r, M_CHILD_CPU, "a", "user", 0.003325);
	reg_set(r, M_CHILD_CPU, "b", "user", third);
	reg_set(r, M_CHILD_MEMORY, "a", NULL, 123456789012.0);
	t = format(r);
	assert_non_null(strstr(t, "{path=\"a\",mode=\"user\"} 0.003325\n"));
	assert_non_null(strstr(t, "{path=\"b\",mode=\"user\"} 0.30000000000000004\n"));
	assert_non_null(strstr(t, "arbor_child_memory_bytes{path=\"a\"} 123456789012\n"));
	free(t);
	registry_free(r);
}

/* Pooled runs: reg_clear then reg_add_log2 sums histograms into one. */
static void
log2_histograms_sum_after_a_clear(void **state)
{
	struct registry *r = registry_new();
	uint64_t a[32] = { [3] = 2 }, b[32] = { [3] = 1, [5] = 4 };
	char *t;

	(void)state;
	reg_set_log2(r, M_RUNQ_LATENCY, "root", a, 32);
	reg_clear(r, M_RUNQ_LATENCY);
	reg_add_log2(r, M_RUNQ_LATENCY, "root", a, 32);
	reg_add_log2(r, M_RUNQ_LATENCY, "root", b, 32);
	t = format(r);
	assert_non_null(strstr(t, "arbor_runqueue_latency_seconds_count{path=\"root\"} 7\n"));
	/* le 16 ns holds slot 3 (8-16 ns): 2 + 1 */
	assert_non_null(strstr(t, "arbor_runqueue_latency_seconds_bucket{path=\"root\",le=\"1.6e-08\"} 3\n"));
	free(t);
	registry_free(r);
}

static void
every_family_has_help_and_type(void **state)
{
	struct registry *r = registry_new();
	char *t;

	(void)state;
	t = format(r);
	assert_non_null(strstr(t, "# HELP arbor_child_restarts_total "));
	assert_non_null(strstr(t, "# TYPE arbor_child_restarts_total counter\n"));
	assert_non_null(strstr(t, "# TYPE arbor_restart_latency_seconds histogram\n"));
	assert_non_null(strstr(t, "# TYPE process_open_fds gauge\n"));
	free(t);
	registry_free(r);
}

static void
histogram_buckets_are_cumulative_from_us_to_a_minute(void **state)
{
	struct registry *r = registry_new();
	char *t;

	(void)state;
	reg_observe(r, M_RESTART_LATENCY, "root/w", 0.0007);
	reg_observe(r, M_RESTART_LATENCY, "root/w", 2.0);
	t = format(r);
	assert_non_null(strstr(t, "arbor_restart_latency_seconds_bucket{path=\"root/w\",le=\"1e-06\"} 0\n"));
	assert_non_null(strstr(t, "arbor_restart_latency_seconds_bucket{path=\"root/w\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(t, "arbor_restart_latency_seconds_bucket{path=\"root/w\",le=\"60\"} 2\n"));
	assert_non_null(strstr(t, "arbor_restart_latency_seconds_bucket{path=\"root/w\",le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(t, "arbor_restart_latency_seconds_count{path=\"root/w\"} 2\n"));
	assert_non_null(strstr(t, "arbor_restart_latency_seconds_sum{path=\"root/w\"} 2.0007\n"));
	free(t);
	registry_free(r);
}

static void
log2_histograms_from_the_kernel(void **state)
{
	struct registry *r = registry_new();
	uint64_t slots[32] = { 0 };
	char *t;

	(void)state;
	slots[10] = 3;	/* [1024, 2048) ns */
	slots[20] = 1;	/* about 1 ms */
	reg_set_log2(r, M_RUNQ_LATENCY, "root/w", slots, 32);
	t = format(r);
	assert_non_null(strstr(t, "arbor_runqueue_latency_seconds_bucket{path=\"root/w\",le=\"2.048e-06\"} 3\n"));
	assert_non_null(strstr(t, "arbor_runqueue_latency_seconds_bucket{path=\"root/w\",le=\"+Inf\"} 4\n"));
	free(t);
	registry_free(r);
}

static void
forgotten_paths_leave_no_series(void **state)
{
	struct registry *r = registry_new();
	char *t;

	(void)state;
	reg_add(r, M_CHILD_EXITS, "root/pool/child.1", "crash", 1);
	reg_set(r, M_CHILD_UP, "root/pool/child.1", NULL, 0);
	reg_set(r, M_CHILD_UP, "root/keep", NULL, 1);
	reg_forget(r, "root/pool/child.1");
	t = format(r);
	assert_null(strstr(t, "child.1"));
	assert_non_null(strstr(t, "root/keep"));
	free(t);
	registry_free(r);
}

/* 10,000 paths: every update finds its own series, before and after
 * half of them are forgotten and the index has grown many times. */
static void
many_paths_keep_their_own_series(void **state)
{
	struct registry *r = registry_new();
	char path[64], want[128], *t;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "root/pool/w%d", i);
		reg_add(r, M_CHILD_RESTARTS, path, NULL, i);
		reg_add(r, M_CHILD_EXITS, path, "crash", 1);
		reg_add(r, M_CHILD_EXITS, path, "normal", 2);
	}
	for (int i = 0; i < 10000; i += 2) {
		snprintf(path, sizeof(path), "root/pool/w%d", i);
		reg_forget(r, path);
	}
	for (int i = 1; i < 10000; i += 2) {
		snprintf(path, sizeof(path), "root/pool/w%d", i);
		reg_add(r, M_CHILD_RESTARTS, path, NULL, 1);
		reg_add(r, M_CHILD_EXITS, path, "crash", 1);
	}
	t = format(r);
	assert_null(strstr(t, "path=\"root/pool/w9998\""));
	assert_non_null(strstr(t, "arbor_child_restarts_total{path=\"root/pool/w9999\"} 10000\n"));
	assert_non_null(strstr(t, "arbor_child_restarts_total{path=\"root/pool/w1\"} 2\n"));
	snprintf(want, sizeof(want), "arbor_child_exits_total{path=\"root/pool/w777\",reason=\"crash\"} 2\n");
	assert_non_null(strstr(t, want));
	snprintf(want, sizeof(want), "arbor_child_exits_total{path=\"root/pool/w777\",reason=\"normal\"} 2\n");
	assert_non_null(strstr(t, want));
	free(t);
	registry_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(values_are_short_and_exact),
		cmocka_unit_test(log2_histograms_sum_after_a_clear),
		cmocka_unit_test(every_family_has_help_and_type),
		cmocka_unit_test(histogram_buckets_are_cumulative_from_us_to_a_minute),
		cmocka_unit_test(log2_histograms_from_the_kernel),
		cmocka_unit_test(forgotten_paths_leave_no_series),
		cmocka_unit_test(many_paths_keep_their_own_series),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
