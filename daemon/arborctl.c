/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arborctl: one request, one reply line (arborctl(8)). Exit codes: 0 success,
 * 1 arbord refused the command, 2 arbord could not be reached (or usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdbool.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "jw.h"
#include "util.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_UNREACHABLE = 2 };

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: arborctl [-s SOCKET] COMMAND [ARG...]\n"
	    "\n"
	    "  status [PATH] [--json]     the tree or a subtree\n"
	    "  start PATH                 start a stopped child\n"
	    "  stop PATH                  stop a child; it stays stopped\n"
	    "  restart PATH               stop then start it (no crash counted)\n"
	    "  pause PATH                 freeze a running worker (cgroup.freeze)\n"
	    "  resume PATH                thaw it\n"
	    "  signal PATH SIG            send SIG to the worker's process group\n"
	    "  start-child SUP [ARG...]   new child of a simple_one_for_one SUP\n"
	    "  terminate-child PATH       stop and remove a dynamic child\n"
	    "  reload                     re-read the configuration\n"
	    "  events [--follow]          events as JSON lines\n"
	    "  metrics                    the Prometheus exposition\n"
	    "  daemon                     arbord's pid, heap in use and RSS (bytes)\n"
	    "  trace --duration S -o FILE record a Perfetto trace\n"
	    "  logs PATH [-n N] [--follow] a worker's last N lines (20), then new ones\n"
	    "  console [--json]           a one-time sign-in link to the web console\n"
	    "  shutdown                   stop the tree and arbord\n"
	    "\n"
	    "The socket is -s, else $ARBOR_SOCKET, else /run/arbor/arbord.sock\n"
	    "(root) or $XDG_RUNTIME_DIR/arbor/arbord.sock.\n");
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "arborctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		/* The socket's group says who may connect (arborctl(8)). */
		fprintf(stderr, "arborctl: cannot reach arbord at %s: %s%s\n",
		    path, strerror(e), e == EACCES ?
		    " (only root, arbord's user and the members of daemon.socket_group or read_group may connect)" :
		    "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * The reply stream: read in big chunks (a status of a big tree is
 * megabytes, which one byte per read(2) made millions of system calls);
 * what follows the reply line stays here for the stream that comes after
 * it (events, logs).
 */
struct reader {
	int fd;
	size_t off, len;
	char buf[65536];
};

/* Reads one line; returns a malloc'd string or NULL on EOF/error. */
static char *
read_line(struct reader *r)
{
	size_t len = 0, cap = 4096;
	char *line = xcalloc(cap, 1);

	for (;;) {
		char *nl;
		size_t take;
		ssize_t n;

		if (r->off == r->len) {
			n = read(r->fd, r->buf, sizeof(r->buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				free(line);
				return NULL;
			}
			r->off = 0;
			r->len = (size_t)n;
		}
		nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		take = nl ? (size_t)(nl - (r->buf + r->off)) : r->len - r->off;
		if (len + take + 1 > cap) {
			while (len + take + 1 > cap)
				cap *= 2;
			line = xreallocarray(line, cap, 1);
		}
		memcpy(line + len, r->buf + r->off, take);
		len += take;
		r->off += take + (nl ? 1 : 0);
		if (nl) {
			line[len] = '\0';
			return line;
		}
	}
}

static void
format_duration(double s, char *buf, size_t len)
{
	long t = (long)s;

	if (t < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", t / 86400, (t % 86400) / 3600);
}

/* 1536 -> "1.5K", in powers of 1024 as the config's sizes. */
static void
format_bytes(double v, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0fB", v);
	else
		snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

/*
 * Text arbord sends holds what workers and checks wrote too (a health
 * target's body, sd_notify's STATUS=, a command that failed to start): for
 * a human, its control characters are shown escaped, never sent to the
 * terminal. C0 and DEL as \xHH, C1 (U+0080-U+009F, which some terminals
 * act on as ESC sequences) as \u00HH. A new string; "" for NULL.
 */
static char *
escaped(const char *s)
{
	size_t n = 0;
	char *out, *o;

	if (!s)
		return xstrdup("");
	out = o = xcalloc(strlen(s) * 4 + 1, 1);	/* \xHH per byte at most */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			n = (size_t)sprintf(o, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			n = (size_t)sprintf(o, "\\u%04x", p[1]);
			p++;
		} else {
			*o = (char)*p;
			n = 1;
		}
		o += n;
	}
	*o = '\0';
	return out;
}

/* s, escaped, then end (a newline, or ""). */
static void
put_text(FILE *f, const char *s, const char *end)
{
	char *e = escaped(s);

	fputs(e, f);
	fputs(end, f);
	free(e);
}

/*
 * stdout for JSON text, in big writes, with the control characters JSON
 * lets pass unescaped (DEL and C1, which jansson writes raw) as \u
 * escapes, which mean the same to a parser (they can only be inside
 * strings). A C1 control's first byte may end one chunk of a stream and
 * its second start the next.
 */
struct jsink {
	char buf[65536];
	size_t len;
	bool c2;	/* the last byte seen was 0xc2, not yet written */
};

static void
sink_flush(struct jsink *k)
{
	size_t done = 0;

	while (done < k->len) {
		ssize_t n = write(STDOUT_FILENO, k->buf + done, k->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* stdout closed: nothing more to say */
		done += (size_t)n;
	}
	k->len = 0;
}

static void
sink_put(struct jsink *k, const char *p, size_t n)
{
	while (n > 0) {
		size_t take = sizeof(k->buf) - k->len;

		if (take > n)
			take = n;
		memcpy(k->buf + k->len, p, take);
		k->len += take;
		p += take;
		n -= take;
		if (k->len == sizeof(k->buf))
			sink_flush(k);
	}
}

static void
sink_json(struct jsink *k, const char *p, size_t n)
{
	char esc[8];

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		size_t run = i;

		if (k->c2) {
			k->c2 = false;
			if (c >= 0x80 && c <= 0x9f) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				sink_put(k, esc, 6);
				continue;
			}
			sink_put(k, "\xc2", 1);
		}
		while (i < n && (unsigned char)p[i] != 0x7f &&
		    (unsigned char)p[i] != 0xc2)
			i++;
		sink_put(k, p + run, i - run);
		if (i == n)
			break;
		if ((unsigned char)p[i] == 0x7f)
			sink_put(k, "\\u007f", 6);
		else
			k->c2 = true;
	}
}

static struct jsink out_sink;

/* A JSON text and its newline, out as the sink writes it. */
static void
put_json(const char *s, size_t len)
{
	fflush(stdout);
	sink_json(&out_sink, s, len);
	sink_json(&out_sink, "\n", 1);
	sink_flush(&out_sink);
}

/*
 * The human status of a big tree without parsing it into objects: a tree
 * of 10,000 workers is megabytes of JSON, and building jansson's objects
 * for it (even one node at a time) took most of the command's time. The
 * reply's text is walked node by node; each node's members are found in
 * place, the few the table shows decoded, then its children in turn.
 * arbord's text is compact JSON.
 */

/* An object's members as they are in the text: a key (its quotes
 * included) and its value's bytes. */
struct member {
	const char *k, *v, *ve;
	size_t kl;
};

/* More than a node of arbord's status has; the rest are not shown. */
#define NODE_MEMBERS_MAX 32

struct node_text {
	struct member m[NODE_MEMBERS_MAX];
	size_t n;
};

/* The members of the object at p; past it, or NULL when it is not one. */
static const char *
scan_object(const char *p, const char *end, struct node_text *o)
{
	o->n = 0;
	if (p >= end || *p != '{')
		return NULL;
	p++;
	while (p < end && *p != '}') {
		const char *k = p, *v;

		if (*p != '"' || !(p = jw_skip_string(p, end)) || p >= end ||
		    *p != ':')
			return NULL;
		v = ++p;
		if (!(p = jw_skip_value(p, end)))
			return NULL;
		if (o->n < NODE_MEMBERS_MAX)
			o->m[o->n++] = (struct member){ .k = k, .kl =
			    (size_t)(v - 1 - k), .v = v, .ve = p };
		if (p < end && *p == ',')
			p++;
	}
	return p < end ? p + 1 : NULL;
}

/* The member key (written with its quotes: "\"pid\""), or NULL. */
static const struct member *
member_of(const struct node_text *o, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < o->n; i++)
		if (o->m[i].kl == kl && memcmp(o->m[i].k, key, kl) == 0)
			return &o->m[i];
	return NULL;
}

