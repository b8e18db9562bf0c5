/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The indexes that keep per-event work from growing with the tree
 * (daemon/util.h): the timers' min-heap and the pid index, against a plain
 * array that is searched the slow way. And the status's JSON writer
 * (daemon/jw.h) against jansson, whose text clients and the observability
 * helper read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heap_top_is_always_the_earliest),
		cmocka_unit_test(pid_index_finds_what_is_in_it_only),
		cmocka_unit_test(json_writer_writes_what_jansson_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
