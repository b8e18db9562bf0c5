/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The observability thread's control clients (`arborctl metrics`, `events
 * [--follow]`, `trace`): every reply is written without ever blocking the
 * thread. What a client does not take at once waits in its own buffer and
 * goes out as its socket drains (EPOLLOUT); a client whose backlog grows
 * past its cap (FOLLOW_BUF_MAX for a follower, CLIENT_BUF_MAX for one
 * reply, CLIENTS_BUF_TOTAL for all), or that takes nothing for
 * CLIENT_STALL_NS, is dropped. No client can stall the thread, however many never read.
 */
#ifndef ARBOR_CLIENTS_H
#define ARBOR_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CLIENTS 64
#define CLIENT_BUF_MAX (64u << 20)	/* one reply (metrics of a big tree) */
#define FOLLOW_BUF_MAX (1u << 20)	/* a follower's unsent lines */
#define CLIENTS_BUF_TOTAL (256u << 20)
#define CLIENT_STALL_NS (10 * 1000000000ULL)

struct clients;
struct client;

/* Epoll events for client i carry data.u32 = id_base + i. */
struct clients *clients_new(int epfd, uint32_t id_base);
void clients_free(struct clients *);

/* Takes fd (made non-blocking); NULL when full (fd is closed). */
struct client *clients_add(struct clients *, int fd, uint64_t now);
/* Queues bytes and sends what the socket takes now; may drop the client. */
void client_put(struct clients *, struct client *, const char *, size_t,
    uint64_t now);
/*
 * A big reply (a status of 10,000 workers is megabytes) is written into a
 * buffer the table keeps from the last one: its pages are already there,
 * where new ones cost a fault each. clients_spare hands it out (NULL and
 * 0 when none); client_give queues p (malloc'd, cap bytes, n used) as it
 * is, taking it, and keeps the largest such buffer once it is sent.
 */
char *clients_spare(struct clients *, size_t *cap);
void client_give(struct clients *, struct client *, char *p, size_t n,
    size_t cap, uint64_t now);
/* Closes the client once everything queued is sent. */
void client_end(struct clients *, struct client *);
/* A follower: broadcast lines go to it until it is dropped. */
void client_follow(struct client *);
size_t clients_followers(const struct clients *);
/* Bytes queued and not yet sent, all clients together. */
size_t clients_buffered(const struct clients *);
void clients_broadcast(struct clients *, const char *, size_t, uint64_t now);

/* An epoll event whose data.u32 is in this table's range: true if taken. */
bool clients_on_event(struct clients *, uint32_t id, uint64_t now);
/* Drops clients stalled past CLIENT_STALL_NS; the ms until the next check
 * (-1: nothing to watch). */
int clients_sweep(struct clients *, uint64_t now);

#endif
