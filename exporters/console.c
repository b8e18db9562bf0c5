/* SPDX-License-Identifier: BSD-2-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "../daemon/jw.h"
#include "../daemon/obsq.h"
#include "../daemon/util.h"

/* The page, built in from exporters/console/ (assets.S there). */
extern const char console_index_html[], console_index_html_end[];
extern const char console_css[], console_css_end[];
extern const char console_js[], console_js_end[];
extern const char console_favicon[], console_favicon_end[];

/* The page needs a session; its script, style and icon say nothing of
 * the host and are open (console_request). */
static const struct asset {
	const char *url, *type, *data, *end;
} assets[] = {
	{ "/", "text/html; charset=utf-8", console_index_html,
	    console_index_html_end },
	{ "/index.html", "text/html; charset=utf-8", console_index_html,
	    console_index_html_end },
	{ "/console.css", "text/css; charset=utf-8", console_css,
	    console_css_end },
	{ "/console.js", "text/javascript; charset=utf-8", console_js,
	    console_js_end },
	{ "/favicon.svg", "image/svg+xml", console_favicon,
	    console_favicon_end },
};

enum up_kind { UP_STATUS, UP_LOGS };

/* What a suspended request waits for (its con_cls). */
struct waiter {
	struct MHD_Connection *conn;
	struct upstream *up;		/* NULL once answered */
	struct MHD_Response *resp;	/* the answer, once there */
	unsigned code;
};

/* One request to arbord's control socket, as arborctl makes it. */
struct upstream {
	int fd;			/* -1: its connection is still to come */
	char *line;		/* the request, until it is sent */
	size_t line_len;
	enum up_kind kind;
	struct waiter *w;
	char *in;
	size_t len, cap;
	uint64_t started;
	bool logs_ok;		/* the log's {"ok":true} line is in */
};

/* One /api/events: its unsent bytes, given to MHD as it asks. */
struct stream {
	struct console *con;
	struct MHD_Connection *conn;
	char *buf;
	size_t len, off, cap;	/* buf[off, len) is unsent */
	bool suspended, dropped, closing;
	uint64_t session;	/* the serial of its session (0: none needed) */
	struct stream *prev, *next;
};

#define SECRET_LEN 32		/* 256 bits */
#define SECRET_HEX (2 * SECRET_LEN)

/* A sign-in token or a session: a random secret and its lifetime. */
struct secret {
	unsigned char s_bytes[SECRET_LEN];
	uint64_t s_made, s_until;	/* monotonic ns; s_until 0: unused slot */
	uint64_t s_serial;	/* a session's, for its streams */
};

struct console {
	int epfd;
	int (*dial)(void *, const char **);
	void *dial_ctx;
	struct console_ops ops;
	struct upstream *up[CONSOLE_UPSTREAMS];
	struct stream *streams;
	size_t nstreams;
	uint64_t ping_at;
	/* Who may look (console.h). */
	char *listen, *scheme;
	bool auth_none;
	char **hosts;
	uint64_t token_ttl, session_ttl;
	struct secret tokens[CONSOLE_TOKENS];
	struct secret sessions[CONSOLE_SESSIONS];
	uint64_t serials;
	uint64_t streams_checked;	/* when streams' sessions were last */
};

struct console *
console_new(int epfd, int (*dial)(void *, const char **), void *dial_ctx,
    const struct console_ops *ops, const struct console_conf *conf)
{
	struct console *c = xcalloc(1, sizeof(*c));
	size_t n = conf->hosts ? strv_len(conf->hosts) : 0;

	c->epfd = epfd;
	c->dial = dial;
	c->dial_ctx = dial_ctx;
	c->ops = *ops;
	c->listen = xstrdup(conf->listen ? conf->listen : "");
	c->scheme = xstrdup(conf->scheme ? conf->scheme : "http");
	c->auth_none = conf->auth_none;
	c->hosts = xcalloc(n + 1, sizeof(*c->hosts));
	for (size_t i = 0; i < n; i++)
		c->hosts[i] = xstrdup(conf->hosts[i]);
	c->token_ttl = conf->token_ttl_ns > 0 ? (uint64_t)conf->token_ttl_ns :
	    CONSOLE_TOKEN_TTL_NS;
	c->session_ttl = conf->session_ttl_ns > 0 ?
	    (uint64_t)conf->session_ttl_ns : CONSOLE_SESSION_TTL_NS;
	return c;
}

