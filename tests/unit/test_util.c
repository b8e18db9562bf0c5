/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The indexes that keep per-event work from growing with the tree
 * (daemon/util.h): the timers' min-heap and the pid index, against a plain
 * array that is searched the slow way. And the status's JSON writer
 * (daemon/jw.h) against jansson, whose text clients and the observability
 * helper read. And the reservation of the low fd numbers while arbord opens
 * its own fds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/jw.h"
#include "daemon/util.h"

#define N 2000

struct timer {
	struct heap_link l;
	uint64_t key;		/* what the heap should hold; 0: not in it */
};

static uint64_t
next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Puts, moves and removes at random; the top is always the least key. */
static void
heap_top_is_always_the_earliest(void **state)
{
	static struct timer t[N];
	struct min_heap h = { 0 };
	uint64_t seed = 88172645463325252ULL;

	(void)state;
	for (int round = 0; round < 20 * N; round++) {
		struct timer *x = &t[next_random(&seed) % N];
		uint64_t least = UINT64_MAX;
		size_t in = 0;

		if (next_random(&seed) % 3) {
			x->key = 1 + next_random(&seed) % 100000;
			heap_put(&h, &x->l, x->key);
		} else {
			heap_remove(&h, &x->l);
			x->key = 0;
		}
		if (round % 97)
			continue;	/* the slow check now and then */
		for (int i = 0; i < N; i++)
			if (t[i].key) {
				in++;
				if (t[i].key < least)
					least = t[i].key;
			}
		assert_int_equal(h.n, in);
		if (in)
			assert_int_equal(heap_top(&h)->key, least);
	}
	/* Emptied from the top: in order, each once. */
	for (uint64_t last = 0; heap_top(&h);) {
		struct timer *x = container_of(heap_top(&h), struct timer, l);

		assert_true(x->key >= last);
		assert_int_equal(x->l.key, x->key);
		last = x->key;
		heap_remove(&h, &x->l);
		assert_int_equal(x->l.at, 0);
		x->key = 0;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(t[i].key, 0);
	heap_free(&h);
}

struct thing {
	struct pid_link l;
	bool in;
};

static struct thing *
find(const struct pid_index *x, int pid)
{
	for (struct pid_link *l = pid_index_bucket(x, pid); l; l = l->next)
		if (l->pid == pid)
			return container_of(l, struct thing, l);
	return NULL;
}

static void
pid_index_finds_what_is_in_it_only(void **state)
{
	static struct thing t[N];
	struct pid_index x = { 0 };
	uint64_t seed = 2463534242ULL;

	(void)state;
	for (int i = 0; i < N; i++) {
		t[i].l.pid = 1000 + 7 * i;
		pid_index_add(&x, &t[i].l);
		t[i].in = true;
	}
	for (int round = 0; round < 4 * N; round++) {
		struct thing *y = &t[next_random(&seed) % N];

		if (y->in)
			pid_index_del(&x, &y->l);
		else
			pid_index_add(&x, &y->l);
		y->in = !y->in;
	}
	for (int i = 0; i < N; i++) {
		assert_ptr_equal(find(&x, t[i].l.pid), t[i].in ? &t[i] : NULL);
		assert_null(find(&x, t[i].l.pid + 1));
	}
	pid_index_free(&x);
}

/* Strings with every byte a JSON text must escape, text that is not
 * UTF-8, reals whole and not: the same bytes as jansson's JSON_COMPACT. */
static void
json_writer_writes_what_jansson_writes(void **state)
{
	static const char *const texts[] = { "", "plain", "quote \" back \\",
	    "ctl \b\f\n\r\t \x01\x1f \x7f end", "slash / and caf\xc3\xa9",
	    "bad \xff\xfe utf-8 \xc3", "\xed\xa0\x80 surrogate", "\xe2\x82" };
	static const double reals[] = { 0, 1, 0.5, 12.345, 86400.001, 1e-7,
	    123456789.125, 3, 2.5e20, 1e100 };
	char *ctl = xcalloc(33, 1);
	struct jw w = { 0 };
	json_t *o = json_object(), *a = json_array(), *in = json_object();
	char *want, key[16];

	(void)state;
	for (int c = 1; c < 32; c++)
		ctl[c - 1] = (char)c;
	jw_obj(&w, NULL);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *copy = xstrdup(texts[i]);

		snprintf(key, sizeof(key), "s%zu", i);
		jw_str(&w, key, texts[i]);
		utf8_scrub(copy);
		json_object_set_new(o, key, json_string(copy));
		free(copy);
	}
	jw_str(&w, "ctl", ctl);
	json_object_set_new(o, "ctl", json_string(ctl));
	/* A key of its own that is not plain ASCII is escaped too. */
	jw_str(&w, "key \" \\ caf\xc3\xa9", "v");
	json_object_set_new(o, "key \" \\ caf\xc3\xa9", json_string("v"));
	jw_arr(&w, "reals");
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		jw_real(&w, NULL, reals[i]);
		json_array_append_new(a, json_real(reals[i]));
	}
	jw_end_arr(&w);
	json_object_set_new(o, "reals", a);
	jw_obj(&w, "in");
	jw_int(&w, "neg", -42);
	jw_bool(&w, "t", true);
	jw_bool(&w, "f", false);
	jw_null(&w, "n");
	jw_str(&w, "none", NULL);
	jw_arr(&w, "empty");
	jw_end_arr(&w);
	jw_end_obj(&w);
	json_object_set_new(in, "neg", json_integer(-42));
	json_object_set_new(in, "t", json_true());
	json_object_set_new(in, "f", json_false());
	json_object_set_new(in, "n", json_null());
	json_object_set_new(in, "none", json_null());
	json_object_set_new(in, "empty", json_array());
	json_object_set_new(o, "in", in);
	jw_end_obj(&w);
	want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15));
	assert_string_equal(jw_text(&w), want);
	assert_int_equal(w.len, strlen(want));
	free(want);
	json_decref(o);
	jw_free(&w);
	free(ctl);
}