static bool
is_literal(const struct member *m, const char *lit)
{
	return m && (size_t)(m->ve - m->v) == strlen(lit) &&
	    memcmp(m->v, lit, strlen(lit)) == 0;
}

/* A number member: true and *v when it is one. */
static bool
number_of(const struct member *m, double *v)
{
	char buf[64], *e;
	size_t n;

	if (!m || (n = (size_t)(m->ve - m->v)) == 0 || n >= sizeof(buf) ||
	    !(*m->v == '-' || (*m->v >= '0' && *m->v <= '9')))
		return false;
	memcpy(buf, m->v, n);
	buf[n] = '\0';
	*v = strtod(buf, &e);
	return *e == '\0';
}

/* An integer member (digits, a '-' before them): true and *v. Without
 * strtod: a table of 10,000 rows reads some 30,000 of them. */
static bool
int_of(const struct member *m, long long *v)
{
	const char *p;
	unsigned long long u = 0;
	bool neg;

	if (!m)
		return false;
	p = m->v;
	if ((neg = p < m->ve && *p == '-'))
		p++;
	if (p == m->ve)
		return false;
	for (; p < m->ve; p++) {
		if (*p < '0' || *p > '9' || u > (unsigned long long)LLONG_MAX / 10)
			return false;
		u = u * 10 + (unsigned)(*p - '0');
	}
	if (u > (unsigned long long)LLONG_MAX)
		return false;
	*v = neg ? -(long long)u : (long long)u;
	return true;
}

static int
hex_of(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t
put_utf8(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * A string member decoded and escaped for a terminal, as escaped() does
 * (a new string; "" when absent or not a string). A \u0000 in it ends
 * the text, as jansson's strings end there; a lone surrogate is U+FFFD.
 */
static char *
text_of(const struct member *m)
{
	const char *p, *end;
	char *d, *o, *e;

	if (!m || *m->v != '"' || m->ve - m->v < 2)
		return xstrdup("");
	p = m->v + 1;
	end = m->ve - 1;
	o = d = xcalloc((size_t)(end - p) + 1, 1);	/* decoding shrinks */
	while (p < end) {
		unsigned long c;
		int h, l;

		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		if (++p >= end)
			break;
		switch (*p++) {
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u': break;
		default: *o++ = p[-1]; continue;
		}
		if (end - p < 4 || (h = hex_of(p)) < 0)
			break;
		p += 4;
		c = (unsigned long)h;
		if (h >= 0xd800 && h <= 0xdbff && end - p >= 6 && p[0] == '\\' &&
		    p[1] == 'u' && (l = hex_of(p + 2)) >= 0xdc00 && l <= 0xdfff) {
			c = 0x10000 + (((unsigned long)h - 0xd800) << 10) +
			    ((unsigned long)l - 0xdc00);
			p += 6;
		} else if (h >= 0xd800 && h <= 0xdfff)
			c = 0xfffd;
		if (c == 0)
			break;
		o += put_utf8(o, c);	/* at most 6 bytes of text for 4 */
	}
	*o = '\0';
	e = escaped(d);
	free(d);
	return e;
}

/* A nested object member (last_exit, health) scanned; false when absent. */
static bool
sub_object(const struct member *m, struct node_text *o)
{
	o->n = 0;
	return m && *m->v == '{' && scan_object(m->v, m->ve, o);
}

/* s, then spaces to width (left), or spaces then s (right): printf's
 * "%-*s" and "%*s", without printf's parsing for each of 10,000 rows. */
static void
put_col(const char *s, size_t width, bool left)
{
	size_t len = strlen(s);

	if (left)
		fwrite_unlocked(s, 1, len, stdout);
	for (; len < width; len++)
		putc_unlocked(' ', stdout);
	if (!left)
		fwrite_unlocked(s, 1, strlen(s), stdout);
}

/*
 * A string member as a terminal shows it, into buf when that is a plain
 * copy (no escape in the JSON, no control to show escaped, and it fits):
 * most of a big table's strings, without text_of's allocations. *owned is
 * the string to free when it was not.
 */
static const char *
text_in(const struct member *m, char *buf, size_t cap, char **owned)
{
	const char *p, *end;

	*owned = NULL;
	if (m && *m->v == '"' && m->ve - m->v >= 2 &&
	    (size_t)(m->ve - m->v - 2) < cap) {
		for (p = m->v + 1, end = m->ve - 1; p < end; p++) {
			unsigned char ch = (unsigned char)*p;

			if (ch < 0x20 || ch == '\\' || ch == 0x7f || ch == 0xc2)
				break;
		}
		if (p == end) {
			memcpy(buf, m->v + 1, (size_t)(end - m->v - 1));
			buf[end - m->v - 1] = '\0';
			return buf;
		}
	}
	return *owned = text_of(m);
}

/*
 * A number member with at most 9 digits before its point, 15 in all, and
 * no exponent (all arbord writes), rounded to dec (< 10) decimals as
 * printf's "%.*f" rounds it: *v is the value times 10^dec. A text exactly halfway
 * between two results is left to strtod and printf (false), which round
 * the binary value; any other text is further than the binary's error
 * from halfway, so the two agree.
 */
static bool
fixed_of(const struct member *m, int dec, long long *v)
{
	const char *p, *end;
	long long u = 0;
	int ip = 0, fd = 0;
	bool up = false;

	if (!m)
		return false;
	p = m->v;
	end = m->ve;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (++ip > 9)
			return false;
		u = u * 10 + (*p - '0');
	}
	if (ip == 0)
		return false;
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++, fd++) {
			if (ip + fd >= 15)
				return false;	/* more than a double holds */
			if (fd < dec)
				u = u * 10 + (*p - '0');
			else if (fd == dec) {
				const char *q = p + 1;

				while (q < end && *q == '0')
					q++;
				if (*p == '5' && (q == end || *q < '0' ||
				    *q > '9'))
					return false;	/* halfway */
				up = *p >= '5';
			}
		}
		if (fd == 0)
			return false;
	}
	if (p != end)
		return false;
	for (; fd < dec; fd++)
		u *= 10;
	*v = u + up;
	return true;
}