/* The headers every console reply carries. */
static void
safe_headers(struct MHD_Response *r, const char *type, bool cache)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'self'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    cache ? "no-cache" : "no-store");
}

static struct MHD_Response *
text_response(const char *text, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text),
	    xstrdup(text), MHD_RESPMEM_MUST_FREE);

	safe_headers(r, type, false);
	return r;
}

static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned code, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(conn, code, r);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
	return queue(conn, code, text_response(text, "text/plain; charset=utf-8"));
}

/* ---- /api/events ---- */

static void
stream_put(struct stream *s, const char *data, size_t n)
{
	size_t unsent = s->len - s->off;

	if (s->dropped)
		return;
	if (unsent + n > STREAM_BUF_MAX) {
		/* A reader this far behind is dropped, never waited for. */
		s->dropped = true;
		free(s->buf);
		s->buf = NULL;
		s->len = s->off = s->cap = 0;
	} else {
		/* Appending is amortised O(n): the sent part is reclaimed
		 * (or the buffer doubled) only when the end is reached. */
		if (s->len + n > s->cap && s->off) {
			memmove(s->buf, s->buf + s->off, unsent);
			s->len = unsent;
			s->off = 0;
		}
		if (s->len + n > s->cap) {
			s->cap = s->cap * 2 > s->len + n ? s->cap * 2 : s->len + n;
			s->buf = xreallocarray(s->buf, s->cap, 1);
		}
		memcpy(s->buf + s->len, data, n);
		s->len += n;
	}
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

/* An event line as one SSE message, "data: {...}\n\n", malloc'd. */
static char *
sse_message(const char *line, size_t len, size_t *n)
{
	char *msg;

	while (len && line[len - 1] == '\n')
		len--;
	msg = xreallocarray(NULL, len + 8, 1);
	memcpy(msg, "data: ", 6);
	memcpy(msg + 6, line, len);
	msg[len + 6] = '\n';
	msg[len + 7] = '\n';
	*n = len + 8;
	return msg;
}

static void
recent_one(void *arg, const char *line, size_t len)
{
	size_t n;
	char *msg = sse_message(line, len, &n);

	stream_put(arg, msg, n);
	free(msg);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n = s->len - s->off;

	(void)pos;
	if (s->dropped)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0) {
		if (s->closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		return 0;
	}
	if (n > max)
		n = max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	if (s->off == s->len)
		s->off = s->len = 0;
	return (ssize_t)n;
}

/* s ends once what it has is sent. */
static void
stream_end(struct stream *s)
{
	s->closing = true;
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

static void
stream_free(void *cls)
{
	struct stream *s = cls;

	if (s->prev)
		s->prev->next = s->next;
	else
		s->con->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->con->nstreams--;
	free(s->buf);
	free(s);
}

static enum MHD_Result
open_stream(struct console *c, struct MHD_Connection *conn, uint64_t session)
{
	static const char hello[] = "retry: 2000\n\n";
	static const char live[] = "event: live\ndata: {}\n\n";
	const union MHD_ConnectionInfo *fdi;
	struct MHD_Response *r;
	struct stream *s;
	int sndbuf = STREAM_SNDBUF;

	if (c->nstreams >= CONSOLE_STREAMS)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "too many event streams open\n");
	/*
	 * A stream's socket gets a fixed send buffer. Autotuned, the kernel
	 * would hold up to tcp_wmem's 4 MiB for a browser that stopped
	 * reading (128 of them: 512 MiB of kernel memory), and take minutes
	 * to fill before STREAM_BUF_MAX could find it behind.
	 */
	fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (fdi)
		(void)setsockopt(fdi->connect_fd, SOL_SOCKET, SO_SNDBUF,
		    &sndbuf, sizeof(sndbuf));
	s = xcalloc(1, sizeof(*s));
	s->con = c;
	s->conn = conn;
	s->session = session;
	stream_put(s, hello, sizeof(hello) - 1);
	if (c->ops.recent)
		c->ops.recent(c->ops.ctx, recent_one, s);
	/* What came before is history; what follows happens now. */
	stream_put(s, live, sizeof(live) - 1);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	    stream_read, s, stream_free);
	if (!r) {
		free(s->buf);
		free(s);
		return MHD_NO;
	}
	s->next = c->streams;
	if (s->next)
		s->next->prev = s;
	c->streams = s;
	c->nstreams++;
	safe_headers(r, "text/event-stream", false);
	return queue(conn, MHD_HTTP_OK, r);
}

