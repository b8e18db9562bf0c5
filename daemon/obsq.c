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
obsq_pop(struct obsq *q, struct obs_msg *m)
{
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);

	if (head == tail)
		return false;
	*m = q->slots[head & (OBSQ_CAPACITY - 1)];
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return true;
}