/* v's digits, NUL-terminated (buf: 24 bytes and more). */
static void
put_int(char *buf, long long v)
{
	buf[jw_digits(buf, v)] = '\0';
}

/* The whole seconds of a number member of at most 9 digits before its
 * point and 6 after (arbord's uptime: milliseconds), as format_duration's
 * (long) of it: too few digits to round up to the next second. */
static bool
whole_of(const struct member *m, long long *v)
{
	const char *p;
	long long u = 0;
	int ip = 0, fd = 0;

	if (!m)
		return false;
	for (p = m->v; p < m->ve && *p >= '0' && *p <= '9'; p++) {
		if (++ip > 9)
			return false;
		u = u * 10 + (*p - '0');
	}
	if (ip == 0)
		return false;
	if (p < m->ve && *p == '.')
		for (p++; p < m->ve && *p >= '0' && *p <= '9'; p++)
			fd++;
	if (p != m->ve || fd > 6)
		return false;
	*v = u;
	return true;
}

/* v / 10^dec with dec decimals ("%.*f" of a fixed_of value), then an 's'
 * (buf: 24 bytes and more). */
static void
put_seconds(char *buf, long long v, int dec)
{
	long long scale = 1;
	char *p;

	for (int i = 0; i < dec; i++)
		scale *= 10;
	put_int(buf, v / scale);
	p = buf + strlen(buf);
	*p++ = '.';
	for (long long d = scale / 10, r = v % scale; d > 0; d /= 10) {
		*p++ = (char)('0' + r / d);
		r %= d;
	}
	*p++ = 's';
	*p = '\0';
}

/* The members print_node shows, found in one pass over the node. */
struct shown {
	const struct member *path, *strategy, *status_text, *removing, *pid,
	    *uptime, *memory, *cpu, *last_exit, *paused, *state, *restarts,
	    *health;
};

static void
shown_of(const struct node_text *n, struct shown *s)
{
	static const struct { const char *key; size_t len, off; } keys[] = {
#define K(k, f) { "\"" k "\"", sizeof(k) + 1, offsetof(struct shown, f) }
		K("path", path), K("strategy", strategy),
		K("status_text", status_text), K("removing", removing),
		K("pid", pid), K("uptime_s", uptime), K("memory_bytes", memory),
		K("cpu_seconds", cpu), K("last_exit", last_exit),
		K("paused", paused), K("state", state), K("restarts", restarts),
		K("health", health),
#undef K
	};

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n->n; i++)
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			if (n->m[i].kl == keys[k].len &&
			    memcmp(n->m[i].k, keys[k].key, n->m[i].kl) == 0) {
				const struct member **slot = (const struct
				    member **)((char *)s + keys[k].off);

				if (!*slot)
					*slot = &n->m[i];
				break;
			}
}

/* Not inlined into ts_node's recursion: its buffers live for one row, not
 * for every level of a deep tree (TREE_DEPTH_MAX). */