void
console_event(struct console *c, const char *line, size_t len)
{
	size_t n;
	char *msg;

	if (!c->streams)
		return;
	msg = sse_message(line, len, &n);
	for (struct stream *s = c->streams; s; s = s->next)
		stream_put(s, msg, n);
	free(msg);
}

/* ---- /api/status and /api/logs: asked of the control socket ---- */

static void
up_end(struct console *c, size_t i, unsigned code, struct MHD_Response *r)
{
	struct upstream *u = c->up[i];

	c->up[i] = NULL;
	if (u->fd >= 0) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, u->fd, NULL);
		close(u->fd);
	}
	free(u->line);
	u->w->up = NULL;
	u->w->resp = r;
	u->w->code = code;
	MHD_resume_connection(u->w->conn);
	free(u->in);
	free(u);
}

static void
up_fail(struct console *c, size_t i, unsigned code, const char *why)
{
	json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	char *t = json_dumps(e, JSON_COMPACT);

	up_end(c, i, code, text_response(t ? t : "{}", "application/json"));
	free(t);
	json_decref(e);
}

/*
 * The HTTP status of an error arbord replied. The control socket gives
 * text only: a refusal under load (too many clients of the output thread,
 * the observability thread restarting) is 503, to be tried again; any
 * other error says there is nothing at that path to show (an unknown
 * path, a supervisor's log, a worker whose output is not captured).
 */
static unsigned
error_code(const char *why)
{
	static const char *const busy[] = { "too many ", "is not running" };

	for (size_t i = 0; i < ARRAY_SIZE(busy); i++)
		if (strstr(why, busy[i]))
			return MHD_HTTP_SERVICE_UNAVAILABLE;
	return MHD_HTTP_NOT_FOUND;
}

/*
 * A status reply as arbord writes it, {"ok":true,"status":TREE}: TREE's
 * bytes are the answer, moved to the front of the buffer the response then
 * owns. A tree of 10,000 workers is megabytes, and parsing it into objects
 * and writing it out again was most of the request's time. false: not so.
 */
static bool
status_tree(struct console *c, size_t i, size_t len)
{
	struct upstream *u = c->up[i];
	const size_t hl = strlen(STATUS_REPLY_HEAD);
	const char *end;
	struct MHD_Response *r;
	size_t n;

	if (len <= hl || memcmp(u->in, STATUS_REPLY_HEAD, hl) != 0 ||
	    u->in[hl] != '{' || !(end = jw_skip_value(u->in + hl, u->in + len)))
		return false;
	n = (size_t)(end - (u->in + hl));
	memmove(u->in, u->in + hl, n);
	if (!(r = MHD_create_response_from_buffer(n, u->in,
	    MHD_RESPMEM_MUST_FREE)))
		return false;
	u->in = NULL;
	safe_headers(r, "application/json", false);
	up_end(c, i, MHD_HTTP_OK, r);
	return true;
}

/* The reply is all there: answer the waiting request. */
static void
up_done(struct console *c, size_t i)
{
	struct upstream *u = c->up[i];
	char *nl = memchr(u->in, '\n', u->len);
	size_t head = nl ? (size_t)(nl - u->in) : u->len;
	json_t *rep, *st;
	char *text;

	if (u->kind == UP_STATUS && status_tree(c, i, head))
		return;
	rep = json_loadb(u->in, head, 0, NULL);
	if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *why = json_string_value(json_object_get(rep, "error"));

		up_fail(c, i, !why ? MHD_HTTP_BAD_GATEWAY : error_code(why),
		    why ? why : "arbord gave no reply");
		json_decref(rep);
		return;
	}
	if (u->kind == UP_LOGS) {
		struct MHD_Response *r;
		size_t skip = nl ? head + 1 : u->len;

		r = MHD_create_response_from_buffer(u->len - skip,
		    u->in + skip, MHD_RESPMEM_MUST_COPY);
		safe_headers(r, "text/plain; charset=utf-8", false);
		json_decref(rep);
		up_end(c, i, MHD_HTTP_OK, r);
		return;
	}
	/* Not as arbord writes it: the tree written anew. */
	st = json_object_get(rep, "status");
	text = st ? json_dumps(st, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(rep);
	if (!text) {
		up_fail(c, i, MHD_HTTP_BAD_GATEWAY, "arbord's status has no tree");
		return;
	}
	up_end(c, i, MHD_HTTP_OK, text_response(text, "application/json"));
	free(text);
}

