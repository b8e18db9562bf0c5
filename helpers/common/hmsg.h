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
/*
 * The core's stall timer for it: each heartbeat sets it to its interval
 * again (timerfd_settime), so a live helper never wakes the core; when it
 * expires the helper is hung.
 */
#define HMSG_BEAT_FD 4
/* No record is longer; a longer one is malformed. */
#define HMSG_MAX 8192
/* Descriptors one record from the core carries at most. */
#define HMSG_FDS_MAX 6
/* A helper says it lives this often; silence for HMSG_HUNG_MS is a hang
 * (the observability helper's is longer: daemon/helper.c). */
#define HMSG_HEARTBEAT_MS 100
#define HMSG_HUNG_MS 500

enum hmsg_type {
	HMSG_CHECK_BEGIN = 1,	/* core -> checks */
	HMSG_CHECK_CANCEL,	/* core -> checks */
	HMSG_CHECK_RESULT,	/* checks -> core */
	HMSG_OUT_CONF,		/* core -> output, fds: memfd of the slots,
				 * log_dir's (none when log_dir is "") */
	HMSG_OUT_ADD,		/* core -> output, fds: the pipes' read ends */
	HMSG_OUT_SPAWNED,	/* core -> output */
	HMSG_OUT_EXITED,	/* core -> output */
	HMSG_OUT_REMOVE,	/* core -> output */
	HMSG_OUT_LOGS,		/* core -> output, fd: the `logs` client */
	HMSG_OUT_STOP,		/* core -> output: read every pipe out, exit 0 */
	HMSG_OUT_NOTE,		/* output -> core */
	HMSG_OBS_CONF,		/* core -> obs, fds: the shared memfd (struct
				 * obs_shm), the wake-up eventfd, then the
				 * metrics listener and the event log if any */
	HMSG_OBS_PROBES,	/* core -> obs, fds: struct probes_fds's five */
	HMSG_OBS_WEB,		/* core -> obs, fd: web_config packed (none:
				 * plain HTTP) */
	HMSG_OBS_CLIENT,	/* core -> obs, fds: the client, and for a
				 * status the core's tree as JSON in a memfd */
	HMSG_OBS_NOTE,		/* core -> obs: worker output's note */
	HMSG_OBS_EVLOG,		/* core -> obs, fd: the event log (none: it
				 * cannot be opened now) */
	HMSG_OBS_CONN,		/* core -> obs, fd: a read-only control client */
	HMSG_OBS_DIAL,		/* obs -> core: a control connection, please */
	HMSG_OBS_EVLOG_ASK,	/* obs -> core: the event log is full, or none */
	HMSG_OBS_DONE,		/* obs -> core: a status client is answered */
	HMSG_OBS_LISTEN,	/* core -> obs, fd: the metrics listener, bound
				 * later than the helper's start */
	HMSG_NTYPES
};

