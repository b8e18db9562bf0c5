/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /metrics (and the console, console.h) over libmicrohttpd, driven from the observability
 * helper's own epoll (no thread of its own): the registry stays single-owner.
 */
#ifndef ARBOR_HTTP_H
#define ARBOR_HTTP_H

#include <stddef.h>

#include "console.h"

struct http;
struct web_conf;

/* Renders the exposition into a malloc'd buffer. */
typedef char *(*http_render_fn)(void *ctx, size_t *len);

/* The console beside /metrics (console.h); NULL to http_open: none. */
struct http_console {
	int epfd;			/* for its requests to arbord */
	/* A read-only connection to arbord's control socket. */
	int (*dial)(void *ctx, const char **why);
	void *dial_ctx;
	struct console_ops ops;
	struct console_conf conf;	/* who may use it */
};

/*
 * Serves on listen_fd, the core's listening socket for listen ("HOST:PORT",
 * for what is said; a dup is taken), with web's TLS and basic auth
 * (config/webconf.h; NULL: neither, copied); NULL with err set.
 */
struct http *http_open(const char *listen, int listen_fd, http_render_fn,
    void *ctx, const struct http_console *, const struct web_conf *web,
    char *err, size_t errlen);
/* Its console, NULL: none. */
struct console *http_console(const struct http *);
void http_close(struct http *);
/* The fd to watch for readiness, and the longest wait (ms, -1: none). */
int http_fd(const struct http *);
int http_timeout_ms(const struct http *);
void http_run(struct http *);
/* The listening socket, to watch for EPOLLIN; then http_accept. */
int http_listen_fd(const struct http *);
void http_accept(struct http *);

#endif