static __attribute__((noinline)) void
print_node(const struct node_text *n, int depth)
{
	struct shown f;
	struct node_text le, h;
	char pathbuf[512], stratbuf[64], statebuf[32], labelbuf[640];
	char pidbuf[24] = "-", upbuf[32] = "-", rbuf[24];
	char membuf[16] = "-", cpubuf[32] = "-";
	char *path_owned, *strat_owned, *state_owned = NULL, *label_owned = NULL;
	const char *path, *name, *estrategy, *state, *label;
	char *exitstr = NULL;
	double v;
	long long i, restarts = 0;
	shown_of(n, &f);
	path = text_in(f.path, pathbuf, sizeof(pathbuf), &path_owned);
	name = strrchr(path, '/');
	name = depth == 0 || !name ? path : name + 1;
	estrategy = text_in(f.strategy, stratbuf, sizeof(stratbuf),
	    &strat_owned);
	/* One being removed shows beside the node that replaces it. */
	{
		const char *part[] = { name, f.strategy ? " (" : "", estrategy,
		    f.strategy ? ")" : "", is_literal(f.removing, "true") ?
		    " [removed]" : "" };
		size_t need = (size_t)depth * 2 + 1, at;
		char *b = labelbuf;

		for (size_t k = 0; k < ARRAY_SIZE(part); k++)
			need += strlen(part[k]);
		if (need > sizeof(labelbuf))
			b = label_owned = xcalloc(need, 1);
		memset(b, ' ', (size_t)depth * 2);
		at = (size_t)depth * 2;
		for (size_t k = 0; k < ARRAY_SIZE(part); k++) {
			memcpy(b + at, part[k], strlen(part[k]));
			at += strlen(part[k]);
		}
		b[at] = '\0';
		label = b;
	}
	if (int_of(f.pid, &i))
		put_int(pidbuf, i);
	if (fixed_of(f.uptime, 1, &i) && i < 600)	/* under a minute */
		put_seconds(upbuf, i, 1);
	else if (whole_of(f.uptime, &i) && i >= 60)
		format_duration((double)i, upbuf, sizeof(upbuf));
	else if (number_of(f.uptime, &v))
		format_duration(v, upbuf, sizeof(upbuf));
	if (int_of(f.memory, &i))
		format_bytes((double)i, membuf, sizeof(membuf));
	if (fixed_of(f.cpu, 2, &i))
		put_seconds(cpubuf, i, 2);
	else if (number_of(f.cpu, &v))
		snprintf(cpubuf, sizeof(cpubuf), "%.2fs", v);
	if (sub_object(f.last_exit, &le)) {
		const struct member *cause = member_of(&le, "\"cause\"");
		bool is_cause = cause && *cause->v == '"';
		char *reason = text_of(member_of(&le, "\"reason\""));
		char *sig = text_of(member_of(&le, "\"signal\""));
		char *ecause = text_of(cause);
		char *err = text_of(member_of(&le, "\"error\""));
		char stbuf[32] = "";

		if (int_of(member_of(&le, "\"status\""), &i))
			snprintf(stbuf, sizeof(stbuf), " status=%lld", i);
		exitstr = xasprintf("%s%s%s%s%s%s%s%s%s", reason, stbuf,
		    *sig ? " signal=" : "", sig, is_cause ? " (" : "", ecause,
		    is_cause && *err ? ": " : "", is_cause ? err : "",
		    is_cause ? ")" : "");
		free(reason);
		free(sig);
		free(ecause);
		free(err);
	}
	state = is_literal(f.paused, "true") ? "paused" :
	    text_in(f.state, statebuf, sizeof(statebuf), &state_owned);
	if (!int_of(f.restarts, &restarts))
		restarts = 0;
	put_int(rbuf, restarts);
	/* As "%-36s %-9s %8s %9s %8s %7s %8s  %s" (print_status_head). */
	{
		const struct { const char *s; size_t width; bool left; } col[] = {
			{ label, 36, true }, { state, 9, true },
			{ pidbuf, 8, false }, { upbuf, 9, false },
			{ rbuf, 8, false }, { membuf, 7, false },
			{ cpubuf, 8, false } };

		for (size_t c = 0; c < ARRAY_SIZE(col); c++) {
			put_col(col[c].s, col[c].width, col[c].left);
			putc_unlocked(' ', stdout);
		}
	}
	putc_unlocked(' ', stdout);
	fputs_unlocked(exitstr ? exitstr : "-", stdout);
	if (f.status_text && *f.status_text->v == '"') {
		char *t = text_of(f.status_text);

		printf("  \"%s\"", t);
		free(t);
	}
	/* A failing check is worth a glance; a passing one is the norm. */
	if (sub_object(f.health, &h) &&
	    is_literal(member_of(&h, "\"ok\""), "false")) {
		char *detail = text_of(member_of(&h, "\"detail\""));

		if (!int_of(member_of(&h, "\"failures\""), &i))
			i = 0;
		printf("  health failing (%lld in a row): %s", i, detail);
		free(detail);
	}
	putc_unlocked('\n', stdout);
	free(path_owned);
	free(strat_owned);
	free(state_owned);
	free(label_owned);
	free(exitstr);
}

/* Deeper than any tree arbord has (a path is at most 4095 bytes). */
#define TREE_DEPTH_MAX 2048

/*
 * The reply's text as it comes, a node at a time: the window holds the
 * node being read (pos is where it begins) and what was read past it.
 * Offsets from pos, not pointers, while reading: the window moves as it
 * is compacted or grows. With no reader it is a text already whole.
 */
struct tstream {
	struct reader *r;
	char *b;
	size_t pos, len, cap;
};

#define TS_CHUNK 65536

/* More bytes at the window's end; false when there are no more. What is
 * before pos goes once it is half the window (each byte moves about once). */
static bool
ts_more(struct tstream *t)
{
	size_t room;
	ssize_t n;

	if (!t->r)
		return false;
	if (t->pos > 0 && t->pos >= t->len / 2) {
		memmove(t->b, t->b + t->pos, t->len - t->pos);
		t->len -= t->pos;
		t->pos = 0;
	}
	if (t->cap - t->len < TS_CHUNK) {
		t->cap = t->cap * 2 > t->len + TS_CHUNK ? t->cap * 2 :
		    t->len + TS_CHUNK;
		t->b = xreallocarray(t->b, t->cap, 1);
	}
	room = TS_CHUNK;
	if (t->r->off < t->r->len) {
		n = (ssize_t)(t->r->len - t->r->off < room ?
		    t->r->len - t->r->off : room);
		memcpy(t->b + t->len, t->r->buf + t->r->off, (size_t)n);
		t->r->off += (size_t)n;
	} else
		do
			n = read(t->r->fd, t->b + t->len, room);
		while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	t->len += (size_t)n;
	return true;
}

/* The byte at offset at, read in as needed; -1 past the end. */
static int
ts_at(struct tstream *t, size_t at)
{
	while (t->pos + at >= t->len)
		if (!ts_more(t))
			return -1;
	return (unsigned char)t->b[t->pos + at];
}

/* The end of the value (or the string) at offset at, read in as needed;
 * 0 when the text ends before it does. */
