/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker-output thread (arbor.conf(5), OUTPUT): it reads the pipes of
 * every captured worker, stamps each line, appends it to the worker's log
 * file (<log_dir>/<path>/current, rotated into gzip files by a compressor
 * thread of its own), keeps tails, serves `arborctl logs` and echoes lines
 * to the journal and arbord's stderr. The core only queues messages to it
 * (never waits for it) and wakes it once per loop batch (outlog_kick).
 *
 * A worker's pipes outlive its processes, so the core tells the thread where
 * one process's output ends: outlog_exited, called once the process and its
 * cgroup are gone and before a replacement starts, when nothing writes the
 * pipes, takes each pipe's offset (what the thread has read plus what the
 * pipe holds). The thread then reads up to there, writes a last line that
 * had no newline, and hands the process's last stderr lines on.
 */
#ifndef ARBOR_OUTLOG_H
#define ARBOR_OUTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "obsq.h"

#define OUT_LINE_MAX 16384	/* longer lines are split */
#define OUT_MEM_TAIL (64 * 1024)	/* kept in memory when log_dir is "" */
#define OUT_TAIL_LINES 10	/* stderr_tail of an exit */
#define OUT_TAIL_BYTES 4096

struct outlog_conf {
	const char *dir;	/* "": memory only */
	uint64_t max_bytes;
	uint32_t keep;
	bool journal;
	bool echo;
};

/* What the thread hands to the observability thread. */
struct out_note {
	pid_t pid;		/* exited: the process */
	bool exited;		/* an exit's tail, else only dropped counts */
	char path[OBSQ_PATH];
	char *tail;		/* its last stderr lines (valid UTF-8); NULL: none */
	uint64_t dropped;	/* lines of path dropped so far */
};

struct outlog;
struct outsrc;

/* Starts the threads; NULL (said) when they cannot start. */
struct outlog *outlog_start(const struct outlog_conf *);
/* Reads what is left in every pipe, writes it out and ends the threads. */
void outlog_stop(struct outlog *);
void outlog_config(struct outlog *, const struct outlog_conf *);

/*
 * A worker's output: rfd[0] and rfd[1] are the read ends of its stdout and
 * stderr pipes (-1: none), wfd[] their write ends, which the core keeps
 * to give copies to each start (outlog_exited only asks them FIONREAD).
 * The thread owns all four from now and closes them at outlog_remove.
 */
struct outsrc *outlog_add(struct outlog *, const char *path, const char *name,
    const int rfd[2], const int wfd[2]);
/* pid writes the pipes now (its lines' ARBOR_PID). */
void outlog_spawned(struct outlog *, struct outsrc *, pid_t);
/*
 * The process pid is gone and nothing writes its pipes (see above). False
 * when it wrote nothing on stderr: no tail will be noted for it.
 */
bool outlog_exited(struct outlog *, struct outsrc *, pid_t);
/* The worker is gone: its pipes are read to their end, then closed. */
void outlog_remove(struct outlog *, struct outsrc *);
/*
 * `arborctl logs`: the thread owns fd now, writes {"ok":true}, the last n
 * lines (of the file, or of the memory tail) and, with follow, new lines
 * as they come, until the client goes or falls behind.
 */
void outlog_logs(struct outlog *, struct outsrc *, int fd, unsigned n,
    bool follow);
/* Wakes the thread if something was queued since the last kick. */
void outlog_kick(struct outlog *);

/*
 * Observability side: an eventfd readable when notes wait, and the notes
 * queued since the last call (theirs until the next call, which frees
 * their tails: take a tail by setting it NULL).
 */
int outlog_notes_fd(const struct outlog *);
size_t outlog_notes_take(struct outlog *, struct out_note **);

#endif
