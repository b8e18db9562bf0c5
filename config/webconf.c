/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * observability.web_config (webconf.h): exporter-toolkit's YAML, parsed
 * with libyaml's document API. Every key it does not know, and every
 * security setting arbord does not implement, is an error naming it: a
 * setting silently dropped would leave a listener more open than its
 * operator wrote.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "webconf.h"
#include "../daemon/util.h"

/* The web config file, and each certificate or key, is at most this. */
#define WEB_FILE_MAX (1u << 20)

/* Of a bad file, the problems said, and the length of a key quoted. */
#define WEB_ERRORS_SHOWN 8
#define WEB_KEY_SHOW 40
/* bcrypt's cost, at most (2^16 rounds: seconds a try). */
#define WEB_BCRYPT_COST_MAX 16

struct wctx {
	const char *file;
	web_report_fn report;
	void *ctx;
	int nerrors;
	yaml_document_t *doc;
};

static void __attribute__((format(printf, 5, 6)))
say(struct wctx *w, bool warn, const yaml_node_t *at, const char *key,
    const char *fmt, ...)
{
	va_list ap;
	char *msg, *line;

	char shortkey[32];

	if (!warn && w->nerrors++ >= WEB_ERRORS_SHOWN)
		return;		/* counted; webconf_load says how many more */
	/* A key is quoted only when it looks like one (a name, a user's, a
	 * dotted path of them): a file that is not a web config at all, one
	 * named by mistake, is not copied into arbord's log line by line. */
	if (key && (strlen(key) > WEB_KEY_SHOW ||
	    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-") != strlen(key))) {
		snprintf(shortkey, sizeof(shortkey), "%s", "(a key that is not a name)");
		key = shortkey;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (at && key)
		line = xasprintf("%s:%zu: %s: %s%s", w->file,
		    at->start_mark.line + 1, key, warn ? "warning: " : "", msg);
	else if (at)
		line = xasprintf("%s:%zu: %s%s", w->file,
		    at->start_mark.line + 1, warn ? "warning: " : "", msg);
	else if (key)
		line = xasprintf("%s: %s: %s%s", w->file, key,
		    warn ? "warning: " : "", msg);
	else
		line = xasprintf("%s: %s%s", w->file, warn ? "warning: " : "",
		    msg);
	free(msg);
	w->report(w->ctx, warn, line);
}

/*
 * As root, a file that others (or a group other than root's) can write,
 * or below a directory they can write that is not sticky, could be
 * replaced by them: the certificate and key arbord serves, the users it
 * lets in. NULL, or why not (malloc'd).
 */
static char *
untrusted(const char *path, const struct stat *st)
{
	char *real, *slash, *why = NULL;

	if (geteuid() != 0)
		return NULL;
	if (st->st_uid != 0)
		return xasprintf("owned by uid %u, who could change it; arbord running as root reads only root's (chown root)",
		    (unsigned)st->st_uid);
	if ((st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) &&
	    st->st_gid != 0))
		return xasprintf("writable by %s (mode %04o); arbord running as root refuses it (chmod go-w)",
		    st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
	if (!(real = realpath(path, NULL)))
		return xasprintf("%s", strerror(errno));
	while (!why && (slash = strrchr(real, '/'))) {
		struct stat d;

		slash[slash == real] = '\0';	/* "/a/b" -> "/a", "/a" -> "/" */
		if (stat(real, &d) == 0 && d.st_uid != 0)
			why = xasprintf("its directory %s is owned by uid %u, who could replace it; arbord running as root refuses it (chown root)",
			    real, (unsigned)d.st_uid);
		else if (stat(real, &d) == 0 && !(d.st_mode & S_ISVTX) &&
		    ((d.st_mode & S_IWOTH) || ((d.st_mode & S_IWGRP) &&
		    d.st_gid != 0)))
			why = xasprintf("its directory %s is writable by %s (mode %04o); arbord running as root refuses it (chmod go-w)",
			    real, d.st_mode & S_IWOTH ? "others" : "its group",
			    (unsigned)(d.st_mode & 07777));
		if (slash == real)
			break;
	}
	free(real);
	return why;
}

/*
 * The path as written, before its symlinks are resolved: a symlink in it
 * (the last name or a directory's) could be retargeted by whoever owns the
 * directory it sits in, or can write there (sticky or not), and so point
 * root anywhere. Each name of the path is looked at without following it;
 * a symlink must sit in a directory only root owns and writes. Followed
 * elsewhere, as certbot's live/ directory of links is. NULL, or why not.
 */
static char *
link_untrusted(const char *path, const char *real)
{
	char *p, *slash, *why = NULL;

	if (geteuid() != 0 || strcmp(path, real) == 0)
		return NULL;
	p = xstrdup(path);
	for (slash = strchr(p + 1, '/'); !why; slash = strchr(slash + 1, '/')) {
		struct stat l, d;
		char *end = slash ? slash : p + strlen(p);
		char save = *end, *dir_end;

		*end = '\0';
		if (lstat(p, &l) == 0 && S_ISLNK(l.st_mode)) {
			dir_end = strrchr(p, '/');
			*dir_end = '\0';
			if (stat(*p ? p : "/", &d) == 0 && (l.st_uid != 0 ||
			    d.st_uid != 0 || (d.st_mode & S_IWOTH) ||
			    ((d.st_mode & S_IWGRP) && d.st_gid != 0)))
				why = xasprintf("\"%s\" goes through a symlink in %s, which %s: name the file itself",
				    path, *p ? p : "/", d.st_uid != 0 ?
				    "another user owns" : l.st_uid != 0 ?
				    "holds a link of another user's" :
				    "others can write");
			*dir_end = '/';
		}
		*end = save;
		if (!slash)
			break;
	}
	free(p);
	return why;
}

/*
 * The whole of path, a regular file of at most WEB_FILE_MAX, opened
 * without ever blocking (a FIFO is refused before any read). Its symlinks
 * are resolved first, each checked (link_untrusted), and what they lead
 * to opened with O_NOFOLLOW. NULL with why set (malloc'd).
 */
static char *
read_whole(const char *path, struct stat *st, char **why, size_t *lenp)
{
	char *text, *real;
	size_t len = 0;
	int fd;

	*why = NULL;
	if (!(real = realpath(path, NULL))) {
		*why = xasprintf("cannot read \"%s\": %s", path,
		    strerror(errno));
		return NULL;
	}
	if ((*why = link_untrusted(path, real))) {
		free(real);
		return NULL;
	}
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	free(real);
	if (fd < 0) {
		*why = xasprintf("cannot read \"%s\": %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, st) < 0)
		*why = xasprintf("\"%s\": fstat: %s", path, strerror(errno));
	else if (!S_ISREG(st->st_mode))
		*why = xasprintf("\"%s\" is not a regular file", path);
	else if ((uint64_t)st->st_size > WEB_FILE_MAX)
		*why = xasprintf("\"%s\" is larger than %u KiB", path,
		    WEB_FILE_MAX >> 10);
	else if ((text = untrusted(path, st))) {
		*why = xasprintf("\"%s\": %s", path, text);
		free(text);
	}
	if (*why) {
		close(fd);
		return NULL;
	}
	text = xcalloc((size_t)st->st_size + 1, 1);
	while (len < (size_t)st->st_size) {
		ssize_t n = read(fd, text + len, (size_t)st->st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = xasprintf("cannot read \"%s\": %s", path,
			    strerror(errno));
			explicit_bzero(text, len);
			free(text);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (lenp)
		*lenp = len;
	return text;
}

static bool
is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* A scalar's text ("" for a null), or NULL after an error. */
static const char *
scalar(struct wctx *w, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		say(w, false, n, key, "expected a string, got a %s",
		    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
		return NULL;
	}
	return is_null(n) ? "" : (const char *)n->data.scalar.value;
}

/* Whether the mapping m (at key) has k before the pair p: given twice. */
static bool
repeated(struct wctx *w, const yaml_node_t *m, const yaml_node_pair_t *p,
    const char *name)
{
	for (const yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p;
	    q++) {
		const yaml_node_t *k = yaml_document_get_node(w->doc, q->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, name) == 0)
			return true;
	}
	return false;
}

/* The pairs of a mapping, each key a scalar: fn(w, key node, value node). */
static void
each_pair(struct wctx *w, const yaml_node_t *m, const char *key,
    void (*fn)(struct wctx *, const char *, const yaml_node_t *,
    const yaml_node_t *, void *), void *arg)
{
	if (is_null(m))
		return;
	if (m->type != YAML_MAPPING_NODE) {
		say(w, false, m, key, "expected a mapping (key: value lines)");
		return;
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	    p < m->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		char *path;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			say(w, false, k, key ? key : "(top level)",
			    "a key that is not a string");
			continue;
		}
		path = key ? xasprintf("%s.%s", key,
		    (const char *)k->data.scalar.value) :
		    xstrdup((const char *)k->data.scalar.value);
		if (repeated(w, m, p, (const char *)k->data.scalar.value))
			say(w, false, k, path, "given twice");
		else
			fn(w, path, k, v, arg);
		free(path);
	}
}

struct tls_keys {
	const char *cert_file, *key_file;
	const yaml_node_t *cert_at, *key_at;
	int min, max;		/* 10-13 */
	const yaml_node_t *min_at;
};

static int
tls_version(struct wctx *w, const char *path, const yaml_node_t *v)
{
	static const char *const names[] = { "TLS10", "TLS11", "TLS12",
		"TLS13" };
	const char *s = scalar(w, v, path);

	if (!s)
		return 0;
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return 10 + i;
	say(w, false, v, path, "expected \"TLS10\", \"TLS11\", \"TLS12\" or \"TLS13\", got \"%s\"",
	    s);
	return 0;
}

static void
tls_key(struct wctx *w, const char *path, const yaml_node_t *k,
    const yaml_node_t *v, void *arg)
{
	/* exporter-toolkit's keys that arbord does not implement. */
	static const char *const unsupported[] = { "cert", "key", "client_ca",
		"client_ca_file", "client_allowed_sans", "cipher_suites",
		"prefer_server_cipher_suites", "curve_preferences", NULL };
	struct tls_keys *t = arg;
	const char *name = (const char *)k->data.scalar.value, *s;
	int ver;

	if (strcmp(name, "cert_file") == 0) {
		t->cert_file = scalar(w, v, path);
		t->cert_at = v;
	} else if (strcmp(name, "key_file") == 0) {
		t->key_file = scalar(w, v, path);
		t->key_at = v;
	} else if (strcmp(name, "min_version") == 0) {
		if ((ver = tls_version(w, path, v))) {
			t->min = ver;
			t->min_at = v;
		}
	} else if (strcmp(name, "max_version") == 0) {
		if ((ver = tls_version(w, path, v)))
			t->max = ver;
	} else if (strcmp(name, "client_auth_type") == 0) {
		/* Its default, said out loud, is what arbord does. */
		if ((s = scalar(w, v, path)) && *s &&
		    strcmp(s, "NoClientCert") != 0)
			say(w, false, v, path, "\"%s\" is not supported: arbord asks for no client certificate (only \"NoClientCert\"); use basic_auth_users",
			    s);
	} else {
		for (const char *const *u = unsupported; *u; u++)
			if (strcmp(name, *u) == 0) {
				say(w, false, k, path, "not supported by arbord (arbor.conf(5), OBSERVABILITY: web_config)");
				return;
			}
		say(w, false, k, path, "unknown key");
	}
}

/* "$2b$10$" and 53 characters of bcrypt's base64: a bcrypt hash. */
static bool
is_bcrypt(const char *h)
{
	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' ||
	    !strchr("aby", h[2]) || h[3] != '$' || h[6] != '$' ||
	    h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' ||
	    (h[4] - '0') * 10 + (h[5] - '0') < 4 ||
	    (h[4] - '0') * 10 + (h[5] - '0') > 31)
		return false;
	return strspn(h + 7, "./ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789") == 53;
}

static void
user_key(struct wctx *w, const char *path, const yaml_node_t *k,
    const yaml_node_t *v, void *arg)
{
	struct web_conf *wc = arg;
	const char *name = (const char *)k->data.scalar.value, *h;
	int ok;

	if (!*name || strchr(name, ':')) {
		say(w, false, k, path, "not a user name (empty, or with a ':')");
		return;
	}
	if (!(h = scalar(w, v, path)))
		return;
	if (!is_bcrypt(h)) {
		say(w, false, v, path, "not a bcrypt hash (\"$2y$10$\" and 53 characters; htpasswd -nBC 10 \"\" makes one)");
		return;
	}
	/* Each try of a password not remembered takes the observability
	 * thread this long: 2^cost rounds, some 4 s at 16 here, hours at 31. */
	if ((h[4] - '0') * 10 + (h[5] - '0') > WEB_BCRYPT_COST_MAX) {
		say(w, false, v, path, "bcrypt cost %.2s is over %d: each try of a wrong password would hold arbord's observability thread for seconds or more (htpasswd -nBC 10 \"\" makes one of 10)",
		    h + 4, WEB_BCRYPT_COST_MAX);
		return;
	}
	ok = crypt_checksalt(h);
	if (ok == CRYPT_SALT_INVALID || ok == CRYPT_SALT_METHOD_DISABLED) {
		say(w, false, v, path, "libxcrypt takes no such hash here (crypt_checksalt)");
		return;
	}
	wc->users = xreallocarray(wc->users, wc->nusers + 1,
	    sizeof(*wc->users));
	wc->users[wc->nusers].name = xstrdup(name);
	wc->users[wc->nusers].hash = xstrdup(h);
	wc->nusers++;
}

struct top {
	struct web_conf *wc;
	struct tls_keys tls;
	const yaml_node_t *tls_at;
};

static void
top_key(struct wctx *w, const char *path, const yaml_node_t *k,
    const yaml_node_t *v, void *arg)
{
	struct top *t = arg;
	const char *name = (const char *)k->data.scalar.value;

	if (strcmp(name, "tls_server_config") == 0) {
		t->tls_at = k;
		each_pair(w, v, path, tls_key, &t->tls);
	} else if (strcmp(name, "basic_auth_users") == 0)
		each_pair(w, v, path, user_key, t->wc);
	else if (strcmp(name, "http_server_config") == 0 ||
	    strcmp(name, "rate_limit") == 0)
		say(w, false, k, path, "not supported by arbord (arbor.conf(5), OBSERVABILITY: web_config)");
	else
		say(w, false, k, path, "unknown key");
}

/* A file the web config names, relative to the web config's directory. */
static char *
beside(const char *file, const char *name)
{
	const char *slash = strrchr(file, '/');

	if (name[0] == '/' || !slash)
		return xstrdup(name);
	return xasprintf("%.*s/%s", (int)(slash - file), file, name);
}

/* The certificate and key read and checked as a pair with GnuTLS. */
static void
load_tls(struct wctx *w, struct top *t)
{
	struct web_conf *wc = t->wc;
	struct tls_keys *k = &t->tls;
	const char *cf = k->cert_file ? k->cert_file : "";
	const char *kf = k->key_file ? k->key_file : "";
	char *cert, *key, *why;
	struct stat st;
	size_t clen = 0, klen = 0;

	if (!*cf && !*kf)
		return;		/* exporter-toolkit's "no TLS" */
	if (!*cf || !*kf) {
		say(w, false, t->tls_at, "tls_server_config",
		    "cert_file and key_file go together: give both, or neither for plain HTTP");
		return;
	}
	cert = beside(w->file, cf);
	key = beside(w->file, kf);
	if (!(wc->cert = read_whole(cert, &st, &why, &clen))) {
		say(w, false, k->cert_at, "tls_server_config.cert_file", "%s",
		    why);
		free(why);
	}
	if (!(wc->key = read_whole(key, &st, &why, &klen))) {
		say(w, false, k->key_at, "tls_server_config.key_file", "%s",
		    why);
		free(why);
	} else if (st.st_mode & S_IROTH)
		say(w, true, k->key_at, "tls_server_config.key_file",
		    "\"%s\" is readable by every user (mode %04o): chmod o-r",
		    key, (unsigned)(st.st_mode & 07777));
	if (wc->cert && wc->key) {
		gnutls_certificate_credentials_t cred;
		gnutls_datum_t c = { (unsigned char *)wc->cert,
		    (unsigned)clen }, kd = { (unsigned char *)wc->key,
		    (unsigned)klen };
		int rc;

		if (gnutls_certificate_allocate_credentials(&cred) < 0)
			say(w, false, t->tls_at, "tls_server_config",
			    "GnuTLS: out of memory");
		else {
			rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &kd,
			    GNUTLS_X509_FMT_PEM, NULL, 0);
			if (rc < 0)
				say(w, false, t->tls_at, "tls_server_config",
				    "\"%s\" and \"%s\": not a PEM certificate and its unencrypted key: %s",
				    cert, key, gnutls_strerror(rc));
			gnutls_certificate_free_credentials(cred);
		}
	}
	free(cert);
	free(key);
}

/* GnuTLS's priorities for the versions allowed (TLS 1.2 up by default). */
static void
set_priorities(struct wctx *w, struct top *t)
{
	struct tls_keys *k = &t->tls;
	gnutls_priority_t pc;
	const char *errpos;
	size_t off;
	char buf[128];

	if (!k->min)
		k->min = 12;
	if (!k->max)
		k->max = 13;
	if (k->min > k->max) {
		say(w, false, k->min_at, "tls_server_config.min_version",
		    "above max_version");
		return;
	}
	off = (size_t)snprintf(buf, sizeof(buf), "NORMAL:-VERS-ALL");
	for (int v = k->max; v >= k->min; v--)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    ":+VERS-TLS1.%d", v - 10);
	if (gnutls_priority_init(&pc, buf, &errpos) < 0) {
		say(w, false, t->tls_at, "tls_server_config",
		    "GnuTLS takes no priorities \"%s\"", buf);
		return;
	}
	gnutls_priority_deinit(pc);
	t->wc->priorities = xstrdup(buf);
}

static void
set_digest(struct web_conf *wc, const char *text)
{
	gnutls_hash_hd_t hd;
	unsigned char d[32];

	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0)
		return;
	gnutls_hash(hd, text, strlen(text) + 1);
	if (wc->cert)
		gnutls_hash(hd, wc->cert, strlen(wc->cert) + 1);
	if (wc->key)
		gnutls_hash(hd, wc->key, strlen(wc->key) + 1);
	gnutls_hash_deinit(hd, d);
	for (int i = 0; i < 8; i++)
		snprintf(wc->digest + 2 * i, 3, "%02x", d[i]);
}