static size_t
ts_end(struct tstream *t, size_t at, bool string)
{
	for (;;) {
		const char *s = t->b + t->pos + at, *end = t->b + t->len;
		const char *e = s >= end ? NULL : string ?
		    jw_skip_string(s, end) : jw_skip_value(s, end);

		if (e)
			return (size_t)(e - (t->b + t->pos));
		if (!ts_more(t))
			return 0;
	}
}

enum { TS_ENDED = -1, TS_MALFORMED = 0, TS_DONE = 1 };

/*
 * Reads a member at offset *p (a key, ':', its value) and past a ',' after
 * it; the offsets of its key and value in m. At "children", *p is left at
 * its value. TS_DONE, or how the text failed.
 */
static int
ts_member(struct tstream *t, size_t *p, size_t m[4], bool *kids)
{
	size_t k = *p, ke, ve;
	int c;

	if ((c = ts_at(t, k)) != '"')
		return c < 0 ? TS_ENDED : TS_MALFORMED;
	if (!(ke = ts_end(t, k, true)))
		return TS_ENDED;
	if ((c = ts_at(t, ke)) != ':')
		return c < 0 ? TS_ENDED : TS_MALFORMED;
	*kids = ke - k == 10 && memcmp(t->b + t->pos + k, "\"children\"",
	    10) == 0;
	if (*kids) {
		*p = ke + 1;
		return TS_DONE;
	}
	if (!(ve = ts_end(t, ke + 1, false)))
		return TS_ENDED;
	m[0] = k;
	m[1] = ke - k;
	m[2] = ke + 1;
	m[3] = ve;
	if ((c = ts_at(t, ve)) == ',')
		ve++;
	else if (c < 0)
		return TS_ENDED;
	*p = ve;
	return TS_DONE;
}

/*
 * Prints the node at the window's pos and those below it, and moves past
 * it: TS_DONE, or how the text failed. A node is printed when its
 * "children" begin (arbord writes them last): members after them are
 * read past, not shown.
 */
static int
ts_node(struct tstream *t, int depth)
{
	size_t m[NODE_MEMBERS_MAX][4], nm = 0, p, skip[4];
	struct node_text n;
	bool kids = false;
	int c, rc;

	if ((c = ts_at(t, 0)) != '{' || depth > TREE_DEPTH_MAX)
		return c < 0 ? TS_ENDED : TS_MALFORMED;
	for (p = 1; (c = ts_at(t, p)) != '}' && !kids;) {
		if ((rc = ts_member(t, &p, nm < NODE_MEMBERS_MAX ? m[nm] :
		    skip, &kids)) != TS_DONE)
			return rc;
		if (!kids && nm < NODE_MEMBERS_MAX)
			nm++;
	}
	if (c < 0)
		return TS_ENDED;
	n.n = nm;
	for (size_t i = 0; i < nm; i++) {
		const char *at = t->b + t->pos;

		n.m[i] = (struct member){ .k = at + m[i][0], .kl = m[i][1],
		    .v = at + m[i][2], .ve = at + m[i][3] };
	}
	print_node(&n, depth);
	if (kids) {
		if ((c = ts_at(t, p)) != '[')
			return c < 0 ? TS_ENDED : TS_MALFORMED;
		t->pos += p + 1;
		while ((c = ts_at(t, 0)) != ']') {
			if (c == ',')
				t->pos++;
			else if (c != '{')
				return c < 0 ? TS_ENDED : TS_MALFORMED;
			else if ((rc = ts_node(t, depth + 1)) != TS_DONE)
				return rc;
		}
		p = 1;
		if (ts_at(t, p) == ',')
			p++;
		while ((c = ts_at(t, p)) != '}')
			if (c < 0 || (rc = ts_member(t, &p, skip, &kids)) !=
			    TS_DONE)
				return c < 0 ? TS_ENDED : rc;
			else if (kids)
				return TS_MALFORMED;	/* "children" twice */
	}
	t->pos += p + 1;
	return TS_DONE;
}

static void
print_status_head(void)
{
	printf("%-36s %-9s %8s %9s %8s %7s %8s  %s\n", "NAME", "STATE", "PID",
	    "UPTIME", "RESTARTS", "MEM", "CPU", "LAST EXIT");
}

/* The table of the tree whose text t begins with; said when it fails. */
static bool
print_table(struct tstream *t)
{
	int rc;

	print_status_head();
	rc = ts_node(t, 0);
	if (rc != TS_DONE) {
		fflush(stdout);
		fputs(rc == TS_ENDED ? "arborctl: the reply ended midway\n" :
		    "arborctl: malformed reply\n", stderr);
	}
	free(t->b);
	t->b = NULL;
	return rc == TS_DONE;
}

static void
print_reload(json_t *r)
{
	static const char *const keys[] = { "added", "removed", "changed",
	    "updated" };
	bool any = false;
	json_t *p;
	size_t i;

	for (size_t k = 0; k < 4; k++) {
		json_t *a = json_object_get(r, keys[k]);

		if (json_array_size(a) == 0)
			continue;
		any = true;
		printf("%s:", keys[k]);
		json_array_foreach(a, i, p) {
			putchar(' ');
			put_text(stdout, json_string_value(p), "");
		}
		putchar('\n');
	}
	/* Daemon and observability keys: those that apply now; the others
	 * come as warnings below. */
	json_array_foreach(json_object_get(r, "settings"), i, p) {
		if (json_is_true(json_object_get(p, "restart")))
			continue;
		any = true;
		fputs("setting: ", stdout);
		put_text(stdout, json_string_value(json_object_get(p, "key")),
		    ": ");
		put_text(stdout, json_string_value(json_object_get(p, "from")),
		    " -> ");
		put_text(stdout, json_string_value(json_object_get(p, "to")),
		    "\n");
	}
	if (!any)
		printf("reloaded: nothing changed\n");
	json_array_foreach(json_object_get(r, "warnings"), i, p) {
		fputs("warning: ", stdout);
		put_text(stdout, json_string_value(p), "\n");
	}
}

struct output {
	bool json;		/* status --json */
	bool status;		/* status */
	bool wait_eof;		/* shutdown: return once arbord is gone */
	bool stream;		/* events: print lines after the reply */
	bool raw;		/* logs: copy the bytes after the reply */
	bool no_timeout;	/* events --follow, trace */
	bool console;		/* console: the URL (or with json, the reply) */
	const char *trace_file;	/* trace -o */
};