/* A real as jw writes it against jansson's text of it. */
static void
real_as_jansson(double v)
{
	struct jw w = { 0 };
	json_t *r = json_real(v);
	char *want = json_dumps(r, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

	jw_real(&w, NULL, v);
	if (strcmp(jw_text(&w), want) != 0)
		fail_msg("%.17g: jw wrote %s, jansson %s", v, jw_text(&w), want);
	free(want);
	json_decref(r);
	jw_free(&w);
}

/*
 * jw's reals without printf (uptimes in ms, CPU time in us, as seconds)
 * and its integers, digit for digit as jansson writes them, with the
 * values on either side of where the short way gives way to printf.
 */
static void
json_writer_numbers_are_janssons(void **state)
{
	static const double edges[] = { 0, -0.0, 1e-4, 0.99e-4, 1e-5, 1e-7,
	    0.1, 0.5, 1, 12, 12.345, 999999999.999999, 1e9, 1e9 - 0.001,
	    123456789.123456, 0.000123, 1.5e15, -1, -12.5, 1.0 / 3, 2.0 / 3,
	    1e300, 4.9e-324 };
	static const long long ints[] = { 0, 1, -1, 9, 10, -10, 1234567890123LL,
	    9223372036854775807LL, -9223372036854775807LL - 1 };
	unsigned long long x = 88172645463325252ULL;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		real_as_jansson(edges[i]);
	for (int i = 0; i < 200000; i++) {
		long long k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (long long)(x % 100000000000ULL);
		real_as_jansson((double)(k % 1000000000) / 1000.0);	/* ms */
		real_as_jansson((double)k / 1e6);			/* us */
		/* user + system, each in us */
		real_as_jansson((double)(k % 100000000) / 1e6 +
		    (double)(k / 100000000) / 1e6);
		real_as_jansson((double)(x >> 11) / (double)(1ULL << 53) *
		    (double)(k % 1000 + 1));
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		struct jw w = { 0 };
		json_t *n = json_integer(ints[i]);
		char *want = json_dumps(n, JSON_ENCODE_ANY);

		jw_int(&w, NULL, ints[i]);
		assert_string_equal(jw_text(&w), want);
		free(want);
		json_decref(n);
		jw_free(&w);
	}
}

/*
 * What is opened while the numbers below SPAWN_FD_BASE are held lands
 * above them; once they are given back, the lowest free number is low
 * again. Under a limit too small to spare them, or one that would leave
 * too little beside them for what is to be opened, nothing is held.
 */
static void
fds_opened_while_reserved_land_above_the_spawn_range(void **state)
{
	struct rlimit was, rl;
	int held[SPAWN_FD_BASE], fd, nul;
	size_t n;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	if (was.rlim_max < 8 * SPAWN_FD_BASE)
		skip();
	rl = (struct rlimit){ was.rlim_max, was.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(nul >= 0 && nul < SPAWN_FD_BASE);
	/* No room beside the fillers for what is to be opened: none. */
	assert_int_equal(fd_reserve_low(nul, rl.rlim_cur - SPAWN_FD_BASE + 1,
	    held, SPAWN_FD_BASE), 0);
	n = fd_reserve_low(nul, 100, held, SPAWN_FD_BASE);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(held[i] < SPAWN_FD_BASE);
		assert_int_equal(fcntl(held[i], F_GETFD), FD_CLOEXEC);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= SPAWN_FD_BASE);
	close(fd);
	fd_unreserve_low(held, n);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && fd < SPAWN_FD_BASE);
	close(fd);

	rl.rlim_cur = 8 * SPAWN_FD_BASE - 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(fd_reserve_low(nul, 0, held, SPAWN_FD_BASE), 0);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && fd < SPAWN_FD_BASE);
	close(fd);
	close(nul);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heap_top_is_always_the_earliest),
		cmocka_unit_test(pid_index_finds_what_is_in_it_only),
		cmocka_unit_test(json_writer_writes_what_jansson_writes),
		cmocka_unit_test(json_writer_numbers_are_janssons),
		cmocka_unit_test(fds_opened_while_reserved_land_above_the_spawn_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
