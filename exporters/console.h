/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The console (arbord(8), CONSOLE): GET / and its assets, built into
 * arbord; /api/status and /api/logs, asked of arbord as any arborctl asks
 * (a client of the control socket: the core sees one more client and
 * nothing new); /api/events, the event stream as Server-Sent Events. All
 * of it in the observability thread, on the metrics listener's
 * libmicrohttpd; it reads nothing of the tree and can change nothing.
 */
#ifndef ARBOR_CONSOLE_H
#define ARBOR_CONSOLE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_IDS 100		/* epoll ids of upstream requests */
#define CONSOLE_UPSTREAMS 16	/* /api/status and /api/logs at once */
#define CONSOLE_STREAMS 128	/* /api/events at once */
#define STREAM_BUF_MAX (256u << 10)	/* a stream's unsent events */
#define UPSTREAM_TIMEOUT_NS (10 * 1000000000ULL)
#define STREAM_PING_NS (15 * 1000000000ULL)

struct console;

struct console_ops {
	/* Calls fn with each recent event line, oldest first. */
	void (*recent)(void *ctx, void (*fn)(void *arg, const char *line,
	    size_t len), void *arg);
	void *ctx;
};

struct console *console_new(int epfd, const char *control_socket,
    const struct console_ops *);
/* Answers and resumes every connection it holds: before MHD_stop_daemon
 * (and one MHD_run), then console_free after it. */
void console_quiesce(struct console *);
void console_free(struct console *);

/*
 * A request the metrics endpoint does not take (url, GET or HEAD): queues
 * the reply, or suspends the connection until it is ready (con_cls keeps
 * its state; console_completed frees it).
 */
enum MHD_Result console_request(struct console *, struct MHD_Connection *,
    const char *url, void **con_cls);
void console_completed(struct console *, void **con_cls);
/* A final event line (with its newline) for the streams. */
void console_event(struct console *, const char *line, size_t len);
/* An epoll event: true if it was one of its upstream requests. */
bool console_on_event(struct console *, uint32_t id);
/* Ends late upstream requests, pings streams; ms until next (-1: none). */
int console_tick(struct console *, uint64_t now);

#endif