/*
 * Whether the reply is whole with the n bytes just read, before arbord
 * closes. A status is one line, and so is every error: the control socket
 * keeps a connection open after an error, for the client's next request
 * (arborctl ends on it), so waiting for its end would hang. A log is its
 * {"ok":true} line, then lines until arbord closes.
 */
static bool
up_whole(struct upstream *u, size_t n)
{
	char *nl;
	json_t *head;

	if (u->logs_ok || !(nl = memchr(u->in + u->len - n, '\n', n)))
		return false;
	if (u->kind == UP_STATUS)
		return true;
	head = json_loadb(u->in, (size_t)(nl - u->in), 0, NULL);
	u->logs_ok = json_is_true(json_object_get(head, "ok"));
	json_decref(head);
	return !u->logs_ok;
}

bool
console_on_event(struct console *c, uint32_t id)
{
	struct upstream *u;
	size_t i = id - CONSOLE_IDS;

	if (id < CONSOLE_IDS || i >= CONSOLE_UPSTREAMS)
		return false;
	if (!(u = c->up[i]))
		return true;
	for (;;) {
		ssize_t n;

		if (u->cap - u->len < 65536) {
			u->cap = u->cap ? u->cap * 2 : 65536;
			u->in = xreallocarray(u->in, u->cap, 1);
		}
		n = read(u->fd, u->in + u->len, u->cap - u->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF: the whole reply (a log's lines end with it) */
			if (u->len)
				up_done(c, i);
			else
				up_fail(c, i, MHD_HTTP_BAD_GATEWAY,
				    "arbord closed the control connection");
			return true;
		}
		u->len += (size_t)n;
		if (u->len > (64u << 20)) {
			up_fail(c, i, MHD_HTTP_BAD_GATEWAY, "reply too large");
			return true;
		}
		if (up_whole(u, (size_t)n)) {
			up_done(c, i);
			return true;
		}
	}
	return true;
}

/* Sends u's request on fd, its connection now; false with why. */
static bool
up_send(struct console *c, size_t i, int fd, const char **why)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct upstream *u = c->up[i];

	if (write(fd, u->line, u->line_len) != (ssize_t)u->line_len) {
		*why = "arbord's control socket did not take the request";
		close(fd);
		return false;
	}
	ev.data.u32 = CONSOLE_IDS + (uint32_t)i;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		*why = "epoll_ctl";
		close(fd);
		return false;
	}
	u->fd = fd;
	free(u->line);
	u->line = NULL;
	return true;
}

/*
 * Sends req to arbord, or keeps it until its connection comes
 * (console_dialed); false (why set) when it cannot.
 */
static bool
up_start(struct console *c, struct waiter *w, enum up_kind kind,
    json_t *req, const char **why)
{
	struct upstream *u;
	char *line;
	size_t i, len;
	int fd;

	for (i = 0; i < CONSOLE_UPSTREAMS && c->up[i]; i++)
		;
	if (i == CONSOLE_UPSTREAMS) {
		*why = "too many console requests at once";
		return false;
	}
	if (!c->dial || (fd = c->dial(c->dial_ctx, why)) == -1)
		return false;
	if (!(line = json_dumps(req, JSON_COMPACT))) {
		*why = "out of memory";
		if (fd >= 0)
			close(fd);
		return false;
	}
	len = strlen(line);
	line[len++] = '\n';	/* over the NUL: written by length */
	u = xcalloc(1, sizeof(*u));
	u->fd = -1;
	u->line = line;
	u->line_len = len;
	u->kind = kind;
	u->w = w;
	u->started = mono_ns();
	c->up[i] = u;
	if (fd >= 0 && !up_send(c, i, fd, why)) {
		c->up[i] = NULL;
		free(u->line);
		free(u);
		return false;
	}
	w->up = u;
	return true;
}

