/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * GET /metrics over libmicrohttpd, driven from the observability thread's
 * own epoll (no thread of its own): the registry stays single-owner.
 */
#ifndef ARBOR_HTTP_H
#define ARBOR_HTTP_H

#include <stddef.h>

struct http;

/* Renders the exposition into a malloc'd buffer. */
typedef char *(*http_render_fn)(void *ctx, size_t *len);

/* Listens on "HOST:PORT" ("[::1]:PORT" for IPv6); NULL with err set. */
struct http *http_open(const char *listen, http_render_fn, void *ctx,
    char *err, size_t errlen);
void http_close(struct http *);
/* The fd to watch for readiness, and the longest wait (ms, -1: none). */
int http_fd(const struct http *);
int http_timeout_ms(const struct http *);
void http_run(struct http *);
/* The listening socket, to watch for EPOLLIN; then http_accept. */
int http_listen_fd(const struct http *);
void http_accept(struct http *);

#endif