struct web_conf *
webconf_load(const char *file, web_report_fn report, void *ctx)
{
	struct wctx w = { .file = file, .report = report, .ctx = ctx };
	struct top t = { 0 };
	yaml_parser_t p;
	yaml_document_t doc;
	const yaml_node_t *root;
	struct stat st;
	char *text, *why;
	size_t len;

	if (!(text = read_whole(file, &st, &why, &len))) {
		say(&w, false, NULL, NULL, "%s", why);
		free(why);
		return NULL;
	}
	t.wc = xcalloc(1, sizeof(*t.wc));
	t.wc->file = xstrdup(file);
	if (!yaml_parser_initialize(&p)) {
		say(&w, false, NULL, NULL, "libyaml: out of memory");
		goto out;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		char *where = p.context ? xasprintf(" %s", p.context) : NULL;

		w.report(w.ctx, false, xasprintf("%s:%zu: syntax error: %s%s",
		    file, p.problem_mark.line + 1,
		    p.problem ? p.problem : "not YAML", where ? where : ""));
		w.nerrors++;
		free(where);
		yaml_parser_delete(&p);
		goto out;
	}
	w.doc = &doc;
	/* An empty file is an empty configuration: plain HTTP, no users. */
	if ((root = yaml_document_get_root_node(&doc)))
		each_pair(&w, root, NULL, top_key, &t);
	if (w.nerrors == 0) {
		load_tls(&w, &t);
		if (t.wc->cert && t.wc->key)
			set_priorities(&w, &t);
	}
	if (w.nerrors == 0 && t.wc->nusers && !t.wc->cert)
		say(&w, true, NULL, "basic_auth_users",
		    "without tls_server_config: passwords cross the network in the clear");
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
out:
	if (w.nerrors == 0)
		set_digest(t.wc, text);
	explicit_bzero(text, len);
	free(text);
	if (w.nerrors > WEB_ERRORS_SHOWN)
		w.report(w.ctx, false, xasprintf("%s: %d more problems not shown",
		    file, w.nerrors - WEB_ERRORS_SHOWN));
	if (w.nerrors > 0) {
		webconf_free(t.wc);
		return NULL;
	}
	return t.wc;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct web_conf *
webconf_dup(const struct web_conf *wc)
{
	struct web_conf *d;

	if (!wc)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->file = xstrdup(wc->file);
	d->cert = dup_or_null(wc->cert);
	d->key = dup_or_null(wc->key);
	d->priorities = dup_or_null(wc->priorities);
	memcpy(d->digest, wc->digest, sizeof(d->digest));
	if (wc->nusers)
		d->users = xcalloc(wc->nusers, sizeof(*d->users));
	for (size_t i = 0; i < wc->nusers; i++) {
		d->users[i].name = xstrdup(wc->users[i].name);
		d->users[i].hash = xstrdup(wc->users[i].hash);
	}
	d->nusers = wc->nusers;
	return d;
}

/*
 * Packed: NUL-ended strings, file, then "C" and cert and key or "-" (no
 * TLS), priorities or "-", digest, the number of users, each user's name
 * and hash.
 */
char *
webconf_pack(const struct web_conf *wc, size_t *len)
{
	char *b = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&b, &n);

	if (!f)
		fatal("%s: open_memstream: out of memory", __func__);
	fprintf(f, "%s%c", wc->file, 0);
	if (wc->cert)
		fprintf(f, "C%c%s%c%s%c", 0, wc->cert, 0, wc->key ? wc->key :
		    "", 0);
	else
		fprintf(f, "-%c", 0);
	fprintf(f, "%s%c%s%c%zu%c", wc->priorities ? wc->priorities : "-", 0,
	    wc->digest, 0, wc->nusers, 0);
	for (size_t i = 0; i < wc->nusers; i++)
		fprintf(f, "%s%c%s%c", wc->users[i].name, 0, wc->users[i].hash,
		    0);
	fclose(f);
	*len = n;
	return b;
}

