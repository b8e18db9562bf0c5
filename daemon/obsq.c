/* SPDX-License-Identifier: BSD-2-Clause */
#include "obsq.h"

bool
obsq_push(struct obsq *q, const struct obs_msg *m)
{
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	if (tail - head >= OBSQ_CAPACITY) {
		atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
		return false;
	}
	q->slots[tail & (OBSQ_CAPACITY - 1)] = *m;
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

bool
obsq_room(struct obsq *q)
{
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	return tail - head < OBSQ_CAPACITY;
}

bool
obsq_read(struct obsq *q, uint64_t at, struct obs_msg *m)
{
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);

	/* Nothing new, or a cursor out of the ring (obsq_resume). */
	if (tail - at == 0 || tail - at > OBSQ_CAPACITY)
		return false;
	*m = q->slots[at & (OBSQ_CAPACITY - 1)];
	return true;
}

uint64_t
obsq_resume(struct obsq *q, uint64_t *skip)
{
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	uint64_t w = atomic_load_explicit(&q->working, memory_order_relaxed);

	*skip = UINT64_MAX;
	/* A head its last consumer left out of the ring: from the tail. */
	if (tail - head > OBSQ_CAPACITY) {
		head = tail;
		obsq_commit(q, head);
	}
	/* The last one died taking a slot (still unread by the next): once
	 * more on the same one, and it is given up. */
	if (w && w - 1 - head < tail - head) {
		if (q->died_times && q->died_at == w - 1)
			q->died_times++;
		else {
			q->died_at = w - 1;
			q->died_times = 1;
		}
		if (q->died_times >= OBSQ_RESUME_MAX) {
			*skip = w - 1;
			q->died_times = 0;
			atomic_fetch_add_explicit(&q->dropped, 1,
			    memory_order_relaxed);
		}
	} else
		q->died_times = 0;	/* it died of something else */
	atomic_store_explicit(&q->working, 0, memory_order_relaxed);
	obsq_said_read(q, head);
	return head;
}

void
obsq_working(struct obsq *q, uint64_t at, bool done)
{
	atomic_store_explicit(&q->working, done ? 0 : at + 1,
	    memory_order_release);
}

void
obsq_commit(struct obsq *q, uint64_t to)
{
	atomic_store_explicit(&q->head, to, memory_order_release);
}

void
obsq_said_read(struct obsq *q, uint64_t at)
{
	atomic_store_explicit(&q->read, at, memory_order_release);
}