void
console_dialed(struct console *c, int fd)
{
	const char *why = "arbord refused the console a connection";
	size_t i, first = CONSOLE_UPSTREAMS;

	/* The oldest request still waiting for its connection gets it. */
	for (i = 0; c && i < CONSOLE_UPSTREAMS; i++)
		if (c->up[i] && c->up[i]->fd < 0 && (first == CONSOLE_UPSTREAMS ||
		    c->up[i]->started < c->up[first]->started))
			first = i;
	if (first == CONSOLE_UPSTREAMS) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0 || !up_send(c, first, fd, &why))
		up_fail(c, first, MHD_HTTP_SERVICE_UNAVAILABLE, why);
}

static enum MHD_Result
ask(struct console *c, struct MHD_Connection *conn, void **con_cls,
    enum up_kind kind, json_t *req)
{
	struct waiter *w;
	const char *why = NULL;
	bool ok;

	/* json_pack takes UTF-8 only, as arbord's paths are. */
	if (!req)
		return reply_text(conn, MHD_HTTP_BAD_REQUEST,
		    "path is not UTF-8\n");
	w = xcalloc(1, sizeof(*w));
	w->conn = conn;
	ok = up_start(c, w, kind, req, &why);
	json_decref(req);
	if (!ok) {
		free(w);
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, why);
	}
	*con_cls = w;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static enum MHD_Result
api_logs(struct console *c, struct MHD_Connection *conn, void **con_cls)
{
	const char *path = MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "path");
	const char *lines = MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "lines");
	long n = 100;
	char *end;

	if (!path || !*path)
		return reply_text(conn, MHD_HTTP_BAD_REQUEST,
		    "/api/logs needs ?path=WORKER\n");
	if (lines) {
		n = strtol(lines, &end, 10);
		if (*end || n < 0 || n > 10000)
			return reply_text(conn, MHD_HTTP_BAD_REQUEST,
			    "lines: a number from 0 to 10000\n");
	}
	return ask(c, conn, con_cls, UP_LOGS, json_pack("{s:s, s:s, s:I}",
	    "cmd", "logs", "path", path, "lines", (json_int_t)n));
}

/* ---- who may look: the Host header, sign-in tokens, sessions ---- */

/*
 * Whether the connection's Host names this listener: its own address
 * (the one this connection reached, which for a wildcard listener is the
 * host's address it was made to), localhost, or a name of console_hosts,
 * with any port (an ssh tunnel's own one, say). Anything else is a page
 * elsewhere whose name was made to point here (DNS rebinding): it must
 * not read what the console shows.
 */
static enum MHD_Result
count_host(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	(void)kind;
	(void)value;
	if (arg && key && strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		(*(unsigned *)arg)++;
	return MHD_YES;
}

static unsigned
host_headers(struct MHD_Connection *conn)
{
	unsigned n = 0;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_host, &n);
	return n;
}

static bool
host_allowed(const struct console *c, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	const union MHD_ConnectionInfo *fdi;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *end, *port;
	char name[256];
	unsigned char ip[16];
	size_t n;

	if (!h || !*h)
		return false;
	/* Two Host headers are a malformed request (RFC 9112, 3.2), which a
	 * browser never sends: whichever came first, it is refused. */
	if (host_headers(conn) != 1)
		return false;
	if (h[0] == '[') {
		if (!(end = strchr(h, ']')))
			return false;
		h++;
		port = end + 1;
	} else {
		end = strchr(h, ':');
		port = end ? end : h + strlen(h);
		end = port;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(name))
		return false;
	if (*port) {
		if (*port != ':' || !port[1])
			return false;
		for (const char *q = port + 1; *q; q++)
			if (*q < '0' || *q > '9')
				return false;
	}
	memcpy(name, h, n);
	name[n] = '\0';
	if (strcasecmp(name, "localhost") == 0)
		return true;
	for (char **p = c->hosts; *p; p++)
		if (strcasecmp(name, *p) == 0)
			return true;
	fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!fdi || getsockname(fdi->connect_fd, (struct sockaddr *)&ss,
	    &sl) < 0)
		return false;
	if (ss.ss_family == AF_INET && inet_pton(AF_INET, name, ip) == 1)
		return memcmp(ip, &((struct sockaddr_in *)&ss)->sin_addr,
		    4) == 0;
	if (ss.ss_family == AF_INET6 && inet_pton(AF_INET6, name, ip) == 1)
		return memcmp(ip, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    16) == 0;
	return false;
}

