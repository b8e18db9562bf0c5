/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Worker output, the core's side of the output helper (arbord(8), FAULT
 * DOMAINS; the helper runs outlog.h's code). The core keeps both ends of
 * every worker's pipes and hands the read ends to each incarnation of the
 * helper, with where each process's output ended; what a worker writes
 * while the helper is down waits in its pipe. It makes each worker's log
 * directory and hands it to the helper's user. Nothing here blocks but
 * outp_stop, at exit.
 */
#ifndef ARBOR_OUTPROXY_H
#define ARBOR_OUTPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "helper.h"
#include "outlog.h"

struct outproxy;
struct outp_src;

struct outproxy *outp_start(const struct outlog_conf *);
/* The helper, started at the first outp_add (the tree never waits for it). */
void outp_bind(struct outproxy *, struct helpers *);
/* At exit, once every worker is gone: the helper reads every pipe out,
 * writes it and ends (waited for, 5 s at most). */
void outp_stop(struct outproxy *);
void outp_config(struct outproxy *, const struct outlog_conf *);
/* Once per loop batch: log_dir made again if it was removed. */
void outp_tick(struct outproxy *);

/* rfd[], wfd[]: the pipes' read and write ends (-1: none), the proxy's. */
struct outp_src *outp_add(struct outproxy *, const char *path,
    const char *name, const int rfd[2], const int wfd[2]);
void outp_spawned(struct outproxy *, struct outp_src *, pid_t);
/*
 * pid is gone and nothing writes its pipes: where its output ends is taken
 * now. False when it wrote nothing on stderr (no tail will be noted).
 */
bool outp_exited(struct outproxy *, struct outp_src *, pid_t);
void outp_remove(struct outproxy *, struct outp_src *);
/* `arborctl logs`: fd goes to the helper; -1 with why when it is down. */
int outp_logs(struct outproxy *, struct outp_src *, int fd, unsigned n,
    bool follow, const char **why);

/* The observability side's: as outlog_notes_fd and outlog_notes_take. */
int outp_notes_fd(const struct outproxy *);
size_t outp_notes_take(struct outproxy *, struct out_note **);

#endif
