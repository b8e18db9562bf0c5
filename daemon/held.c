/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sockets held for workers, and their fd stores (held.h). A socket
 * belongs to a worker's path, or for a pool's children to the pool's path
 * (they share their template's sockets, so several processes accept on
 * one). Bound once; a reload keeps a socket whose entry did not change.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "held.h"
#include "jw.h"
#include "obsq.h"
#include "log.h"
#include "rotate.h"
#include "util.h"

struct hsock {
	char *owner;		/* the worker's path, or its pool's */
	struct spec_socket k;	/* its own copy of the entry */
	char *where;		/* "FILE:LINE: PATH: sockets[i]" for messages */
	int fd;
	bool borrowed;		/* a reload's: fd is still the old set's */
	bool adjust;		/* borrowed with other keys: held_keep applies them */
	char *tmp;		/* a reload's new socket file, bound here until
				 * held_keep renames it into place */
};

struct hset {
	struct hsock **v;
	size_t n;
};

struct held {
	struct reactor *r;
	struct hset set;
	struct obs_sockets *table;	/* the observability helper's view */
	uint64_t window_start;	/* drops are said at most 5 times a second */
	unsigned window_lines;
	uint64_t dropped;
};

struct held_next {
	struct hset set;
	bool *taken;		/* per socket of the old set: kept in this one */
	size_t nold;
	bool applied;		/* held_apply: the sets are swapped */
};

static void unlink_in_dir(const char *path);

static void
hsock_free(struct hsock *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp) {
		unlink_in_dir(s->tmp);
		free(s->tmp);
	}
	free(s->owner);
	free(s->where);
	free(s->k.listen);
	free(s->k.name);
	free(s->k.owner);
	free(s->k.group);
	free(s);
}

static void
hset_free(struct hset *set)
{
	for (size_t i = 0; i < set->n; i++)
		hsock_free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

/*
 * Resolves the absolute directory path dir into real (PATH_MAX), as
 * realpath does, but refuses a symlink on the way that another user could
 * change: one owned by someone other than root or arbord's user, or in a
 * directory others (or a group but root's) may write, unless sticky. So
 * nobody else can send a later lookup of that path elsewhere; the
 * directories it leads to are dir_open_safe's to check. -1 with why.
 */
static int
resolve_trusted(const char *dir, char *real, char *why, size_t len)
{
	char rest[2 * PATH_MAX], target[PATH_MAX], cand[PATH_MAX + NAME_MAX + 2];
	size_t at = 0, n;
	unsigned links = 0;
	struct stat st;
	int up;

	if (dir[0] != '/' || strlen(dir) >= sizeof(rest)) {
		snprintf(why, len, "%.200s: not an absolute path", dir);
		return -1;
	}
	strcpy(rest, dir);
	real[0] = '\0';
	while (rest[at]) {
		const char *comp;
		ssize_t t;

		at += strspn(rest + at, "/");
		n = strcspn(rest + at, "/");
		if (n == 0)
			break;
		comp = rest + at;
		at += n;
		if (n == 1 && comp[0] == '.')
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			char *slash = strrchr(real, '/');

			if (slash)
				*slash = '\0';
			continue;
		}
		if (snprintf(cand, sizeof(cand), "%s/%.*s", real, (int)n, comp) >=
		    PATH_MAX) {
			snprintf(why, len, "%.200s: path too long", dir);
			return -1;
		}
		if (lstat(cand, &st) < 0) {
			snprintf(why, len, "%.200s: %s", cand, strerror(errno));
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			strcpy(real, cand);
			continue;
		}
		if (!S_ISLNK(st.st_mode)) {
			snprintf(why, len, "%.200s: not a directory", cand);
			return -1;
		}
		if (++links > 40) {
			snprintf(why, len, "%.200s: too many levels of symbolic links", dir);
			return -1;
		}
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			snprintf(why, len, "%.120s: a symlink owned by uid %u, neither root nor arbord's user: not followed",
			    cand, (unsigned)st.st_uid);
			return -1;
		}
		/* Its directory, as one on dir_open_safe's way. */
		up = open(real[0] ? real : "/",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (up < 0 || !dir_trusted(up, real[0] ? real : "/",
		    (int)strlen(real[0] ? real : "/"), false, why, len)) {
			if (up < 0)
				snprintf(why, len, "%.200s: %s", real, strerror(errno));
			else
				close(up);
			return -1;
		}
		close(up);
		if ((t = readlink(cand, target, sizeof(target) - 1)) < 0) {
			snprintf(why, len, "%.200s: readlink: %s", cand, strerror(errno));
			return -1;
		}
		target[t] = '\0';
		/* The link's target, then what was left after it. */
		if ((size_t)t + 1 + strlen(rest + at) >= sizeof(rest)) {
			snprintf(why, len, "%.200s: path too long", dir);
			return -1;
		}
		memmove(rest + t + 1, rest + at, strlen(rest + at) + 1);
		memcpy(rest, target, (size_t)t);
		rest[t] = '/';
		at = 0;
		if (target[0] == '/')
			real[0] = '\0';
	}
	if (!real[0])
		strcpy(real, "/");
	return 0;
}

