/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The indexes that keep per-event work from growing with the tree
 * (daemon/util.h): the timers' min-heap and the pid index, against a plain
 * array that is searched the slow way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heap_top_is_always_the_earliest),
		cmocka_unit_test(pid_index_finds_what_is_in_it_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