/* The next string of b[*at..len), NULL when it is not NUL-ended. */
static const char *
unpack_str(const char *b, size_t len, size_t *at)
{
	const char *s = b + *at, *end;

	if (*at >= len || !(end = memchr(s, '\0', len - *at)))
		return NULL;
	*at += (size_t)(end - s) + 1;
	return s;
}

struct web_conf *
webconf_unpack(const char *b, size_t len)
{
	struct web_conf *wc = xcalloc(1, sizeof(*wc));
	const char *s, *t;
	size_t at = 0;
	char *end;

	if (!(s = unpack_str(b, len, &at)))
		goto bad;
	wc->file = xstrdup(s);
	if (!(s = unpack_str(b, len, &at)))
		goto bad;
	if (!strcmp(s, "C")) {
		if (!(s = unpack_str(b, len, &at)) ||
		    !(t = unpack_str(b, len, &at)))
			goto bad;
		wc->cert = xstrdup(s);
		wc->key = xstrdup(t);
	}
	if (!(s = unpack_str(b, len, &at)))
		goto bad;
	wc->priorities = strcmp(s, "-") ? xstrdup(s) : NULL;
	if (!(s = unpack_str(b, len, &at)) || strlen(s) >= sizeof(wc->digest))
		goto bad;
	strcpy(wc->digest, s);
	if (!(s = unpack_str(b, len, &at)))
		goto bad;
	wc->nusers = strtoul(s, &end, 10);
	if (*end || wc->nusers > len / 2) {
		wc->nusers = 0;
		goto bad;
	}
	if (wc->nusers)
		wc->users = xcalloc(wc->nusers, sizeof(*wc->users));
	for (size_t i = 0; i < wc->nusers; i++) {
		if (!(s = unpack_str(b, len, &at)) ||
		    !(t = unpack_str(b, len, &at))) {
			wc->nusers = i;
			goto bad;
		}
		wc->users[i].name = xstrdup(s);
		wc->users[i].hash = xstrdup(t);
	}
	return wc;
bad:
	webconf_free(wc);
	return NULL;
}

void
webconf_free(struct web_conf *wc)
{
	if (!wc)
		return;
	if (wc->key)
		explicit_bzero(wc->key, strlen(wc->key));
	free(wc->key);
	free(wc->cert);
	free(wc->file);
	free(wc->priorities);
	for (size_t i = 0; i < wc->nusers; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	free(wc);
}
