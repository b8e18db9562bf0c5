/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core's side of the observability helper (arbord(8), FAULT DOMAINS):
 * what it is given, events through the shared queue without ever
 * waiting, clients with their fds. helper.c starts, watches and restarts
 * it.
 */
#ifndef ARBOR_OBSWATCH_H
#define ARBOR_OBSWATCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "../config/spec.h"
#include "cgroup.h"
#include "reactor.h"
#include "obsq.h"
#include "outproxy.h"

struct obswatch;

/* Where helper.c counts its helpers' restarts for the metrics. */
struct obs_helpers *obswatch_helpers(struct obswatch *);
/* The held sockets' table the observability helper reads (obsq.h). */
struct obs_sockets *obswatch_sockets(struct obswatch *);
/*
 * Sets the observability side up per spec: loads the probes, binds the
 * metrics listener, opens the event log's directory. cg (NULL: no
 * cgroups) says where nodes' cgroup files are; out (NULL: none) is worker
 * output, whose notes (stderr tails, dropped lines) are passed on.
 */
struct obswatch *obswatch_start(struct reactor *, const struct spec *,
    bool no_bpf, const struct cgroups *cg, struct outproxy *out);
/* Starts the helper (helper.h), now and after each of its deaths. */
struct helpers;
void obswatch_bind(struct obswatch *, struct helpers *);
/* At arbord's exit: the queue gets a moment to drain, then all goes. */
void obswatch_stop(struct obswatch *);
/*
 * A reload's web_config (NULL: none; copied): the helper reopens its
 * listener with it, the running one untouched until then.
 */
struct web_conf;
void obswatch_web(struct obswatch *, const struct web_conf *);
/* fn makes a read-only control connection for the console (control.c). */
void obswatch_on_dial(struct obswatch *,
    int (*fn)(void *, uid_t, gid_t, pid_t), void *ctx);
/* Queues an event; never blocks (a full queue drops and counts it). */
void obswatch_event(struct obswatch *, const struct obs_msg *);
/* Wakes the helper if events were queued: once per loop batch. */
void obswatch_flush(struct obswatch *);
/* Events queued and not yet taken by the helper. */
size_t obswatch_queued(const struct obswatch *);
/* A hand-over would be taken now (the helper runs and beats). */
bool obswatch_ready(const struct obswatch *);
/*
 * fn answers, and owns, each status client (fd, and req's status) that a
 * helper held when it died (control.c: control_orphan).
 */
void obswatch_on_orphan(struct obswatch *,
    void (*fn)(void *, int, const struct obs_request *), void *ctx);
/* Hands a control client's fd over for req (and req->status, taken); -1
 * when the helper is down or behind (both stay the caller's). */
int obswatch_hand_over(struct obswatch *, int fd, const struct obs_request *);
/* The console is served with observability.console_auth = "none". */
bool obswatch_console_open(const struct obswatch *);

#endif