/*
 * Writes the trace to path, as root may in a directory another user can
 * write: never through a symlink, into a FIFO or a device, a file with
 * another link to it, or another user's file. A new file is 0644 less the
 * umask, as a shell's redirection would make it.
 */
static bool
write_trace(const char *path, json_t *trace)
{
	struct stat st;
	const char *why = NULL;
	FILE *f = NULL;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0644)) < 0)
		why = errno == ELOOP ? "a symlink, not followed" :
		    strerror(errno);
	else if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_nlink > 1)
		why = "a file with other links to it";
	else if (st.st_uid != geteuid())
		why = "another user's file";
	else if (ftruncate(fd, 0) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) &
	    ~O_NONBLOCK) < 0 || !(f = fdopen(fd, "w")))
		why = strerror(errno);
	errno = 0;
	if (!why && (json_dumpf(trace, f, JSON_COMPACT) < 0 || ferror(f)))
		why = strerror(errno ? errno : EIO);
	if (f) {
		if (fclose(f) != 0 && !why)
			why = strerror(errno);
	} else if (fd >= 0)
		close(fd);
	if (why)
		fprintf(stderr, "arborctl: %s: %s; not written\n", path, why);
	return !why;
}

/* What an ok reply carries, printed as the command asks. */
static int
print_reply(json_t *reply, const struct output *out)
{
	json_t *status = json_object_get(reply, "status");
	json_t *path = json_object_get(reply, "path");
	json_t *reload = json_object_get(reply, "reload");
	json_t *metrics = json_object_get(reply, "metrics");
	json_t *daemon = json_object_get(reply, "daemon");
	if (out->console) {
		char *text = out->json ? json_dumps(reply, JSON_COMPACT) : NULL;

		if (text)
			put_json(text, strlen(text));
		else if (json_is_string(json_object_get(reply, "url")))
			put_text(stdout, json_string_value(json_object_get(reply,
			    "url")), "\n");
		free(text);
	} else if (out->trace_file) {
		if (!write_trace(out->trace_file, json_object_get(reply,
		    "trace")))
			return EXIT_REFUSED;
	} else if (status && out->json) {
		char *text = json_dumps(status, JSON_COMPACT |
		    JSON_REAL_PRECISION(15));

		if (text)
			put_json(text, strlen(text));
		free(text);
	} else if (status) {
		char *text = json_dumps(status, JSON_COMPACT);
		struct tstream t = { .b = text, .len = text ? strlen(text) : 0 };

		if (!print_table(&t))
			return EXIT_UNREACHABLE;
	} else if (json_is_string(path))
		put_text(stdout, json_string_value(path), "\n");
	else if (reload)
		print_reload(reload);
	else if (json_is_string(metrics))
		fputs(json_string_value(metrics), stdout);
	else if (json_is_object(daemon)) {
		const char *k;
		json_t *v;

		json_object_foreach(daemon, k, v) {
			const char *pk;
			json_t *pv;

			if (json_is_integer(v)) {
				put_text(stdout, k, "");
				printf(" %" JSON_INTEGER_FORMAT "\n",
				    json_integer_value(v));
				continue;
			}
			if (json_is_string(v)) {
				put_text(stdout, k, " ");
				put_text(stdout, json_string_value(v), "\n");
				continue;
			}
			/* warnings: a line each. */
			for (size_t i = 0; i < json_array_size(v); i++)
				if (json_is_string(json_array_get(v, i))) {
					fputs("warning: ", stdout);
					put_text(stdout, json_string_value(
					    json_array_get(v, i)), "\n");
				}
			/* helpers: a line per helper. */
			if (!strcmp(k, "helpers")) {
				json_object_foreach(v, pk, pv) {
					char *line = xasprintf("helper %s %s pid %"
					    JSON_INTEGER_FORMAT " restarts %"
					    JSON_INTEGER_FORMAT, pk,
					    json_string_value(json_object_get(pv,
					    "state")) ?: "?",
					    json_integer_value(json_object_get(pv,
					    "pid")),
					    json_integer_value(json_object_get(pv,
					    "restarts")));

					put_text(stdout, line, "\n");
					free(line);
				}
				continue;
			}
			/* bpf_probes: a line per probe. */
			json_object_foreach(v, pk, pv) {
				const char *st = json_string_value(
				    json_object_get(pv, "state"));
				const char *pr = json_string_value(
				    json_object_get(pv, "program"));
				const char *why = json_string_value(
				    json_object_get(pv, "why"));

				char *line = xasprintf("bpf_probe %s %s%s%s", pk,
				    st ? st : "?", pr ? " " : why ? ": " : "",
				    pr ? pr : why ? why : "");

				put_text(stdout, line, "\n");
				free(line);
			}
		}
	}
	return EXIT_OK;
}

/* Log lines are bytes (a worker's own): copied as they come. */
static void
copy_out(struct reader *r)
{
	ssize_t n;

	if (r->off < r->len) {
		if (fwrite(r->buf + r->off, 1, r->len - r->off, stdout) !=
		    r->len - r->off)
			return;
		fflush(stdout);
		r->off = r->len;
	}
	while ((n = read(r->fd, r->buf, sizeof(r->buf))) > 0 ||
	    (n < 0 && errno == EINTR))
		if (n > 0 && fwrite(r->buf, 1, (size_t)n, stdout) != (size_t)n)
			return;
		else
			fflush(stdout);
}

/* Where TREE ends in a stream of its bytes (a string's braces are text). */
struct jdepth {
	int depth;
	bool in_str, esc;
};

/* How many of p's n bytes are TREE's; n when it has not ended in them. */
static size_t
tree_part(struct jdepth *d, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (d->in_str) {
			if (d->esc)
				d->esc = false;
			else if (c == '\\')
				d->esc = true;
			else if (c == '"')
				d->in_str = false;
		} else if (c == '"')
			d->in_str = true;
		else if (c == '{' || c == '[')
			d->depth++;
		else if ((c == '}' || c == ']') && --d->depth == 0)
			return i + 1;
	}
	return n;
}

