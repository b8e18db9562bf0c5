/* SPDX-License-Identifier: BSD-2-Clause */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "console.h"
#include "http.h"
#include "../config/webconf.h"
#include "../daemon/util.h"

/*
 * Limits set on purpose: a flood of scrapes, or of connections that never
 * finish a request (a slowloris), must stay cheap and never keep a scrape
 * out. arbord accepts connections itself, so that the kernel's backlog
 * never holds clients behind slow ones, and counts them before handing
 * them to libmicrohttpd:
 * - A request has HTTP_REQUEST_S to arrive whole, from its accept (or the
 *   previous reply on a kept-alive connection), however steadily it
 *   trickles in; libmicrohttpd's HTTP_TIMEOUT_S bounds only a silence.
 * - Requests still arriving ("pending") are at most an eighth of arbord's
 *   fd limit (between HTTP_PENDING_MIN and HTTP_PENDING_MAX; the tree's
 *   workers need the rest), half of them from one address. Past either,
 *   one pending (of that address) is cut to make room: the oldest of
 *   those that sent part of a request (a whole request comes in one
 *   piece), else the oldest. A newcomer is never kept out by slow ones;
 *   at most HTTP_ACCEPT_BURST are taken between two runs of
 *   libmicrohttpd, which reads what has arrived.
 * - While HTTP_MAX_CONNECTIONS have their request in (being answered,
 *   the console's event streams, which are never cut), HTTP_MAX_PER_IP
 *   of them from its address, a newcomer is closed at once.
 * A cut connection is shut down; libmicrohttpd sees its end and closes it
 * (it keeps the slot until then: its own limit leaves room for those).
 */
#define HTTP_MAX_CONNECTIONS 160
#define HTTP_MAX_PER_IP 128
#define HTTP_PENDING_MIN 64
#define HTTP_PENDING_MAX 1024
#define HTTP_ACCEPT_BURST 32
#define HTTP_REQUEST_S 5
#define HTTP_TIMEOUT_S 5

/*
 * Basic auth (web_config's basic_auth_users): bcrypt costs tens of
 * milliseconds on purpose, here in the observability thread. A password
 * that verified is remembered, as the SHA-256 of its user and itself, in
 * AUTH_CACHE slots (the oldest goes), so a scrape every few seconds costs
 * a hash, not a bcrypt. A password not remembered is tried only while
 * the thread has bcrypt time left: AUTH_SHARE of each second, up to
 * AUTH_BURST saved, each try charged what it took (a hash's cost sets it:
 * a cost of 13 is eight times one of 10). Past it, a 429: a flood of
 * wrong passwords holds the thread for at most a quarter of each second,
 * whatever the hashes' cost.
 */
#define AUTH_CACHE 16
#define AUTH_BURST 0.6		/* seconds of bcrypt */
#define AUTH_SHARE 0.25
#define AUTH_REALM "arbor"
/* A client's address, its port left out. */
struct haddr {
	sa_family_t ha_family;
	unsigned char ha_bytes[16];
};

/* One connection of libmicrohttpd's (its socket context). */
struct hconn {
	int hc_fd;
	struct haddr hc_addr;
	uint64_t hc_since;	/* pending: when its request began */
	bool hc_pending, hc_cut;
	bool hc_begun;		/* pending, with its request line in */
	struct hconn *hc_prev, *hc_next;	/* every connection */
	struct hconn *hc_pprev, *hc_pnext;	/* pending, oldest first */
};

struct http {
	struct MHD_Daemon *d;
	int listen_fd;
	int spare_fd;		/* given up to accept (and close) when out of fds */
	http_render_fn render;
	void *ctx;
	struct console *con;	/* NULL: no console */
	struct hconn *conns;
	struct hconn *pend_head, *pend_tail;
	size_t nconns, ncut, npending;
	size_t pend_max, slots;	/* from the fd limit, at http_open */
	/* web_config: NULL, neither TLS nor basic auth */
	struct web_conf *web;
	struct crypt_data *cd;	/* crypt_rn's room (32 KiB) */
	unsigned char auth_ok[AUTH_CACHE][32];	/* see AUTH_CACHE */
	size_t nauth_ok, auth_next;
	double auth_tokens;
	uint64_t auth_at;	/* when auth_tokens was counted */
};

