/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The records the core and its helpers exchange (arbord(8), FAULT
 * DOMAINS). Both sides compile this file. The socket is a SOCK_SEQPACKET
 * socketpair: one send is one record, never split or merged, so a record
 * is checked as a whole on receipt: its length against its type, its
 * strings for their terminating NUL. The core treats every record from a
 * helper as hostile (hmsg_check_from_helper).
 */
#ifndef ARBOR_HMSG_H
#define ARBOR_HMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The helper's end of its socketpair, as it finds it after execve. */
#define HMSG_FD 3
/* No record is longer; a longer one is malformed. */
#define HMSG_MAX 4096
/* A helper says it lives this often; silence for HMSG_HUNG_MS is a hang. */
#define HMSG_HEARTBEAT_MS 100
#define HMSG_HUNG_MS 500

enum hmsg_type {
	HMSG_HEARTBEAT = 1,	/* helper -> core */
	HMSG_CHECK_BEGIN,	/* core -> checks */
	HMSG_CHECK_CANCEL,	/* core -> checks */
	HMSG_CHECK_RESULT,	/* checks -> core */
	HMSG_NTYPES
};

struct hmsg_hdr {
	uint32_t type;
	uint32_t len;		/* of the whole record, this header included */
};

struct hmsg_heartbeat {
	struct hmsg_hdr h;
	uint64_t seq;
};

#define HMSG_IP 48
#define HMSG_TARGET 1024
#define HMSG_DETAIL 256

struct hmsg_check_begin {
	struct hmsg_hdr h;
	uint64_t id;
	uint32_t kind;		/* enum health_kind: HEALTH_TCP or HEALTH_HTTP */
	uint32_t timeout_ms;
	int32_t family;		/* AF_INET or AF_INET6 */
	uint16_t port;
	uint8_t localhost;
	uint8_t pad;
	char ip[HMSG_IP];
	char target[HMSG_TARGET];
};

struct hmsg_check_cancel {
	struct hmsg_hdr h;
	uint64_t id;
};

struct hmsg_check_result {
	struct hmsg_hdr h;
	uint64_t id;
	uint8_t ok;
	uint8_t pad[3];
	int32_t err;		/* errno of a failed system call, 0: none */
	char detail[HMSG_DETAIL];
};

/* Fills the header of a record of type t and size len. */
void hmsg_init(void *rec, enum hmsg_type t, size_t len);

/*
 * Checks a record of len bytes received from a helper: a type a helper may
 * send, the exact length of that type, strings terminated, flags 0 or 1.
 * 0, or -1 with why.
 */
int hmsg_check_from_helper(const void *rec, size_t len, char *why,
    size_t whylen);
/* The same for a record a helper receives from the core. */
int hmsg_check_from_core(const void *rec, size_t len, char *why,
    size_t whylen);

/*
 * Receives one record into buf (cap >= HMSG_MAX) without blocking: its
 * length; 0 at end of file; -1 with errno (EAGAIN: none now). A record
 * longer than cap, or one that carries descriptors, is -1 with EMSGSIZE
 * (the descriptors are closed): neither side ever passes any to the other
 * yet, and a record cut short is never read as a whole one.
 */
ssize_t hmsg_recv(int fd, void *buf, size_t cap);
/* Sends one record without blocking: 0, or -1 with errno. */
int hmsg_send(int fd, const void *rec, size_t len);

#endif