/*
 * status --json: arbord's reply is {"ok":true,"status":TREE} in compact
 * JSON, as arborctl would print TREE itself; a big tree's is megabytes,
 * whose parse and print were half the command's time. A reply that begins
 * so has TREE's bytes printed as they come, up to where TREE ends (what
 * follows it in the reply is not printed, as when the reply was parsed);
 * anything else (an error) is left in the reader and parsed. A reply cut
 * short leaves what came printed, and says so. -1: the connection ended.
 */
/*
 * Whether the reply in r begins {"ok":true,"status":{ (read in as
 * needed): 1 so, with r past it up to TREE's '{'; 0 not so (an error),
 * r as it was; -1 the connection ended.
 */
static int
status_head(struct reader *r)
{
	static const char head[] = "{\"ok\":true,\"status\":{";
	const size_t hl = sizeof(head) - 1;

	while (r->len - r->off < hl) {
		ssize_t n;

		if (memchr(r->buf + r->off, '\n', r->len - r->off))
			return 0;	/* a short reply: not a status */
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return r->len ? 0 : -1;
		r->len += (size_t)n;
	}
	if (memcmp(r->buf + r->off, head, hl) != 0)
		return 0;
	r->off += hl - 1;	/* TREE's '{' is TREE's */
	return 1;
}

static int
stream_status(struct reader *r)
{
	struct jdepth d = { 0 };
	struct jsink *k = &out_sink;
	bool done = false;
	int h;

	if ((h = status_head(r)) <= 0)
		return h;
	fflush(stdout);
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		size_t end = nl ? (size_t)(nl - r->buf) : r->len;
		ssize_t n;

		if (!done && end > r->off) {
			size_t take = tree_part(&d, r->buf + r->off, end - r->off);

			sink_json(k, r->buf + r->off, take);
			done = d.depth == 0;
		}
		if (nl) {
			r->off = end + 1;
			break;
		}
		r->off = r->len = 0;
		do
			n = read(r->fd, r->buf, sizeof(r->buf));
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			break;
		r->len = (size_t)n;
	}
	if (done)
		sink_json(k, "\n", 1);
	sink_flush(k);
	if (!done) {
		fprintf(stderr, "arborctl: the reply ended midway\n");
		return -1;
	}
	return 1;
}

/* Sends req (taking it), prints the reply; returns the exit code. */
static int
run(const char *sock, json_t *req, const struct output *out)
{
	char *s = json_dumps(req, JSON_COMPACT);
	json_error_t jerr;
	json_t *reply, *ok;
	struct reader *rd;
	char *line;
	int fd, code, werr, gone = -1;

	json_decref(req);
	if ((fd = connect_to(sock)) < 0) {
		free(s);
		return EXIT_UNREACHABLE;
	}
	if (out->wait_eof) {
		/*
		 * arbord closes the connection before it has finished exiting
		 * (the probes and the cgroup go after the sockets): a pidfd
		 * of the socket's owner says when the process itself is gone.
		 * No pid (another pid namespace) or no pidfd: the close it is.
		 */
		struct ucred cr;
		socklen_t len = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
		    cr.pid > 0)
			gone = (int)syscall(SYS_pidfd_open, cr.pid, 0);
	}
	if (out->no_timeout) {
		struct timeval none = { 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	}
	/* A refusal may come before the request is read: read it anyway. */
	werr = dprintf(fd, "%s\n", s) < 0 ? errno : 0;
	free(s);
	rd = xcalloc(1, sizeof(*rd));
	rd->fd = fd;
	if (out->status && !out->json && (code = status_head(rd)) > 0) {
		struct tstream t = { .r = rd };

		code = print_table(&t) ? EXIT_OK : EXIT_UNREACHABLE;
		free(rd);
		close(fd);
		if (gone >= 0)
			close(gone);
		return code;
	}
	if (out->status && out->json && (code = stream_status(rd)) != 0) {
		free(rd);
		close(fd);
		if (gone >= 0)
			close(gone);
		return code > 0 ? EXIT_OK : EXIT_UNREACHABLE;
	}
	line = read_line(rd);
	if (!line) {
		if (werr)
			fprintf(stderr, "arborctl: write: %s\n", strerror(werr));
		else
			fprintf(stderr, "arborctl: no reply from arbord\n");
		free(rd);
		close(fd);
		if (gone >= 0)
			close(gone);
		return EXIT_UNREACHABLE;
	}
	reply = json_loads(line, 0, &jerr);
	ok = json_object_get(reply, "ok");
	if (!reply || !json_is_boolean(ok)) {
		fputs("arborctl: malformed reply: ", stderr);
		put_text(stderr, line, "\n");
		free(line);
		free(rd);
		json_decref(reply);
		close(fd);
		if (gone >= 0)
			close(gone);
		return EXIT_UNREACHABLE;
	}
	if (!json_is_true(ok)) {
		json_t *errors = json_object_get(reply, "errors"), *e;
		size_t i;

		json_array_foreach(errors, i, e)
			put_text(stderr, json_string_value(e), "\n");
		fputs("arborctl: ", stderr);
		put_text(stderr, json_string_value(json_object_get(reply,
		    "error")), "\n");
		code = EXIT_REFUSED;
	} else {
		code = print_reply(reply, out);
		if (out->stream) {
			char *ev;

			setvbuf(stdout, NULL, _IOLBF, 0);
			while ((ev = read_line(rd))) {
				put_json(ev, strlen(ev));
				free(ev);
			}
		}
		if (out->raw)
			copy_out(rd);
		if (out->wait_eof) {
			/* shutdown: return once arbord has gone. */
			struct timeval tv = { 0 };
			char b;

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			while (read(fd, &b, 1) > 0 || errno == EINTR)
				;
			if (gone >= 0) {
				struct pollfd pfd = { .fd = gone, .events = POLLIN };

				while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
					;
			}
		}
	}
	free(line);
	free(rd);
	json_decref(reply);
	close(fd);
	if (gone >= 0)
		close(gone);
	return code;
}

/*
 * Each command fills the request from its arguments (argv[0] is the
 * command) and says how to print the reply; -1 after a usage message.
 */
typedef int (*build_fn)(json_t *req, int argc, char **argv,
    struct output *out);