static void
addr_of(const struct sockaddr *sa, struct haddr *a)
{
	memset(a, 0, sizeof(*a));
	if (!sa)
		return;
	a->ha_family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(a->ha_bytes, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(a->ha_bytes, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
}

static bool
addr_eq(const struct haddr *a, const struct haddr *b)
{
	return a->ha_family == b->ha_family &&
	    memcmp(a->ha_bytes, b->ha_bytes, sizeof(a->ha_bytes)) == 0;
}

/* c's request begins now: it is the youngest pending. */
static void
pend(struct http *h, struct hconn *c, uint64_t now)
{
	if (c->hc_pending || c->hc_cut)
		return;
	c->hc_pending = true;
	c->hc_begun = false;
	c->hc_since = now;
	c->hc_pnext = NULL;
	c->hc_pprev = h->pend_tail;
	if (h->pend_tail)
		h->pend_tail->hc_pnext = c;
	else
		h->pend_head = c;
	h->pend_tail = c;
	h->npending++;
}

static void
unpend(struct http *h, struct hconn *c)
{
	if (!c->hc_pending)
		return;
	if (c->hc_pprev)
		c->hc_pprev->hc_pnext = c->hc_pnext;
	else
		h->pend_head = c->hc_pnext;
	if (c->hc_pnext)
		c->hc_pnext->hc_pprev = c->hc_pprev;
	else
		h->pend_tail = c->hc_pprev;
	c->hc_pending = false;
	h->npending--;
}

/* Ends c: libmicrohttpd sees the shutdown and closes it (on_connection). */
static void
cut(struct http *h, struct hconn *c)
{
	unpend(h, c);
	c->hc_cut = true;
	h->ncut++;
	(void)shutdown(c->hc_fd, SHUT_RDWR);
}

/*
 * The pending connection to cut for a newcomer, from a only if a is not
 * NULL: the oldest that sent part of its request, else the oldest. A
 * client that sends its request in one piece is never the first, however
 * fast others come (cut ones coming straight back among them).
 */
static struct hconn *
victim(const struct http *h, const struct haddr *a)
{
	struct hconn *first = NULL;

	for (struct hconn *c = h->pend_head; c; c = c->hc_pnext) {
		if (a && !addr_eq(&c->hc_addr, a))
			continue;
		if (c->hc_begun)
			return c;
		if (!first)
			first = c;
	}
	return first;
}

/*
 * Makes room for a connection from sa (see the limits above); false when
 * it is to be closed at once instead.
 */
static bool
admit(struct http *h, const struct sockaddr *sa)
{
	struct haddr a;
	struct hconn *old;
	size_t live = 0, pending = 0;

	addr_of(sa, &a);
	for (struct hconn *c = h->conns; c; c = c->hc_next)
		if (!c->hc_cut && addr_eq(&c->hc_addr, &a)) {
			if (c->hc_pending)
				pending++;
			else
				live++;
		}
	if (live >= HTTP_MAX_PER_IP ||
	    h->nconns - h->ncut - h->npending >= HTTP_MAX_CONNECTIONS)
		return false;
	if (pending >= h->pend_max / 2 && (old = victim(h, &a)))
		cut(h, old);
	else if (h->npending >= h->pend_max && (old = victim(h, NULL)))
		cut(h, old);
	return h->nconns < h->slots;
}

/* libmicrohttpd's connections as they come and go. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct http *h = cls;
	struct hconn *c = *socket_ctx;
	const union MHD_ConnectionInfo *fd, *sa;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		fd = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		sa = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		c = xcalloc(1, sizeof(*c));
		c->hc_fd = fd ? fd->connect_fd : -1;
		addr_of(sa ? sa->client_addr : NULL, &c->hc_addr);
		c->hc_next = h->conns;
		if (h->conns)
			h->conns->hc_prev = c;
		h->conns = c;
		h->nconns++;
		pend(h, c, mono_ns());
		*socket_ctx = c;
		return;
	}
	if (!c)
		return;
	unpend(h, c);
	if (c->hc_cut)
		h->ncut--;
	if (c->hc_prev)
		c->hc_prev->hc_next = c->hc_next;
	else
		h->conns = c->hc_next;
	if (c->hc_next)
		c->hc_next->hc_prev = c->hc_prev;
	h->nconns--;
	free(c);
	*socket_ctx = NULL;
}

/* The connection's record; NULL if libmicrohttpd has none for it. */
static struct hconn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

/* A request line is in, its headers not yet (libmicrohttpd's URI log). */
static void *
on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct hconn *c = conn_of(conn);

	(void)cls;
	(void)uri;
	if (c && c->hc_pending)
		c->hc_begun = true;
	return NULL;	/* con_cls stays NULL until console_request */
}

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

/* a and b, of n bytes, equal: in a time that does not tell where not. */
static bool
same_bytes(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* Whether user's password verified before (see AUTH_CACHE). */
static bool
auth_cached(const struct http *h, const unsigned char *key)
{
	bool found = false;

	for (size_t i = 0; i < h->nauth_ok; i++)
		found |= same_bytes(h->auth_ok[i], key, 32);
	return found;
}

/* A token for a bcrypt, if one is left (see AUTH_BURST). */
static bool
auth_token(struct http *h)
{
	uint64_t now = mono_ns();

	h->auth_tokens += (double)(now - h->auth_at) / NSEC_PER_SEC *
	    AUTH_SHARE;
	if (h->auth_tokens > AUTH_BURST)
		h->auth_tokens = AUTH_BURST;
	h->auth_at = now;
	return h->auth_tokens > 0;
}

/*
 * user and password against basic_auth_users, with bcrypt (libxcrypt's
 * crypt_rn). An unknown user costs a bcrypt too (against the first
 * user's hash, always refused): the time does not tell which users exist.
 */
static bool
auth_verify(struct http *h, const char *user, const char *pass)
{
	const struct web_user *u = NULL;
	const char *out;
	bool ok;

	for (size_t i = 0; i < h->web->nusers; i++)
		if (strcmp(h->web->users[i].name, user) == 0)
			u = &h->web->users[i];
	uint64_t t0 = mono_ns();

	memset(h->cd, 0, sizeof(*h->cd));
	out = crypt_rn(pass, u ? u->hash : h->web->users[0].hash, h->cd,
	    sizeof(*h->cd));
	ok = u && out && strlen(out) == strlen(u->hash) &&
	    same_bytes(out, u->hash, strlen(u->hash));
	explicit_bzero(h->cd, sizeof(*h->cd));
	/* Charged what it took (auth_token). */
	h->auth_tokens -= (double)(mono_ns() - t0) / NSEC_PER_SEC;
	return ok;
}

/*
 * Every request, whatever its path, when web_config has users (as
 * exporter-toolkit does): false with a 401 (or a 429) queued in *ret.
 */
static bool
web_allowed(struct http *h, struct MHD_Connection *c, enum MHD_Result *ret)
{
	struct MHD_Response *r;
	char *user, *pass = NULL, *in;
	unsigned char key[32];
	bool ok = false, busy = false;

	if (!h->web || !h->web->nusers)
		return true;
	if ((user = MHD_basic_auth_get_username_password(c, &pass)) && pass) {
		in = xasprintf("%s%c%s", user, '\0', pass);
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, in,
		    strlen(user) + 1 + strlen(pass), key) < 0)
			memset(key, 0, sizeof(key));
		explicit_bzero(in, strlen(user) + 1 + strlen(pass));
		free(in);
		if (auth_cached(h, key))
			ok = true;
		else if (!auth_token(h))
			busy = true;
		else if ((ok = auth_verify(h, user, pass))) {
			memcpy(h->auth_ok[h->auth_next], key, sizeof(key));
			h->auth_next = (h->auth_next + 1) % AUTH_CACHE;
			if (h->nauth_ok < AUTH_CACHE)
				h->nauth_ok++;
		}
		explicit_bzero(key, sizeof(key));
	}
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	if (ok)
		return true;
	if (busy) {
		r = MHD_create_response_from_buffer(strlen(
		    "too many sign-in attempts: try again in a second\n"),
		    (void *)(uintptr_t)"too many sign-in attempts: try again in a second\n",
		    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "text/plain");
		*ret = MHD_queue_response(c, MHD_HTTP_TOO_MANY_REQUESTS, r);
	} else {
		r = MHD_create_response_from_buffer(strlen(
		    "unauthorized: a user of web_config is needed\n"),
		    (void *)(uintptr_t)"unauthorized: a user of web_config is needed\n",
		    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "text/plain");
		*ret = MHD_queue_basic_auth_fail_response(c, AUTH_REALM, r);
	}
	MHD_destroy_response(r);
	return false;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http *h = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct hconn *hc;
	size_t len, zlen;
	char *body, *z;

	(void)version;
	(void)upload_data;
	if ((hc = conn_of(c)))
		unpend(h, hc);	/* its headers are in: no longer to be cut */
	if (!web_allowed(h, c, &ret))
		return ret;
	if (*upload_data_size) {
		*upload_data_size = 0;	/* a body is not for us: drop it */
		return MHD_YES;
	}
	/* Read-only, whatever the path: nothing here changes anything. */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics") != 0) {
		if (h->con)
			return console_request(h->con, c, url, method, con_cls);
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
	struct hconn *hc = conn_of(c);

	/* Kept alive, it waits for its next request, within the same time. */
	if (hc && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		pend(h, hc, mono_ns());
	if (h->con)
		console_completed(h->con, con_cls);
}

/*
 * web_config's part of the daemon: TLS from the certificate and key read
 * at load (libmicrohttpd's own, GnuTLS; it makes the handshake on the
 * connections handed to it, so plain HTTP is never served there), and the
 * room to verify passwords. tls gets the options (3 and the end).
 */
static void
web_setup(struct http *h, const struct web_conf *web, unsigned *flags,
    struct MHD_OptionItem *tls)
{
	size_t n = 0;

	if (web) {
		h->web = webconf_dup(web);
		if (h->web->nusers) {
			h->cd = xcalloc(1, sizeof(*h->cd));
			h->auth_tokens = AUTH_BURST;
			h->auth_at = mono_ns();
		}
	}
	if (h->web && h->web->cert) {
		*flags |= MHD_USE_TLS;
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
		    0, h->web->cert };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY,
		    0, h->web->key };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
		    0, h->web->priorities };
	}
	tls[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
}