/*
 * The directory of a socket file, opened for its name alone to be worked
 * on: its path resolved with no symlink another user could change
 * (resolve_trusted; /var/run -> /run is root's), then walked from "/" with
 * no symlink followed, each directory checked (dir_open_safe) at the
 * moment of use, not only when the config was loaded. *name is set to the
 * last component of path. -1 with why.
 */
static int
sock_dir(const char *path, const char **name, char *why, size_t len)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	char real[PATH_MAX];
	int fd;

	*name = slash ? strrchr(path, '/') + 1 : path;
	if (!slash) {
		snprintf(why, len, "%s: not an absolute path", path);
		free(dir);
		return -1;
	}
	slash[slash == dir] = '\0';	/* "/a" -> "/" */
	if (resolve_trusted(dir, real, why, len) < 0) {
		free(dir);
		return -1;
	}
	fd = dir_open_safe(AT_FDCWD, real, false, 0, why, len);
	free(dir);
	return fd;
}

/* Removes a file arbord made at path (a reload's socket beside its name),
 * by its name in the directory as sock_dir opens it. */
static void
unlink_in_dir(const char *path)
{
	const char *name;
	char why[256];
	int dfd = sock_dir(path, &name, why, sizeof(why));

	if (dfd < 0)
		return;
	if (unlink_stale_socket_at(dfd, name) < 0 && errno != EEXIST)
		log_msg(LOG_WARN, "%s: unlink: %s", path, strerror(errno));
	close(dfd);
}

/*
 * A socket at path that something still listens on or reads from (a
 * connection to it succeeds, whatever its type): another program's, or an
 * arbord's that still runs. A stale one refuses every connection.
 */
static bool
unix_in_use(const char *path)
{
	static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int r;

		if (fd < 0)
			continue;
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
			return true;
	}
	return false;
}

/* The suffix of the name a reload binds a new socket file at, renamed
 * into place once the reload goes through (held_keep). */
#define HELD_TMP_SUFFIX ".arbor~"

/*
 * Binds k (a socket file at path "at" in place of its own, when given): a
 * stream or seqpacket socket listens with its backlog; a stale socket file
 * is replaced, never one in use nor anything else. A socket file's
 * directory is opened as sock_dir does and held through the bind: the
 * stale file's removal, the mode and owner are made by the name in it,
 * with no link followed, and the bind is checked to have made its socket
 * there. bind(2) takes a path, not a directory fd: binding through
 * /proc/self/fd would name the socket so for every getsockname, where
 * sd_is_socket_unix() callers look for the path they configured. -1 with
 * err.
 */
