/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core -> observability queue with a real producer and consumer thread:
 * nothing lost but what was counted as dropped, order kept. Run under TSan
 * by `make tsan` as well.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "daemon/obsq.h"

#define N 1000000

static struct obsq q;
static _Atomic int producer_done;

static void *
producer(void *arg)
{
	struct obs_msg m = { .kind = OBS_MSG_EVENT };

	(void)arg;
	for (uint64_t i = 1; i <= N; i++) {
		m.mono_ns = i;
		obsq_push(&q, &m);	/* full: dropped and counted, never waits */
	}
	atomic_store(&producer_done, 1);
	return NULL;
}

static void
nothing_lost_but_what_was_counted_and_order_kept(void **state)
{
	struct obs_msg m;
	uint64_t received = 0, last = 0, at = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, producer, NULL), 0);
	for (;;) {
		/* Read before reading: empty after the producer ended is drained. */
		int done = atomic_load(&producer_done);

		if (obsq_read(&q, at, &m)) {
			obsq_commit(&q, ++at);	/* as the helper, once written */
			assert_true(m.mono_ns > last);
			last = m.mono_ns;
			received++;
		} else if (done)
			break;
	}
	pthread_join(t, NULL);
	assert_int_equal(received + atomic_load(&q.dropped), N);
	assert_true(received >= OBSQ_CAPACITY);
}

static void
full_queue_drops_and_counts(void **state)
{
	static struct obsq small;
	struct obs_msg m = { 0 };

	(void)state;
	for (int i = 0; i < OBSQ_CAPACITY; i++)
		assert_true(obsq_push(&small, &m));
	assert_false(obsq_push(&small, &m));
	assert_int_equal(atomic_load(&small.dropped), 1);
	assert_true(obsq_read(&small, 0, &m));
	assert_false(obsq_push(&small, &m));	/* read, not given back */
	obsq_commit(&small, 1);
	assert_true(obsq_push(&small, &m));
}

/*
 * A reader that may die (the observability helper) reads at a cursor of its
 * own: what it did not give back is read again by the next one, and the
 * producer has no room for it meanwhile. A head left out of the ring
 * (garbage from a dead reader) is taken as the tail.
 */
static void
a_reader_that_dies_leaves_what_it_did_not_give_back(void **state)
{
	static struct obsq r;
	struct obs_msg m = { 0 };
	uint64_t at, skip;

	(void)state;
	for (int i = 0; i < 3; i++) {
		m.mono_ns = (uint64_t)i + 1;
		assert_true(obsq_push(&r, &m));
	}
	at = obsq_resume(&r, &skip);
	assert_true(obsq_read(&r, at++, &m));
	assert_true(obsq_read(&r, at++, &m));
	assert_int_equal(m.mono_ns, 2);
	obsq_commit(&r, 1);	/* the second one still held */
	/* It dies; the next one reads from the second on. */
	at = obsq_resume(&r, &skip);
	assert_int_equal(at, 1);
	assert_true(obsq_read(&r, at++, &m));
	assert_int_equal(m.mono_ns, 2);
	assert_true(obsq_read(&r, at++, &m));
	assert_int_equal(m.mono_ns, 3);
	assert_false(obsq_read(&r, at, &m));
	/* Room: the slots not given back count as taken. */
	for (int i = 0; i < OBSQ_CAPACITY - 2; i++)
		assert_true(obsq_push(&r, &m));
	assert_false(obsq_room(&r));
	obsq_commit(&r, 3);
	assert_true(obsq_room(&r));
	/* A head out of the ring: resumed at the tail, nothing read. */
	atomic_store(&r.head, atomic_load(&r.tail) + 5);
	at = obsq_resume(&r, &skip);
	assert_int_equal(at, atomic_load(&r.tail));
	assert_false(obsq_read(&r, at, &m));
	assert_false(obsq_read(&r, at - OBSQ_CAPACITY - 1, &m));
	assert_true(obsq_push(&r, &m));
}

/*
 * An event that kills every reader that takes it: the starts that died
 * taking the same slot are counted, and after OBSQ_RESUME_MAX of them in a
 * row it is given up (dropped and counted): the next start skips it. A
 * start that died holding an event, not taking it, or taking another one,
 * is no death on it.
 */
static void
an_event_that_kills_its_readers_is_given_up(void **state)
{
	static struct obsq r;
	struct obs_msg m = { 0 };
	uint64_t at, skip;

	(void)state;
	for (int i = 0; i < 4; i++) {
		m.mono_ns = (uint64_t)i + 1;
		assert_true(obsq_push(&r, &m));
	}
	/* Deaths with the first event held, not being taken. */
	for (int start = 0; start < 4; start++) {
		at = obsq_resume(&r, &skip);
		assert_int_equal(at, 0);
		assert_true(skip == UINT64_MAX);
		obsq_working(&r, 0, false);
		obsq_working(&r, 0, true);	/* taken, held; it dies */
	}
	/* Deaths taking the second one. */
	for (int start = 0; start < OBSQ_RESUME_MAX; start++) {
		at = obsq_resume(&r, &skip);
		assert_true(skip == UINT64_MAX);
		obsq_working(&r, 1, false);	/* and it dies */
	}
	at = obsq_resume(&r, &skip);
	assert_int_equal(at, 0);
	assert_int_equal(skip, 1);
	assert_int_equal(atomic_load(&r.dropped), 1);
	/* Once, then in a row again from nothing: a death of something
	 * else in between starts the count again. */
	obsq_working(&r, 2, false);
	at = obsq_resume(&r, &skip);
	assert_true(skip == UINT64_MAX);
	at = obsq_resume(&r, &skip);	/* died not taking anything */
	obsq_working(&r, 2, false);
	at = obsq_resume(&r, &skip);
	assert_true(skip == UINT64_MAX);
	obsq_working(&r, 2, false);
	at = obsq_resume(&r, &skip);
	assert_int_equal(skip, 2);
	/* A slot given back already is no death on anything. */
	obsq_commit(&r, 4);
	obsq_working(&r, 3, false);
	at = obsq_resume(&r, &skip);
	obsq_working(&r, 3, false);
	at = obsq_resume(&r, &skip);
	assert_true(skip == UINT64_MAX);
	assert_int_equal(at, 4);
	assert_int_equal(atomic_load(&r.dropped), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nothing_lost_but_what_was_counted_and_order_kept),
		cmocka_unit_test(full_queue_drops_and_counts),
		cmocka_unit_test(a_reader_that_dies_leaves_what_it_did_not_give_back),
		cmocka_unit_test(an_event_that_kills_its_readers_is_given_up),
	};

	return cmocka_run_group_tests_name("obsq", tests, NULL, NULL);
}