static int
bad_arg(const char *cmd, const char *arg)
{
	fprintf(stderr, "arborctl: %s: unexpected \"%s\"\n", cmd, arg);
	return -1;
}

static int
build_status(json_t *req, int argc, char **argv, struct output *out)
{
	out->status = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			out->json = true;
		else if (!json_object_get(req, "path"))
			json_object_set_new(req, "path", json_string(argv[i]));
		else
			return bad_arg(argv[0], argv[i]);
	}
	return 0;
}

static int
build_path(json_t *req, int argc, char **argv, struct output *out)
{
	(void)argc;
	(void)out;
	json_object_set_new(req, "path", json_string(argv[1]));
	return 0;
}

static int
build_signal(json_t *req, int argc, char **argv, struct output *out)
{
	build_path(req, argc, argv, out);
	json_object_set_new(req, "signal", json_string(argv[2]));
	return 0;
}

static int
build_start_child(json_t *req, int argc, char **argv, struct output *out)
{
	json_t *args = json_array();

	build_path(req, argc, argv, out);
	for (int i = 2; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	json_object_set_new(req, "args", args);
	return 0;
}

static int
build_none(json_t *req, int argc, char **argv, struct output *out)
{
	(void)req;
	(void)argc;
	out->wait_eof = strcmp(argv[0], "shutdown") == 0;
	return 0;
}

static int
build_events(json_t *req, int argc, char **argv, struct output *out)
{
	out->stream = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") != 0 && strcmp(argv[i], "-f") != 0)
			return bad_arg(argv[0], argv[i]);
		json_object_set_new(req, "follow", json_true());
		out->no_timeout = true;
	}
	return 0;
}

static int
build_logs(json_t *req, int argc, char **argv, struct output *out)
{
	char *end;
	long n;

	out->raw = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
			json_object_set_new(req, "follow", json_true());
			out->no_timeout = true;
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || n < 0 || n > 1000000) {
				fprintf(stderr, "arborctl: logs: -n takes a number of lines from 0 to 1000000\n");
				return -1;
			}
			json_object_set_new(req, "lines", json_integer(n));
		} else if (argv[i][0] != '-' && !json_object_get(req, "path"))
			json_object_set_new(req, "path", json_string(argv[i]));
		else
			return bad_arg(argv[0], argv[i]);
	}
	if (!json_object_get(req, "path")) {
		fprintf(stderr, "arborctl: logs PATH [-n N] [--follow]\n");
		return -1;
	}
	return 0;
}

static int
build_console(json_t *req, int argc, char **argv, struct output *out)
{
	(void)req;
	out->console = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0)
			return bad_arg(argv[0], argv[i]);
		out->json = true;
	}
	return 0;
}

static int
build_trace(json_t *req, int argc, char **argv, struct output *out)
{
	double secs = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out->trace_file = argv[++i];
		else
			secs = -1;
	}
	if (secs <= 0 || !out->trace_file) {
		fprintf(stderr, "arborctl: trace --duration SECONDS -o FILE\n");
		return -1;
	}
	json_object_set_new(req, "duration", json_real(secs));
	out->no_timeout = true;
	return 0;
}

/* The commands, as control.c has them; -1: any number of arguments. */
static const struct command {
	const char *name;
	int min_args, max_args;
	build_fn build;
} commands[] = {
	{ "status", 0, -1, build_status },
	{ "start", 1, 1, build_path },
	{ "stop", 1, 1, build_path },
	{ "restart", 1, 1, build_path },
	{ "pause", 1, 1, build_path },
	{ "resume", 1, 1, build_path },
	{ "terminate-child", 1, 1, build_path },
	{ "signal", 2, 2, build_signal },
	{ "start-child", 1, -1, build_start_child },
	{ "shutdown", 0, 0, build_none },
	{ "reload", 0, 0, build_none },
	{ "metrics", 0, 0, build_none },
	{ "daemon", 0, 0, build_none },
	{ "events", 0, -1, build_events },
	{ "trace", 0, -1, build_trace },
	{ "logs", 1, -1, build_logs },
	{ "console", 0, 1, build_console },
};

/* Takes -s and -h; returns how many arguments it took, or -1 (exit). */
static int
options(int argc, char **argv, const char **sock, int *code)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			*sock = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			*code = EXIT_OK;
			return -1;
		} else {
			fprintf(stderr, "arborctl: unknown option %s\n", argv[i]);
			usage(stderr);
			*code = EXIT_UNREACHABLE;
			return -1;
		}
	}
	return i;
}

int
main(int argc, char **argv)
{
	const char *sock_opt = NULL;
	const struct command *cmd = NULL;
	struct output out = { 0 };
	char *sock;
	json_t *req;
	int code = EXIT_UNREACHABLE, first;

	signal(SIGPIPE, SIG_IGN);
	if ((first = options(argc, argv, &sock_opt, &code)) < 0)
		return code;
	argc -= first;
	argv += first;
	if (argc < 1) {
		usage(stderr);
		return EXIT_UNREACHABLE;
	}
	/* Requests are JSON, whose strings are UTF-8: say so rather than send
	 * a request with the argument missing. */
	for (int i = 0; i < argc; i++)
		if (!utf8_valid(argv[i])) {
			fprintf(stderr, "arborctl: argument %d is not valid "
			    "UTF-8; requests carry UTF-8 text only\n", i + 1);
			return EXIT_UNREACHABLE;
		}
	for (size_t i = 0; i < ARRAY_SIZE(commands) && !cmd; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "arborctl: unknown command \"%s\"\n", argv[0]);
		usage(stderr);
		return EXIT_UNREACHABLE;
	}
	if (argc - 1 < cmd->min_args ||
	    (cmd->max_args >= 0 && argc - 1 > cmd->max_args)) {
		fprintf(stderr, "arborctl: %s: wrong number of arguments\n",
		    cmd->name);
		usage(stderr);
		return EXIT_UNREACHABLE;
	}
	req = json_pack("{s:s}", "cmd", cmd->name);
	if (cmd->build(req, argc, argv, &out) < 0) {
		json_decref(req);
		return EXIT_UNREACHABLE;
	}
	sock = sock_opt ? xstrdup(sock_opt) : default_socket_path();
	code = run(sock, req, &out);
	free(sock);
	return code;
}