static int
bind_one(const struct spec_socket *k, const char *at, char *err,
    size_t errlen)
{
	struct sockaddr_un un;
	const struct sockaddr *sa = (const struct sockaddr *)k->addr;
	socklen_t salen = (socklen_t)k->addrlen;
	bool path = k->family == AF_UNIX && !k->abstract;
	const char *step = "socket", *name = NULL;
	struct stat st;
	int fd = -1, dfd = -1, one = 1, e;

	if (path) {
		at = at ? at : k->listen;
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", at);
		sa = (const struct sockaddr *)&un;
		salen = sizeof(un);
		if ((dfd = sock_dir(at, &name, err, errlen)) < 0)
			return -1;
	}
	fd = socket(k->family, k->type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	step = "setsockopt(SO_REUSEADDR)";
	if (k->family != AF_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (path && unix_in_use(at)) {
		snprintf(err, errlen, "a socket in use is there (another program's, or another arbord's); not replacing it");
		goto refused;
	}
	step = "removing a stale socket";
	if (path && unlink_stale_socket_at(dfd, name) < 0) {
		if (errno == EEXIST) {
			snprintf(err, errlen, "something that is not a socket is there; not replacing it");
			goto refused;
		}
		goto fail;
	}
	step = "bind";
	if (bind(fd, sa, salen) < 0)
		goto fail;
	if (path && (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISSOCK(st.st_mode))) {
		snprintf(err, errlen, "the directory changed under the bind (no socket at its name in the directory checked)");
		goto refused;
	}
	step = "chmod";
	if (path && fchmodat(dfd, name, k->mode, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail_bound;
	step = "chown";
	if (path && (k->uid != (uid_t)-1 || k->gid != (gid_t)-1) &&
	    fchownat(dfd, name, k->uid, k->gid, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail_bound;
	step = "listen";
	if (k->type != SOCK_DGRAM && listen(fd, k->backlog) < 0)
		goto fail_bound;
	if (dfd >= 0)
		close(dfd);
	return fd;
fail_bound:
	e = errno;
	if (path)	/* bind made it: a socket, checked */
		(void)unlinkat(dfd, name, 0);
	errno = e;
fail:
	snprintf(err, errlen, "%s: %s", step, strerror(errno));
refused:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return -1;
}

static struct hsock *
hsock_new(const char *file, const char *owner, const struct spec_socket *k,
    size_t i)
{
	struct hsock *s = xcalloc(1, sizeof(*s));

	s->owner = xstrdup(owner);
	s->k = *k;
	s->k.listen = xstrdup(k->listen);
	s->k.name = xstrdup(k->name);
	s->k.owner = k->owner ? xstrdup(k->owner) : NULL;
	s->k.group = k->group ? xstrdup(k->group) : NULL;
	if (k->line > 0)
		s->where = xasprintf("%s:%d: %s: sockets[%zu] \"%s\"", file,
		    k->line, owner, i, k->listen);
	else
		s->where = xasprintf("%s: %s: sockets[%zu] \"%s\"", file, owner,
		    i, k->listen);
	s->fd = -1;
	return s;
}

static void
hset_add(struct hset *set, struct hsock *s)
{
	set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
	set->v[set->n++] = s;
}

/* Every socket of spec's workers, unbound, in the tree's order. */
static void
collect(struct hset *set, const char *file, const struct spec_node *n,
    const char *parent)
{
	char *path = parent ? xasprintf("%s/%s", parent, n->name)
	    : xstrdup(n->name);
	const struct spec_node *w = n->is_supervisor ? n->template : n;

	/* A pool's template: its sockets are the pool's, shared. */
	for (size_t i = 0; w && i < w->w.nsockets; i++)
		hset_add(set, hsock_new(file, path, &w->w.sockets[i], i));
	for (size_t i = 0; i < n->nchildren; i++)
		collect(set, file, n->children[i], path);
	free(path);
}

/*
 * Fills next from spec: an entry of old with the same owner and an equal
 * socket is taken over (its fd moves); the others are bound. -1 with
 * *error, next holding what was bound (the caller frees it).
 */
static int
build(struct hset *old, bool *taken, const struct spec *spec,
    struct hset *next, char **error)
{
	char err[256];

	collect(next, spec->file, spec->root, NULL);
	/* The same entry of the same worker: the same socket. */
	for (size_t i = 0; i < next->n; i++) {
		struct hsock *s = next->v[i];

		for (size_t j = 0; old && j < old->n; j++) {
			struct hsock *o = old->v[j];

			if (!taken[j] && o->fd >= 0 &&
			    strcmp(o->owner, s->owner) == 0 &&
			    spec_socket_equal(&o->k, &s->k)) {
				taken[j] = true;
				s->fd = o->fd;
				s->borrowed = true;
				break;
			}
		}
	}
	/*
	 * The same address and type with other keys (name, backlog, mode,
	 * owner), or moved to another worker: still the same socket, which
	 * holds the address (a new one could not bind it while the old is
	 * open), with those keys applied once the reload goes through.
	 */
	for (size_t i = 0; i < next->n; i++) {
		struct hsock *s = next->v[i];

		for (size_t j = 0; old && j < old->n && s->fd < 0; j++) {
			struct hsock *o = old->v[j];

			if (!taken[j] && o->fd >= 0 && o->k.family == s->k.family &&
			    o->k.type == s->k.type && o->k.addrlen == s->k.addrlen &&
			    memcmp(o->k.addr, s->k.addr, s->k.addrlen) == 0) {
				taken[j] = true;
				s->fd = o->fd;
				s->borrowed = true;
				s->adjust = true;
			}
		}
	}
	/*
	 * Bound only once the kept ones are known: an entry on an address
	 * that another entry keeps is "in use", as it should be. At a reload
	 * a socket file is bound beside its name and renamed into place
	 * when the reload goes through: one refused leaves the files as they
	 * were (the old socket at that name may still be held, and passed).
	 */
	for (size_t i = 0; i < next->n; i++) {
		struct hsock *s = next->v[i];
		bool path = s->k.family == AF_UNIX && !s->k.abstract;

		if (s->fd >= 0)
			continue;
		if (old && path) {
			s->tmp = xasprintf("%s%s", s->k.listen, HELD_TMP_SUFFIX);
			if (strlen(s->tmp) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				*error = xasprintf("%s: no room beside it for the name a reload binds a new socket at (%s); shorten the path, or restart arbord",
				    s->where, s->tmp);
				free(s->tmp);
				s->tmp = NULL;
				return -1;
			}
		}
		if ((s->fd = bind_one(&s->k, s->tmp, err, sizeof(err))) < 0) {
			free(s->tmp);
			s->tmp = NULL;
			*error = xasprintf("%s: %s", s->where, err);
			return -1;
		}
	}
	return 0;
}

struct held *
held_open(struct reactor *r, const struct spec *spec, char **error)
{
	struct held *h = xcalloc(1, sizeof(*h));

	h->r = r;
	*error = NULL;
	if (build(NULL, NULL, spec, &h->set, error) < 0) {
		hset_free(&h->set);
		free(h);
		return NULL;
	}
	return h;
}

void
held_close(struct held *h)
{
	if (!h)
		return;
	hset_free(&h->set);
	free(h);
}

struct held_next *
held_prepare(struct held *h, const struct spec *spec, char **error)
{
	struct held_next *x = xcalloc(1, sizeof(*x));

	*error = NULL;
	x->nold = h->set.n;
	x->taken = xcalloc(h->set.n + 1, sizeof(*x->taken));
	if (build(&h->set, x->taken, spec, &x->set, error) < 0) {
		held_abort(h, x);
		return NULL;
	}
	return x;
}

/*
 * The stream sockets, by inode, for the observability helper (obsq.h):
 * written whenever the set or a socket changes.
 */
static void
publish(struct held *h)
{
	struct obs_sockets *t = h->table;
	uint32_t n = 0;
	struct stat st;

	if (!t)
		return;
	atomic_fetch_add(&t->seq, 1);	/* odd: being written */
	for (size_t i = 0; i < h->set.n && n < OBS_SOCKETS_MAX; i++) {
		const struct hsock *s = h->set.v[i];
		struct obs_socket *o = &t->v[n];

		if (s->fd < 0 || s->k.type == SOCK_DGRAM || fstat(s->fd, &st) < 0)
			continue;
		o->inode = (uint64_t)st.st_ino;
		o->family = (uint32_t)s->k.family;
		snprintf(o->owner, sizeof(o->owner), "%s", s->owner);
		snprintf(o->name, sizeof(o->name), "%s", s->k.name);
		n++;
	}
	t->n = n;
	atomic_fetch_add(&t->seq, 1);
}

void
held_publish(struct held *h, struct obs_sockets *table)
{
	h->table = table;
	publish(h);
}

void
held_apply(struct held *h, struct held_next *x)
{
	struct hset t = h->set;

	h->set = x->set;
	x->set = t;
	x->applied = true;
	publish(h);
}

void
held_abort(struct held *h, struct held_next *x)
{
	struct hset t;

	if (!x)
		return;
	if (x->applied) {
		t = h->set;
		h->set = x->set;
		x->set = t;
		publish(h);
	}
	/* Kept fds are still the old set's: only the new ones close. */
	for (size_t i = 0; i < x->set.n; i++)
		if (x->set.v[i]->borrowed)
			x->set.v[i]->fd = -1;
	hset_free(&x->set);
	free(x->taken);
	free(x);
}

/* A kept socket's new backlog, mode and owner (build), the last two by
 * its name in its directory (sock_dir). */
static void
adjust(struct hsock *s)
{
	bool path = s->k.family == AF_UNIX && !s->k.abstract;
	const char *name;
	char why[256];
	int dfd = -1;

	s->adjust = false;
	if (s->k.type != SOCK_DGRAM && listen(s->fd, s->k.backlog) < 0)
		log_msg(LOG_WARN, "%s: listen with backlog %d: %s", s->where,
		    s->k.backlog, strerror(errno));
	if (!path)
		return;
	if ((dfd = sock_dir(s->k.listen, &name, why, sizeof(why))) < 0) {
		log_msg(LOG_WARN, "%s: mode and owner not set: %s", s->where,
		    why);
		return;
	}
	if (fchmodat(dfd, name, s->k.mode, AT_SYMLINK_NOFOLLOW) < 0)
		log_msg(LOG_WARN, "%s: chmod: %s", s->where, strerror(errno));
	/* Not given: root's, as a socket bound anew would be. */
	if (fchownat(dfd, name, s->k.uid == (uid_t)-1 ? 0 : s->k.uid,
	    s->k.gid == (gid_t)-1 ? 0 : s->k.gid, AT_SYMLINK_NOFOLLOW) < 0)
		log_msg(LOG_WARN, "%s: chown: %s", s->where, strerror(errno));
	close(dfd);
}

/* A reload's new socket file into its name's place, within the
 * directory (the two names differ only in HELD_TMP_SUFFIX). */
static void
rename_into_place(struct hsock *s)
{
	const char *name, *tmpname;
	char why[256];
	int dfd = sock_dir(s->k.listen, &name, why, sizeof(why));

	tmpname = strrchr(s->tmp, '/') ? strrchr(s->tmp, '/') + 1 : s->tmp;
	if (dfd < 0 || renameat(dfd, tmpname, dfd, name) < 0)
		log_msg(LOG_WARN, "%s: rename %s: %s; the socket is reachable there only",
		    s->where, s->tmp, dfd < 0 ? why : strerror(errno));
	if (dfd >= 0)
		close(dfd);
}

void
held_keep(struct held *h, struct held_next *x)
{
	/* x holds the old set now: what moved to h's is not closed. */
	for (size_t j = 0; j < x->set.n; j++)
		if (x->taken[j])
			x->set.v[j]->fd = -1;
	for (size_t i = 0; i < h->set.n; i++) {
		struct hsock *s = h->set.v[i];

		s->borrowed = false;
		if (s->adjust)
			adjust(s);
		if (s->tmp) {
			/* The old socket's name, if any, goes to the new. */
			rename_into_place(s);
			free(s->tmp);
			s->tmp = NULL;
		}
	}
	hset_free(&x->set);
	free(x->taken);
	free(x);
}

/* The key n's sockets are held under: its pool's path for a pool child. */
static const char *
owner_of(const struct enode *n)
{
	const struct enode *up = enode_parent(n);

	if (up && enode_spec(up)->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE)
		return enode_path(up);
	return enode_path(n);
}

/*
 * Still what a worker can use: listening (stream, seqpacket), not shut
 * down (poll says POLLHUP or POLLRDHUP once it is).
 */
static bool
alive(const struct hsock *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN | POLLRDHUP };
	int acc = 0;
	socklen_t len = sizeof(acc);

	if (poll(&p, 1, 0) < 0 ||
	    (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)))
		return false;
	if (s->k.type == SOCK_DGRAM)
		return true;
	return getsockopt(s->fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 &&
	    acc;
}

struct stored {
	struct watch w;		/* EPOLLHUP, EPOLLERR; w.fd the stored fd */
	bool watched;
	struct held *h;
	struct enode *node;
	char *name;
};

struct store {
	struct stored **v;
	size_t n;
	size_t names;		/* their names' bytes, a ':' each */
};

static bool
names_add(char *names, size_t len, size_t *at, const char *name)
{
	size_t n = strlen(name);

	if (*at + n + 2 > len)
		return false;
	if (*at)
		names[(*at)++] = ':';
	memcpy(names + *at, name, n + 1);
	*at += n;
	return true;
}

static void store_drop(struct enode *, size_t i);

int
held_fds(struct held *h, const struct enode *n, int *fds, char *names,
    size_t nameslen, char *err, size_t errlen)
{
	const char *owner = owner_of(n);
	struct store *st = enode_store(n);
	size_t k = 0, at = 0;

	names[0] = '\0';
	for (size_t i = 0; h && i < h->set.n && k < HELD_PASS_MAX; i++) {
		struct hsock *s = h->set.v[i];
		char why[256];

		if (strcmp(s->owner, owner) != 0)
			continue;
		if (s->fd < 0 || !alive(s)) {
			if (s->fd >= 0) {
				close(s->fd);
				s->fd = -1;
			}
			s->fd = bind_one(&s->k, NULL, why, sizeof(why));
			if (s->fd < 0) {
				snprintf(err, errlen, "socket \"%s\" was shut down and cannot be bound again: %s",
				    s->k.listen, why);
				return -1;
			}
			log_msg(LOG_WARN, "%s: socket \"%s\" was no longer listening (shut down by a worker?): bound again",
			    enode_path(n), s->k.listen);
			publish(h);
		}
		if (!names_add(names, nameslen, &at, s->k.name))
			break;	/* cannot be: SPEC_SOCKETS_MAX names fit */
		fds[k++] = s->fd;
	}
	/* A reload lowered fd_store_max: what it no longer allows goes,
	 * so the fds stay below ready_fd (checked against the maximum). */
	while (st && st->n > enode_spec(n)->w.fd_store_max) {
		log_msg(LOG_WARN, "%s: stored fd \"%s\" dropped: fd_store_max is now %u",
		    enode_path(n), st->v[st->n - 1]->name,
		    enode_spec(n)->w.fd_store_max);
		store_drop((struct enode *)(uintptr_t)n, st->n - 1);
		st = enode_store(n);
	}
	for (size_t i = 0; st && i < st->n && k < HELD_PASS_MAX; i++) {
		if (!names_add(names, nameslen, &at, st->v[i]->name))
			break;	/* cannot be: held_store keeps within it */
		fds[k++] = st->v[i]->w.fd;
	}
	return (int)k;
}

static void
stored_close(struct stored *e)
{
	if (e->watched)
		reactor_unwatch(e->h->r, &e->w);
	close(e->w.fd);
	free(e->name);
	reactor_defer_free(e->h->r, e, free);
}

/* Drops entry i of n's store, keeping the order of the others. */
static void
store_drop(struct enode *n, size_t i)
{
	struct store *st = enode_store(n);

	st->names -= strlen(st->v[i]->name) + 1;
	stored_close(st->v[i]);
	memmove(&st->v[i], &st->v[i + 1], (st->n - i - 1) * sizeof(*st->v));
	if (--st->n == 0) {
		free(st->v);
		free(st);
		enode_set_store(n, NULL);
	}
}

/* A stored fd's peer hung up, or it failed: dropped, as systemd does. */
static void
on_stored_hup(void *owner, uint32_t events)
{
	struct stored *e = owner;
	struct store *st = enode_store(e->node);

	struct held *h = e->h;
	uint64_t now = mono_ns();

	for (size_t i = 0; st && i < st->n; i++)
		if (st->v[i] == e) {
			h->dropped++;
			if (now - h->window_start >= NSEC_PER_SEC) {
				h->window_start = now;
				h->window_lines = 0;
			}
			/* A worker storing and closing in a loop is counted,
			 * not logged line by line. */
			if (++h->window_lines <= 5)
				log_msg(LOG_INFO, "%s: stored fd \"%s\" dropped: %s (%llu so far)",
				    enode_path(e->node), e->name,
				    events & EPOLLERR ? "an error on it" :
				    "its peer hung up",
				    (unsigned long long)h->dropped);
			store_drop(e->node, i);
			return;
		}
}

size_t
held_store(struct held *h, struct enode *n, const int *fds, size_t nfds,
    const char *name, bool poll)
{
	uint32_t max = enode_spec(n)->w.fd_store_max;
	struct store *st = enode_store(n);
	size_t have = st ? st->n : 0;
	size_t names = (st ? st->names : 0) + nfds * (strlen(name) + 1);

	/* The names go into one variable (LISTEN_FDNAMES), which the kernel
	 * takes up to 128 KiB: past that the worker could not start. */
	if (have + nfds > max || names > HELD_STORE_NAMES_MAX) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		return 0;
	}
	if (!st) {
		st = xcalloc(1, sizeof(*st));
		enode_set_store(n, st);
	}
	st->v = xreallocarray(st->v, st->n + nfds, sizeof(*st->v));
	for (size_t i = 0; i < nfds; i++) {
		struct stored *e = xcalloc(1, sizeof(*e));

		e->h = h;
		e->node = n;
		e->name = xstrdup(name);
		e->w.fd = fds[i];
		/* Events 0: epoll reports EPOLLHUP and EPOLLERR alone. A
		 * file or a directory cannot be watched (EPERM): held as
		 * it is. */
		e->watched = poll && reactor_watch(h->r, &e->w, fds[i], 0,
		    on_stored_hup, e) == 0;
		e->w.fd = fds[i];
		st->v[st->n++] = e;
		st->names += strlen(name) + 1;
	}
	return nfds;
}

size_t
held_store_remove(struct held *h, struct enode *n, const char *name)
{
	size_t removed = 0, i = 0;
	struct store *st;

	(void)h;
	/* store_drop frees the store with its last entry: looked up again. */
	while ((st = enode_store(n)) && i < st->n)
		if (strcmp(st->v[i]->name, name) == 0) {
			store_drop(n, i);
			removed++;
		} else
			i++;
	return removed;
}

void
held_store_clear(struct held *h, struct enode *n)
{
	(void)h;
	while (enode_store(n))
		store_drop(n, 0);
}

size_t
held_store_count(const struct enode *n)
{
	const struct store *st = enode_store(n);

	return st ? st->n : 0;
}

static const char *
type_name(int type)
{
	return type == SOCK_DGRAM ? "dgram" :
	    type == SOCK_SEQPACKET ? "seqpacket" : "stream";
}

void
held_status(struct held *h, const struct enode *n, struct jw *w)
{
	const struct store *st = enode_store(n);
	const char *owner;
	bool any = false;

	if (enode_is_supervisor(n))
		return;
	owner = owner_of(n);
	for (size_t i = 0; h && i < h->set.n; i++) {
		const struct hsock *s = h->set.v[i];

		if (strcmp(s->owner, owner) != 0)
			continue;
		if (!any)
			jw_arr(w, "sockets");
		any = true;
		jw_obj(w, NULL);
		jw_str(w, "listen", s->k.listen);
		jw_str(w, "type", type_name(s->k.type));
		jw_str(w, "name", s->k.name);
		jw_end_obj(w);
	}
	if (any)
		jw_end_arr(w);
	if (!st && !enode_spec(n)->w.fd_store_max)
		return;
	jw_arr(w, "fd_store");
	for (size_t i = 0; st && i < st->n; i++)
		jw_str(w, NULL, st->v[i]->name);
	jw_end_arr(w);
}
