/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sd_notify: the datagram socket workers with ready = "notify" find in
 * NOTIFY_SOCKET, and the parser of what they send (systemd's protocol:
 * newline-separated KEY=VALUE assignments).
 */
#ifndef ARBOR_NOTIFY_H
#define ARBOR_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "reactor.h"

#define NOTIFY_MAX_DATAGRAM 4096
/* File descriptors one datagram may pass: the kernel's SCM_MAX_FD. */
#define NOTIFY_MAX_FDS 253
#define NOTIFY_MAX_STATUS 256

struct notify_msg {
	bool ready;		/* READY=1 */
	bool stopping;		/* STOPPING=1 */
	bool watchdog;		/* WATCHDOG=1 */
	bool watchdog_trigger;	/* WATCHDOG=trigger */
	bool has_status;
	char status[NOTIFY_MAX_STATUS];	/* STATUS=, truncated */
	bool has_extend;
	uint64_t extend_usec;	/* EXTEND_TIMEOUT_USEC= */
	bool fdstore;		/* FDSTORE=1: keep the fds passed */
	bool fdstore_remove;	/* FDSTOREREMOVE=1: drop those named FDNAME */
	bool fdpoll_off;	/* FDPOLL=0: no POLLHUP watch on them */
	bool has_fdname;
	char fdname[256];	/* FDNAME=; "stored" when not given */
};

/*
 * Parses one datagram. Unknown keys are ignored, as systemd does; a NUL
 * byte, a line without '=', or a bad number makes it malformed: -1, *why.
 */
int notify_parse(const char *buf, size_t len, struct notify_msg *,
    const char **why);

struct notify;
struct cgroups;
struct held;

/* cg (NULL: process groups) says which cgroup a sender is in; FDSTORE=1
 * keeps fds in held's stores. */
struct notify *notify_open(struct reactor *, struct engine *,
    const struct cgroups *cg, struct held *, const char *path, char *err,
    size_t errlen);
void notify_close(struct notify *);
const char *notify_path(const struct notify *);

#endif