/* Equal, in a time that does not depend on where they differ. */
static bool
secret_eq(const unsigned char *a, const unsigned char *b)
{
	unsigned char d = 0;

	for (size_t i = 0; i < SECRET_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/* SECRET_HEX hex digits into SECRET_LEN bytes; false when it is not that. */
static bool
secret_parse(const char *hex, unsigned char *out)
{
	if (!hex || strlen(hex) != SECRET_HEX)
		return false;
	for (size_t i = 0; i < SECRET_HEX; i++) {
		char ch = hex[i];
		int v = ch >= '0' && ch <= '9' ? ch - '0' :
		    ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (v < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return true;
}

static void
secret_hex(const unsigned char *b, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < SECRET_LEN; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[SECRET_HEX] = '\0';
}

/*
 * A new secret in one of the n slots of v, lasting ttl: a free or
 * expired slot, else the oldest is dropped for it. NULL when the kernel
 * gives no random bytes.
 */
static struct secret *
secret_new(struct secret *v, size_t n, uint64_t ttl, uint64_t now)
{
	struct secret *s = &v[0];

	for (size_t i = 0; i < n; i++) {
		if (!v[i].s_until || v[i].s_until <= now) {
			s = &v[i];
			break;
		}
		if (v[i].s_made < s->s_made)
			s = &v[i];
	}
	if (getrandom(s->s_bytes, SECRET_LEN, 0) != SECRET_LEN) {
		s->s_until = 0;
		return NULL;
	}
	s->s_made = now;
	s->s_until = now + ttl;
	return s;
}

/* The live secret of v equal to hex; NULL: none (or not a secret). */
static struct secret *
secret_find(struct secret *v, size_t n, const char *hex, uint64_t now)
{
	unsigned char b[SECRET_LEN];
	struct secret *found = NULL;

	if (!secret_parse(hex, b))
		return NULL;
	/* Every slot is compared: which one matched takes no less time. */
	for (size_t i = 0; i < n; i++)
		if (secret_eq(v[i].s_bytes, b) && v[i].s_until > now)
			found = &v[i];
	explicit_bzero(b, sizeof(b));
	return found;
}

struct cookie_walk {
	struct console *c;
	struct secret *found;
	uint64_t now;
	unsigned seen;
};

static enum MHD_Result
each_cookie(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct cookie_walk *w = arg;

	(void)kind;
	if (!key || strcmp(key, "arbor_session") != 0 || w->found)
		return MHD_YES;
	w->found = secret_find(w->c->sessions, CONSOLE_SESSIONS, value, w->now);
	/* A request names a few; past 8 the rest are not tried. */
	return ++w->seen < 8 ? MHD_YES : MHD_NO;
}

/*
 * The request's session (its cookie); NULL: none, or not a live one. Any
 * arbor_session cookie of the request counts, not only the first: a page
 * on another port of this host can set one with a narrower Path, which the
 * browser sends first, and would otherwise sign the console out.
 */
static struct secret *
session_of(struct console *c, struct MHD_Connection *conn)
{
	struct cookie_walk w = { .c = c, .now = mono_ns() };

	MHD_get_connection_values(conn, MHD_COOKIE_KIND, each_cookie, &w);
	return w.found;
}

static bool
session_live(const struct console *c, uint64_t serial, uint64_t now)
{
	for (size_t i = 0; i < CONSOLE_SESSIONS; i++)
		if (c->sessions[i].s_serial == serial &&
		    c->sessions[i].s_until > now)
			return true;
	return false;
}

uint64_t
console_token_ttl_ns(const struct console *c)
{
	return c->token_ttl;
}

/* Whether host ("0.0.0.0", "[::]", as a listener writes it) is any address. */
static bool
wildcard(const char *host)
{
	unsigned char any[16] = { 0 }, ip[16];
	char inner[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (host[0] != '[')
		return inet_pton(AF_INET, host, ip) == 1 &&
		    memcmp(ip, any, 4) == 0;
	if (n < 3 || n - 2 >= sizeof(inner) || host[n - 1] != ']')
		return false;
	memcpy(inner, host + 1, n - 2);
	inner[n - 2] = '\0';
	return inet_pton(AF_INET6, inner, ip) == 1 && memcmp(ip, any, 16) == 0;
}

char *
console_sign_in(struct console *c, char *err, size_t errlen)
{
	const char *colon = strrchr(c->listen, ':');
	char host[128], hex[SECRET_HEX + 1];
	struct secret *t;
	size_t hl;

	if (!colon || (hl = (size_t)(colon - c->listen)) >= sizeof(host)) {
		snprintf(err, errlen, "the console's listener \"%s\" is not HOST:PORT",
		    c->listen);
		return NULL;
	}
	memcpy(host, c->listen, hl);
	host[hl] = '\0';
	/* A wildcard listener is reached here through the loopback. */
	if (wildcard(host))
		snprintf(host, sizeof(host), "%s", host[0] == '[' ? "[::1]" :
		    "127.0.0.1");
	if (c->auth_none)
		return xasprintf("%s://%s:%s/", c->scheme, host, colon + 1);
	if (!(t = secret_new(c->tokens, CONSOLE_TOKENS, c->token_ttl,
	    mono_ns()))) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return NULL;
	}
	secret_hex(t->s_bytes, hex);
	return xasprintf("%s://%s:%s/login?token=%s", c->scheme, host,
	    colon + 1, hex);
}

static enum MHD_Result
reply_html(struct MHD_Connection *conn, unsigned code, const char *title,
    const char *text)
{
	char *page = xasprintf("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>arbor: %s</title></head>\n<body><h1>%s</h1>\n<p>%s</p></body></html>\n",
	    title, title, text);
	enum MHD_Result ret = queue(conn, code,
	    text_response(page, "text/html; charset=utf-8"));

	free(page);
	return ret;
}

/*
 * GET /login?token=T: a live token is used up for a session, whose cookie
 * the browser keeps; the redirect to / takes the token out of its address
 * bar and history.
 */
static enum MHD_Result
login(struct console *c, struct MHD_Connection *conn)
{
	const char *hex = MHD_lookup_connection_value(conn,
	    MHD_GET_ARGUMENT_KIND, "token");
	uint64_t now = mono_ns();
	struct MHD_Response *r;
	struct secret *t, *s;
	char id[SECRET_HEX + 1], *cookie;
	enum MHD_Result ret;

	if (!c->auth_none) {
		if (!(t = secret_find(c->tokens, CONSOLE_TOKENS, hex, now)))
			return reply_html(conn, MHD_HTTP_UNAUTHORIZED,
			    "sign-in link used or expired",
			    "This link was used already, or it expired (a link lasts a minute). Run <code>arborctl console</code> on the host again and open the new link it prints.");
		explicit_bzero(t, sizeof(*t));	/* once only */
		if (!(s = secret_new(c->sessions, CONSOLE_SESSIONS,
		    c->session_ttl, now)))
			return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "no random bytes for a session\n");
		s->s_serial = ++c->serials;
		secret_hex(s->s_bytes, id);
	}
	r = text_response("signed in: on to /\n", "text/plain; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/");
	if (!c->auth_none) {
		cookie = xasprintf("arbor_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%llu%s",
		    id, (unsigned long long)((c->session_ttl + NSEC_PER_SEC - 1) /
		    NSEC_PER_SEC), strcmp(c->scheme, "https") == 0 ?
		    "; Secure" : "");
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
		explicit_bzero(cookie, strlen(cookie));
		free(cookie);
		explicit_bzero(id, sizeof(id));
	}
	ret = MHD_queue_response(conn, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Every URL here but the static assets needs a session; false (with the
 * 401 queued in *ret) when it has none. *serial is its serial (0: none
 * needed).
 */
static bool
signed_in(struct console *c, struct MHD_Connection *conn, const char *url,
    uint64_t *serial, enum MHD_Result *ret)
{
	struct secret *s;

	*serial = 0;
	if (c->auth_none)
		return true;
	if ((s = session_of(c, conn))) {
		*serial = s->s_serial;
		return true;
	}
	if (strncmp(url, "/api/", 5) == 0)
		*ret = queue(conn, MHD_HTTP_UNAUTHORIZED, text_response(
		    "{\"ok\":false,\"error\":\"not signed in, or the session expired: run arborctl console for a sign-in link\"}",
		    "application/json"));
	else
		*ret = reply_html(conn, MHD_HTTP_UNAUTHORIZED,
		    "sign in with arborctl console",
		    "This console shows the host's supervision tree and its workers' output, to those allowed to read them. Run <code>arborctl console</code> on the host (read access to arbord's control socket is enough) and open the link it prints.");
	return false;
}

enum MHD_Result
console_request(struct console *c, struct MHD_Connection *conn,
    const char *url, const char *method, void **con_cls)
{
	struct waiter *w = *con_cls;
	enum MHD_Result ret = MHD_NO;
	uint64_t serial = 0;
	const char *path;

	if (w) {	/* resumed: the answer is there */
		struct MHD_Response *r = w->resp;

		if (!r)
			return MHD_NO;
		w->resp = NULL;
		return queue(conn, w->code, r);
	}
	if (!host_allowed(c, conn))
		return reply_text(conn, MHD_HTTP_MISDIRECTED_REQUEST,
		    "misdirected: this Host is not arbord's listener (see observability.console_hosts)\n");
	/* A HEAD (a link preview's, say) must not use the token up. */
	if (strcmp(url, "/login") == 0 && strcmp(method, "GET") != 0) {
		struct MHD_Response *r = text_response("sign in with GET\n",
		    "text/plain; charset=utf-8");

		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
		return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	}
	if (strcmp(url, "/login") == 0)
		return login(c, conn);
	if ((strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 ||
	    strncmp(url, "/api/", 5) == 0) &&
	    !signed_in(c, conn, url, &serial, &ret))
		return ret;
	for (size_t i = 0; i < ARRAY_SIZE(assets); i++)
		if (strcmp(url, assets[i].url) == 0) {
			struct MHD_Response *r = MHD_create_response_from_buffer(
			    (size_t)(assets[i].end - assets[i].data),
			    (void *)(uintptr_t)assets[i].data,
			    MHD_RESPMEM_PERSISTENT);

			safe_headers(r, assets[i].type, true);
			return queue(conn, MHD_HTTP_OK, r);
		}
	if (strcmp(url, "/api/events") == 0)
		return open_stream(c, conn, serial);
	if (strcmp(url, "/api/logs") == 0)
		return api_logs(c, conn, con_cls);
	if (strcmp(url, "/api/status") == 0) {
		path = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
		    "path");
		return ask(c, conn, con_cls, UP_STATUS, path && *path ?
		    json_pack("{s:s, s:s}", "cmd", "status", "path", path) :
		    json_pack("{s:s}", "cmd", "status"));
	}
	return reply_text(conn, MHD_HTTP_NOT_FOUND,
	    "not found: try / or /metrics\n");
}

void
console_completed(struct console *c, void **con_cls)
{
	struct waiter *w = *con_cls;

	(void)c;
	if (!w)
		return;
	if (w->resp)
		MHD_destroy_response(w->resp);
	free(w);
	*con_cls = NULL;
}

int
console_tick(struct console *c, uint64_t now)
{
	int next = -1;

	for (size_t i = 0; i < CONSOLE_UPSTREAMS; i++) {
		if (!c->up[i])
			continue;
		if (now - c->up[i]->started >= UPSTREAM_TIMEOUT_NS)
			up_fail(c, i, MHD_HTTP_GATEWAY_TIMEOUT,
			    "arbord did not answer in 10 s");
		else
			next = 1000;
	}
	if (!c->streams)
		return next;
	/*
	 * A stream ends with its session (expired, or dropped for a newer
	 * one), within a second: the browser's reconnect then finds itself
	 * signed out. Once a second, not on every turn of a busy loop.
	 */
	if (now >= c->streams_checked + NSEC_PER_SEC) {
		c->streams_checked = now;
		for (struct stream *s = c->streams; s; s = s->next)
			if (s->session && !s->closing &&
			    !session_live(c, s->session, now))
				stream_end(s);
	}
	if (now >= c->ping_at) {
		/* A comment line: keeps proxies open, finds the gone. */
		for (struct stream *s = c->streams; s; s = s->next)
			stream_put(s, ": ping\n\n", 8);
		c->ping_at = now + STREAM_PING_NS;
	}
	return next < 0 || next > 1000 ? 1000 : next;
}

void
console_quiesce(struct console *c)
{
	for (size_t i = 0; i < CONSOLE_UPSTREAMS; i++)
		if (c->up[i])
			up_fail(c, i, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "the observability thread is ending");
	for (struct stream *s = c->streams; s; s = s->next)
		stream_end(s);
}

void
console_free(struct console *c)
{
	if (!c)
		return;
	/* Its secrets go with it, not left in freed memory. */
	explicit_bzero(c->tokens, sizeof(c->tokens));
	explicit_bzero(c->sessions, sizeof(c->sessions));
	strv_free(c->hosts);
	free(c->listen);
	free(c->scheme);
	free(c);
}
