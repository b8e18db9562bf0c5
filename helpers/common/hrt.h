/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What every helper process does the same way (arbord(8), FAULT DOMAINS):
 * find its socket, say it lives (a heartbeat every HMSG_HEARTBEAT_MS),
 * lock itself into a seccomp allow-list once its libraries are set up,
 * and, for tests, fault for real when ARBOR_HELPER_FAULT names it.
 */
#ifndef ARBOR_HRT_H
#define ARBOR_HRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hrt {
	const char *name;	/* "checks" */
	int sock;		/* HMSG_FD */
	int beat_fd;		/* timerfd: heartbeat due */
	int fault_fd;		/* timerfd: a fault due, -1: none asked */
	unsigned faults;	/* 1 << enum hrt_fault: after the start */
	unsigned stop_faults;	/* the same, "kind@stop": when told to stop */
	unsigned held_faults;	/* "kind@held": see hrt_held */
	uint64_t seq;
	/* Called before the first fault the helper asked for, if set. */
	void (*quiesce)(void *);
	void *quiesce_ctx;
	bool quiesced;
};

/* Sets h up for the helper called name; exits 2 when run by hand. */
void hrt_init(struct hrt *h, const char *name);
/*
 * Installs the seccomp filter: every helper's base list plus extra
 * (syscall names, NULL-terminated); anything else kills the process. Exits
 * 3 when it cannot.
 */
void hrt_sandbox(const struct hrt *h, const char *const *extra);
/* beat_fd became readable: the heartbeat goes out. */
void hrt_beat(struct hrt *h);
/* fault_fd became readable: the fault asked for happens now. */
void hrt_fault(struct hrt *h);
/* The core told the helper to stop: a fault asked for "@stop" happens now. */
void hrt_stopping(struct hrt *h);
/* The observability helper holds an event it has read, waiting for the
 * rest of it: a fault asked for "@held" happens now. */
void hrt_held(struct hrt *h);

#endif
