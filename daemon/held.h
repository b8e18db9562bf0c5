/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What arbord holds for its workers across their restarts (arbord(8),
 * SOCKETS AND THE FD STORE): the sockets of their `sockets` key, bound
 * before the tree starts, and the fds each stored with sd_notify's
 * FDSTORE=1. Both are passed at each start as fds 3... with LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES, as systemd's socket activation does.
 */
#ifndef ARBOR_HELD_H
#define ARBOR_HELD_H

#include <stdbool.h>
#include <stddef.h>

#include "../config/spec.h"
#include "engine.h"
#include "reactor.h"

struct held;
struct held_next;
struct jw;

/*
 * Binds every socket of spec. NULL when one cannot be bound, with *error
 * ("FILE:LINE: PATH: sockets[0]: \"127.0.0.1:80\": bind: ...") to free.
 */
struct held *held_open(struct reactor *, const struct spec *, char **error);
struct obs_sockets;
/* Keeps table (obsq.h) up to date with the stream sockets held, from now
 * on: written at once and at each change. */
void held_publish(struct held *, struct obs_sockets *table);
/* Closes every socket and stored fd (nodes' stores: held_store_clear). */
void held_close(struct held *);

/*
 * A reload: held_prepare binds what spec adds or changes and keeps the
 * sockets it leaves alone (the same open sockets); NULL with *error
 * when one cannot be bound, nothing changed. held_apply makes the new
 * set the one workers get (before the engine reloads: workers it adds
 * start at once). Then held_keep (the reload went through: sockets no
 * longer asked for are closed; the workers that had them keep their own
 * copies until they stop) or held_abort (it did not: the old set is
 * back, and what was bound for the new one is closed).
 */
struct held_next *held_prepare(struct held *, const struct spec *,
    char **error);
void held_apply(struct held *, struct held_next *);
void held_keep(struct held *, struct held_next *);
void held_abort(struct held *, struct held_next *);

/* At most this many fds go to one worker: its sockets, then its store. */
#define HELD_PASS_MAX (SPEC_SOCKETS_MAX + SPEC_FD_STORE_MAX)
/*
 * LISTEN_FDNAMES's value at most: the kernel takes no environment string
 * of more than 128 KiB (MAX_ARG_STRLEN). The sockets' names take at most
 * SPEC_SOCKETS_MAX of 256 bytes; the store's names the rest.
 */
#define HELD_NAMES_MAX (128 * 1024 - 64)
#define HELD_STORE_NAMES_MAX (HELD_NAMES_MAX - SPEC_SOCKETS_MAX * (SPEC_FDNAME_MAX + 1))

/*
 * The fds to pass to worker n at its start, in order, and their names
 * joined by ':' in names (a buffer of HELD_PASS_MAX * 256 bytes). A held
 * socket found no longer listening (a worker shut it down) is bound
 * again first, and said so. Returns how many, or -1 with err when a
 * socket cannot be bound again: n is not started with a dead socket.
 * The fds stay held's.
 */
int held_fds(struct held *, const struct enode *n, int *fds, char *names,
    size_t nameslen, char *err, size_t errlen);

/*
 * FDSTORE=1 from worker n: keeps fds (nfds of them) under name, watched
 * for POLLHUP and POLLERR unless poll is false, or closes them all when
 * they would take n past fd_store_max, or their names past
 * HELD_STORE_NAMES_MAX (0 returned: the caller says so).
 * Returns how many were kept.
 */
size_t held_store(struct held *, struct enode *n, const int *fds, size_t nfds,
    const char *name, bool poll);
/* FDSTOREREMOVE=1: closes n's stored fds of that name; how many. */
size_t held_store_remove(struct held *, struct enode *n, const char *name);
/* n stopped by a command, or removed: its store is emptied. */
void held_store_clear(struct held *, struct enode *n);
/* How many fds n has stored. */
size_t held_store_count(const struct enode *n);

/* n's "sockets" and "fd_store" members of status. */
void held_status(struct held *, const struct enode *n, struct jw *);

#endif
