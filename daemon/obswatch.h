/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core's side of the observability thread: it starts the thread, hands
 * it events through the queue without ever waiting, and restarts it with
 * backoff when it ends or stops beating.
 */
#ifndef ARBOR_OBSWATCH_H
#define ARBOR_OBSWATCH_H

#include <stdbool.h>

#include "../config/spec.h"
#include "cgroup.h"
#include "reactor.h"
#include "obsq.h"
#include "outproxy.h"

struct obswatch;

/*
 * Starts the thread per spec's observability settings; cg (NULL: no
 * cgroups) says where nodes' cgroup files are (copied); out (NULL: none)
 * is the worker-output thread whose notes (stderr tails, dropped lines) it
 * takes; control_socket is what the console asks (console.h).
 */
/* Where helper.c counts its helpers' restarts for the metrics. */
struct obs_helpers *obswatch_helpers(struct obswatch *);
struct obswatch *obswatch_start(struct reactor *, const struct spec *,
    bool no_bpf, const struct cgroups *cg, struct outproxy *out,
    const char *control_socket);
/* Stops the thread for good (arbord exits). */
void obswatch_stop(struct obswatch *);
/*
 * A reload's web_config (NULL: none; copied): the thread reopens its
 * listener with it, the running one untouched until then.
 */
struct web_conf;
void obswatch_web(struct obswatch *, const struct web_conf *);
/* Queues an event; never blocks (a full queue drops and counts it). */
void obswatch_event(struct obswatch *, const struct obs_msg *);
/* Wakes the thread if events were queued: once per loop batch. */
void obswatch_flush(struct obswatch *);
/* A hand-over would be taken now (the thread runs, the queue has room). */
bool obswatch_ready(const struct obswatch *);
/*
 * fn answers, and owns, each client (fd, and req's status) that a thread
 * left in the queue when it ended (control.c: control_orphan).
 */
void obswatch_on_orphan(struct obswatch *,
    void (*fn)(void *, int, const struct obs_request *), void *ctx);
/* Hands a control client's fd over for req; -1 when the thread is down or
 * the queue full (the fd stays the caller's). */
int obswatch_hand_over(struct obswatch *, int fd, const struct obs_request *);
/* The console is served with observability.console_auth = "none". */
bool obswatch_console_open(const struct obswatch *);

#endif
