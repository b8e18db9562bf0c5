/* SPDX-License-Identifier: BSD-2-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "console.h"
#include "http.h"
#include "../daemon/util.h"

/*
 * Limits set on purpose: a flood of scrapes, or of connections that never
 * finish a request, must stay cheap. arbord accepts connections itself and
 * hands them to libmicrohttpd, which closes at once one past a limit: a
 * full listener still accepts (and closes) promptly, so the kernel's
 * backlog never holds clients behind slow ones, and a slot held by an idle
 * or half-sent request is freed after HTTP_TIMEOUT_S.
 */
#define HTTP_MAX_CONNECTIONS 160	/* the console's event streams among them */
#define HTTP_MAX_PER_IP 128
#define HTTP_TIMEOUT_S 5
#define HTTP_BACKLOG 128

struct http {
	struct MHD_Daemon *d;
	int listen_fd;
	int spare_fd;		/* given up to accept (and close) when out of fds */
	http_render_fn render;
	void *ctx;
	struct console *con;	/* NULL: no console */
};

static bool
wants_gzip(struct MHD_Connection *c)
{
	const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING);

	return ae && strstr(ae, "gzip");
}

/* gzip of buf; NULL when zlib fails (the plain text goes out then). */
static char *
gzip_buf(const char *buf, size_t len, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap = compressBound((uLong)len) + 32;
	char *out = xcalloc(cap, 1);

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text),
	    (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len, zlen;
	char *body, *z;

	(void)version;
	(void)upload_data;
	if (*upload_data_size) {
		*upload_data_size = 0;	/* a body is not for us: drop it */
		return MHD_YES;
	}
	/* Read-only, whatever the path: nothing here changes anything. */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics") != 0) {
		if (h->con)
			return console_request(h->con, c, url, con_cls);
		return reply(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	}
	body = h->render(h->ctx, &len);
	if (wants_gzip(c) && (z = gzip_buf(body, len, &zlen))) {
		free(body);
		body = z;
		len = zlen;
		r = MHD_create_response_from_buffer(len, body,
		    MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
		    "gzip");
	} else
		r = MHD_create_response_from_buffer(len, body,
		    MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;

	(void)c;
	(void)toe;
	if (h->con)
		console_completed(h->con, con_cls);
}

/* A non-blocking listening socket on ai; -1 with err set. */
static int
listen_on(const struct addrinfo *ai, const char *text, char *err,
    size_t errlen)
{
	int one = 1, fd;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, HTTP_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", text,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct http *
http_open(const char *listen, http_render_fn render, void *ctx,
    const struct http_console *hc, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	    .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *colon = strrchr(listen, ':'), *text = listen;
	char host[256], port[16];
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	struct http *h;
	size_t hl;
	int rc;

	if (!colon || colon == listen) {
		snprintf(err, errlen, "not HOST:PORT: %s", listen);
		return NULL;
	}
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "host too long");
		return NULL;
	}
	memcpy(host, listen, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", listen, gai_strerror(rc));
		return NULL;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = xcalloc(1, sizeof(*h));
	h->render = render;
	h->ctx = ctx;
	h->listen_fd = listen_on(ai, text, err, errlen);
	freeaddrinfo(ai);
	if (h->listen_fd < 0) {
		free(h);
		return NULL;
	}
	h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	h->d = MHD_start_daemon(flags | MHD_USE_NO_LISTEN_SOCKET, 0, NULL,
	    NULL, on_request, h,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "%s: libmicrohttpd: %s", listen,
		    errno ? strerror(errno) : "cannot start");
		close(h->listen_fd);
		if (h->spare_fd >= 0)
			close(h->spare_fd);
		free(h);
		return NULL;
	}
	if (hc)
		h->con = console_new(hc->epfd, hc->control_socket, &hc->ops);
	return h;
}

struct console *
http_console(const struct http *h)
{
	return h ? h->con : NULL;
}

int
http_listen_fd(const struct http *h)
{
	return h->listen_fd;
}

/*
 * Takes every pending connection. libmicrohttpd closes one past its
 * limits; out of fds, the spare fd makes room to accept and close one, so
 * the listener never spins on a connection it cannot take.
 */
void
http_accept(struct http *h)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(h->listen_fd, (struct sockaddr *)&sa, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    h->spare_fd >= 0) {
				close(h->spare_fd);
				fd = accept(h->listen_fd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				h->spare_fd = open("/dev/null",
				    O_RDONLY | O_CLOEXEC);
				if (fd >= 0)
					continue;
			}
			return;	/* EAGAIN: none left */
		}
		/* On refusal (a limit), the connection is closed already. */
		(void)MHD_add_connection(h->d, fd, (struct sockaddr *)&sa, len);
	}
}

void
http_close(struct http *h)
{
	if (!h)
		return;
	if (h->con) {
		console_quiesce(h->con);
		MHD_run(h->d);	/* the suspended are answered, then closed */
	}
	MHD_stop_daemon(h->d);
	console_free(h->con);
	close(h->listen_fd);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	free(h);
}

int
http_fd(const struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d,
	    MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

int
http_timeout_ms(const struct http *h)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(h->d, &t) != MHD_YES)
		return -1;
	return t > 60000 ? 60000 : (int)t;
}

void
http_run(struct http *h)
{
	MHD_run(h->d);
}