struct hmsg_hdr {
	uint32_t type;
	uint32_t len;		/* of the whole record, this header included */
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

/*
 * The output helper. Each worker whose output is captured is a source with
 * a number the core gives (below HMSG_OUT_SRC_MAX); its stream i has slot
 * 2 * src + i in the memfd of HMSG_OUT_CONF (daemon/outlog.h, struct
 * out_slot), where the helper counts what it has read of that pipe.
 */
#define HMSG_OUT_SRC_MAX 32768
#define HMSG_OUT_PATH 256	/* SPEC_PATH_MAX and its NUL */
#define HMSG_OUT_DIR 4096
#define HMSG_OUT_TAIL 4097	/* OUT_TAIL_BYTES and its NUL */

struct hmsg_out_conf {
	struct hmsg_hdr h;
	uint64_t max_bytes;
	uint32_t keep;
	uint8_t journal, echo, has_dir;
	uint8_t pad;
	char dir[HMSG_OUT_DIR];	/* for what is said only */
};

struct hmsg_out_add {
	struct hmsg_hdr h;
	uint32_t src;
	uint8_t has[2];		/* which streams come, in order, as fds */
	uint8_t pad[2];
	int32_t pid;		/* writing now, 0: none */
	char path[HMSG_OUT_PATH];
	char name[HMSG_OUT_PATH];
};

struct hmsg_out_pid {		/* HMSG_OUT_SPAWNED, HMSG_OUT_REMOVE */
	struct hmsg_hdr h;
	uint32_t src;
	int32_t pid;
};

struct hmsg_out_exited {
	struct hmsg_hdr h;
	uint32_t src;
	int32_t pid;
	uint64_t bound[2];	/* UINT64_MAX: read what is there */
	uint8_t quiet;
	uint8_t pad[7];
};

struct hmsg_out_logs {
	struct hmsg_hdr h;
	uint32_t src;
	uint32_t lines;
	uint8_t follow;
	uint8_t pad[7];
};

struct hmsg_out_stop {
	struct hmsg_hdr h;
};

struct hmsg_out_note {
	struct hmsg_hdr h;
	uint32_t src;
	int32_t pid;
	uint64_t dropped;
	uint8_t exited;
	uint8_t has_tail;
	char tail[HMSG_OUT_TAIL];
};

/*
 * The observability helper. Its configuration and the event queue are in
 * the shared memfd of HMSG_OBS_CONF (daemon/obsq.h, struct obs_shm),
 * written by the core; the helper writes only the queue's head.
 */
struct hmsg_obs_conf {
	struct hmsg_hdr h;
	uint8_t has_listen, has_evlog;
	uint8_t pad[6];
};

struct hmsg_obs_probes {
	struct hmsg_hdr h;
};

struct hmsg_obs_web {
	struct hmsg_hdr h;
	uint8_t has;		/* a memfd follows; 0: plain HTTP */
	uint8_t pad[7];
};

struct hmsg_obs_client {
	struct hmsg_hdr h;
	uint32_t kind;		/* enum obs_request_kind */
	uint8_t follow;
	uint8_t has_status;	/* a memfd follows the client */
	uint8_t pad[2];
	uint64_t trace_ns;
	uint64_t id;		/* a status's, for HMSG_OBS_DONE */
};

struct hmsg_obs_listen {
	struct hmsg_hdr h;
};

struct hmsg_obs_done {
	struct hmsg_hdr h;
	uint64_t id;
};

struct hmsg_obs_note {
	struct hmsg_hdr h;
	int32_t pid;
	uint8_t exited, has_tail;
	uint8_t pad[2];
	uint64_t dropped;
	char path[HMSG_OUT_PATH];
	char tail[HMSG_OUT_TAIL];
};

struct hmsg_obs_evlog {
	struct hmsg_hdr h;
	uint8_t has;
	uint8_t pad[7];
};

struct hmsg_obs_conn {
	struct hmsg_hdr h;
};

struct hmsg_obs_dial {
	struct hmsg_hdr h;
};

struct hmsg_obs_evlog_ask {
	struct hmsg_hdr h;
	uint8_t full;		/* 1: rotate it; 0: it has none */
	uint8_t pad[7];
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
 * (the descriptors are closed): a helper never passes any to the core,
 * and a record cut short is never read as a whole one.
 */
ssize_t hmsg_recv(int fd, void *buf, size_t cap);
/* Sends one record without blocking: 0, or -1 with errno. */
int hmsg_send(int fd, const void *rec, size_t len);
/* The same with nfds descriptors (the core's, to a helper). */
int hmsg_send_fds(int fd, const void *rec, size_t len, const int *fds,
    int nfds);
/*
 * A helper's receive: as hmsg_recv, but a record may carry up to
 * HMSG_FDS_MAX descriptors, returned in fds (*nfds of them, close-on-exec).
 */
ssize_t hmsg_recv_fds(int fd, void *buf, size_t cap, int *fds, int *nfds);

#endif
