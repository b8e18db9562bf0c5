/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Worker output, as the output helper runs it (helpers/output/, arbor.conf(5)
 * OUTPUT): a thread reads the pipes of every captured worker, stamps each
 * line, appends it to the worker's log file (<log_dir>/<path>/current,
 * rotated into gzip files by a compressor thread of its own), keeps tails,
 * serves `arborctl logs` and echoes lines to the journal and stderr. Its
 * caller (the helper's main loop) only queues messages to it and wakes it
 * (outlog_kick).
 *
 * A worker's pipes outlive its processes, and the helper's: the core keeps
 * both ends, so it tells where one process's output ends. For each stream
 * the thread counts what it has read in a slot the core maps too (struct
 * out_slot); once a process and its cgroup are gone, and before a
 * replacement starts, the core takes that count plus what the pipe holds
 * (daemon/outproxy.c), and the thread, told (outlog_exited_at), reads up to
 * there, writes a last line that had no newline, and hands the process's
 * last stderr lines on.
 */
#ifndef ARBOR_OUTLOG_H
#define ARBOR_OUTLOG_H

#include <stdatomic.h>
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
	int dirfd;		/* dir's, opened by the core; -1: open dir */
	uint64_t max_bytes;
	uint32_t keep;
	bool journal;
	bool echo;
};

/*
 * What has been read of one pipe: a sequence count, odd while a read is
 * under way, and the bytes read, in shared memory (the core reads it).
 */
struct out_slot {
	_Atomic uint32_t seq;
	/* Stream 0's: the process writing the pipes now (the core's, set at
	 * each start: no record, no wake-up on the restart path). */
	_Atomic int32_t pid;
	_Atomic uint64_t consumed;
};

/* What the thread hands on to the observability side. */
struct out_note {
	uint32_t id;		/* the source's (outlog_add) */
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
 * A worker's output: rfd[0] and rfd[1] are read ends of its stdout and
 * stderr pipes (-1: none), slot[] where what is read of them is counted.
 * The thread owns the fds from now and closes them at outlog_remove.
 */
struct outsrc *outlog_add(struct outlog *, uint32_t id, const char *path,
    const char *name, const int rfd[2], struct out_slot slot[2]);
/*
 * The source has had a first process: its pipes are read from now on.
 * Later processes' pids come through its slot (struct out_slot).
 */
void outlog_spawned(struct outlog *, struct outsrc *, pid_t);
/*
 * The process pid is gone; its output ends at bound[i] of stream i
 * (UINT64_MAX: what the pipe holds). quiet: it wrote nothing on stderr,
 * no tail is noted for it.
 */
void outlog_exited_at(struct outlog *, struct outsrc *, pid_t,
    const uint64_t bound[2], bool quiet);
/* The worker is gone: its pipes are read to their end, then closed. */
void outlog_remove(struct outlog *, struct outsrc *);
/*
 * `arborctl logs`: the thread owns fd now, writes {"ok":true}, the last n
 * lines (of the file, or of the memory tail) and, with follow, new lines
 * as they come, until the client goes or falls behind.
 */
void outlog_logs(struct outlog *, struct outsrc *, int fd, unsigned n,
    bool follow);
/*
 * Waits until no read is between its pipe and its file, and keeps it so:
 * for a fault a test asks for (ARBOR_HELPER_FAULT), which then loses no
 * line it read. Never returns the lock.
 */
void outlog_quiesce(struct outlog *);
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
