/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The console (arbord(8), CONSOLE): GET / and its assets, built into
 * arbord; /api/status and /api/logs, asked of arbord as any arborctl asks
 * (a client of the control socket: the core sees one more client and
 * nothing new); /api/events, the event stream as Server-Sent Events. All
 * of it in the observability thread, on the metrics listener's
 * libmicrohttpd; it reads nothing of the tree and can change nothing.
 *
 * Who may look (arbord(8), SECURITY): every URL here but the page's
 * static assets needs a session cookie, got by trading a single-use token
 * (`arborctl console`) at /login; every URL here needs a Host header that
 * names this listener. Tokens and sessions live in this memory only: a
 * restart of the observability thread ends them all.
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
#define STREAM_SNDBUF (64 << 10)	/* its socket's send buffer (the kernel doubles it) */
#define UPSTREAM_TIMEOUT_NS (10 * 1000000000ULL)
#define STREAM_PING_NS (15 * 1000000000ULL)
#define CONSOLE_TOKENS 16	/* sign-in tokens unused at once */
#define CONSOLE_SESSIONS 64	/* sessions at once; the oldest makes room */
#define CONSOLE_TOKEN_TTL_NS (60 * 1000000000ULL)
#define CONSOLE_SESSION_TTL_NS (12 * 3600 * 1000000000ULL)

struct console;

struct console_ops {
	/* Calls fn with each recent event line, oldest first. */
	void (*recent)(void *ctx, void (*fn)(void *arg, const char *line,
	    size_t len), void *arg);
	void *ctx;
};

/* Who may use the console (arbor.conf(5), OBSERVABILITY); copied. */
struct console_conf {
	const char *listen;	/* observability.metrics_listen, as written */
	const char *scheme;	/* of the sign-in URL: "http" (NULL) or "https" */
	bool auth_none;		/* console_auth = "none": no cookie needed */
	char *const *hosts;	/* console_hosts, NULL-ended; NULL: none */
	int64_t token_ttl_ns, session_ttl_ns;	/* <= 0: the defaults */
};

/*
 * dial: a read-only connection to arbord's control socket; -2 when it is
 * asked for and comes later (console_dialed), -1 with why when not.
 */
struct console *console_new(int epfd, int (*dial)(void *, const char **),
    void *dial_ctx, const struct console_ops *, const struct console_conf *);
/* The connection dial promised (-1: refused), for the oldest request. */
void console_dialed(struct console *, int fd);
/*
 * `arborctl console`: the sign-in URL with a fresh token (without one
 * under console_auth = "none"), malloc'd; NULL with err set.
 */
char *console_sign_in(struct console *, char *err, size_t errlen);
/* How long a token lasts unused. */
uint64_t console_token_ttl_ns(const struct console *);
/* Answers and resumes every connection it holds: before MHD_stop_daemon
 * (and one MHD_run), then console_free after it. */
void console_quiesce(struct console *);
void console_free(struct console *);

/*
 * A request the metrics endpoint does not take (url; method GET or HEAD):
 * queues the reply, or suspends the connection until it is ready (con_cls
 * keeps its state; console_completed frees it).
 */
enum MHD_Result console_request(struct console *, struct MHD_Connection *,
    const char *url, const char *method, void **con_cls);
void console_completed(struct console *, void **con_cls);
/* A final event line (with its newline) for the streams. */
void console_event(struct console *, const char *line, size_t len);
/* An epoll event: true if it was one of its upstream requests. */
bool console_on_event(struct console *, uint32_t id);
/* Ends late upstream requests, pings streams; ms until next (-1: none). */
int console_tick(struct console *, uint64_t now);

#endif