static void
web_free(struct http *h)
{
	free(h->cd);
	explicit_bzero(h->auth_ok, sizeof(h->auth_ok));
	webconf_free(h->web);
}

struct http *
http_open(const char *listen, int listen_fd, http_render_fn render,
    void *ctx, const struct http_console *hc, const struct web_conf *web,
    char *err, size_t errlen)
{
	struct MHD_OptionItem tls[4];
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	struct http *h;
	struct rlimit rl;

	if (getsockname(listen_fd, (struct sockaddr *)&sa, &salen) < 0) {
		snprintf(err, errlen, "%s: the listener: %s", listen,
		    strerror(errno));
		return NULL;
	}
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = xcalloc(1, sizeof(*h));
	h->render = render;
	h->ctx = ctx;
	/* The core's socket stays the core's: a reopen takes it again. */
	if ((h->listen_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		snprintf(err, errlen, "%s: dup: %s", listen, strerror(errno));
		free(h);
		return NULL;
	}
	h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	h->pend_max = HTTP_PENDING_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 8 < HTTP_PENDING_MAX)
		h->pend_max = rl.rlim_cur / 8 > HTTP_PENDING_MIN ?
		    rl.rlim_cur / 8 : HTTP_PENDING_MIN;
	/* Room for those cut that libmicrohttpd has not closed yet. */
	h->slots = HTTP_MAX_CONNECTIONS + h->pend_max + 2 * HTTP_ACCEPT_BURST;
	errno = 0;
	web_setup(h, web, &flags, tls);
	h->d = MHD_start_daemon(flags | MHD_USE_NO_LISTEN_SOCKET, 0, NULL,
	    NULL, on_request, h,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->slots,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    MHD_OPTION_URI_LOG_CALLBACK, on_request_line, h,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "%s: libmicrohttpd: %s%s", listen,
		    errno ? strerror(errno) : "cannot start",
		    h->web && h->web->cert ? " (with TLS)" : "");
		close(h->listen_fd);
		if (h->spare_fd >= 0)
			close(h->spare_fd);
		web_free(h);
		free(h);
		return NULL;
	}
	if (hc)
		h->con = console_new(hc->epfd, hc->dial, hc->dial_ctx,
		    &hc->ops, &hc->conf);
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
 * Takes up to HTTP_ACCEPT_BURST connections (the listener stays readable
 * for the rest), each past admit or closed. Out of fds, the spare fd makes
 * room to accept and close one, so the listener never spins on a
 * connection it cannot take.
 */
void
http_accept(struct http *h)
{
	for (int n = 0; n < HTTP_ACCEPT_BURST; n++) {
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
		if (!admit(h, (struct sockaddr *)&sa)) {
			close(fd);
			continue;
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
	MHD_stop_daemon(h->d);	/* each connection's record freed with it */
	console_free(h->con);
	close(h->listen_fd);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	web_free(h);
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
	uint64_t now, due;
	int ms = -1;

	if (MHD_get_timeout(h->d, &t) == MHD_YES)
		ms = t > 60000 ? 60000 : (int)t;
	if (h->pend_head) {
		now = mono_ns();
		due = h->pend_head->hc_since + HTTP_REQUEST_S * NSEC_PER_SEC;
		t = due > now ? (due - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC : 0;
		if (ms < 0 || t < (MHD_UNSIGNED_LONG_LONG)ms)
			ms = (int)t;
	}
	return ms;
}

void
http_run(struct http *h)
{
	uint64_t now = mono_ns();

	/* The requests out of time are cut; this run closes them. */
	while (h->pend_head && now - h->pend_head->hc_since >=
	    HTTP_REQUEST_S * NSEC_PER_SEC)
		cut(h, h->pend_head);
	MHD_run(h->d);
}
