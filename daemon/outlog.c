/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker-output thread (see outlog.h). Everything here runs on the
 * output thread but the queueing functions (outlog_add ... outlog_kick, the
 * core's) and the notes (the observability thread's), which only take a
 * mutex no one holds across a system call.
 *
 * A read takes up to OUT_READ bytes from a pipe; its lines share one stamp
 * and go to the file in one write. Compression of rotated files happens on a
 * thread of its own: a worker whose previous file is still being compressed
 * when its current one is full again is not read until that is done, so a
 * flood slows the flooding worker only (its pipe fills, its writes block).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "outlog.h"
#include "rotate.h"
#include "util.h"

#define OUT_READ (256 * 1024)
/* A pipe found full grows to this (a flooding worker: fewer, bigger reads). */
#define PIPE_BIG (1024 * 1024)
#define STAMP_LEN 27		/* 2026-12-01T20:00:00.123456Z */
/* One read's lines, stamped: each line costs its stamp and stream. */
#define OBUF_MAX (OUT_READ + OUT_LINE_MAX + (OUT_READ + 1) * (STAMP_LEN + 6))
#define MAX_OPEN_FILES 512
#define RETRY_NS (1 * NSEC_PER_SEC)
#define NOTE_EVERY_NS (1 * NSEC_PER_SEC)
#define MSGS_MAX 65536		/* exit messages past this are dropped */
#define MSGS_KEPT 256		/* a queue's room kept between batches */
#define NOTES_MAX 4096
#define FOLLOW_MAX (4u << 20)	/* a follower's unsent bytes */
#define DUMP_MAX (1u << 20)	/* the last lines of `logs -n` */
#define CLIENTS_MAX 64		/* `logs` clients at once */
#define HELD_MAX (8u << 20)
/* What a refused directory says: two paths' worth, never cut short. */
#define WHY_MAX (2 * PATH_MAX + 128)

enum ep_kind { EP_WAKE, EP_DONE, EP_STREAM, EP_CLIENT };

/* What epoll's data points at: one of these comes first. */
struct ep {
	enum ep_kind kind;
};

struct ostream {
	struct ep ep;
	struct outsrc *src;
	int idx;		/* 0 stdout, 1 stderr */
	int fd;			/* read end; -1: none */
	/* What has been read from the pipe, in memory the core maps too
	 * (struct out_slot). */
	struct out_slot *slot;
	char *part;		/* a line without its newline yet */
	size_t partlen, partcap;
	bool big;		/* grown to PIPE_BIG */
};

struct client {
	struct ep ep;
	int fd;
	struct outsrc *src;
	bool follow;
	bool dead;		/* dropped: freed after the epoll batch */
	char *buf;		/* not yet taken by the socket */
	size_t len;
	struct client *next;
};

struct outsrc {
	struct outlog *ol;
	uint32_t id;
	char *path, *name;
	struct ostream st[2];
	pid_t pid;		/* whose lines are being taken (0: not known) */
	int file;		/* current, or -1 */
	uint64_t size;
	bool regular;		/* not a device: rotated at log_max_bytes */
	bool failing;		/* said; said again when writing works */
	uint64_t retry_at;
	uint64_t dropped, dropped_noted;
	uint64_t noted_at;
	bool rotating;		/* the compressor has its previous file (one job
				 * at most, which holds this record) */
	bool paused;		/* not read until that is done */
	bool removed;		/* freed once the compressor lets go */
	bool rot_failing;	/* a rotation failed: said, tried again */
	uint64_t rot_retry_at;	/* ... from then, current growing meanwhile */
	char *held;		/* lines for current once the compressor is done */
	size_t heldlen;
	char *mem;		/* log_dir "": the last OUT_MEM_TAIL bytes */
	uint64_t memlen;
	char *tail;		/* the stderr lines of pid (a ring) */
	uint64_t taillen;
	struct client *clients;
	struct outsrc *prev, *next;
	struct outsrc *lru_prev, *lru_next;	/* files open, newest first */
	bool watched;		/* its pipes in epoll: from its first pid on */
	pid_t exit_pid;		/* the thread's: the exit being read out */
};

enum msg_kind { M_ADD, M_SPAWNED, M_EXIT, M_REMOVE, M_LOGS, M_CONF };

struct msg {
	enum msg_kind kind;
	struct outsrc *src;
	pid_t pid;
	uint64_t bound[2];
	bool quiet;		/* M_EXIT: nothing on stderr, no note */
	int fd;
	unsigned n;
	bool follow;
	struct conf_copy *conf;
};

/* A queue as a vector: two of them, swapped, so none is freed per batch. */
struct msgs {
	struct msg *v;
	size_t len, cap;
};

struct notes {
	struct out_note *v;
	size_t len, cap;
};

/*
 * A rotation for the compressor: current.rotated in the worker's
 * directory, by a directory fd of the job's own (closed when it is done),
 * so that no path can be changed under it.
 */
struct job {
	struct outsrc *src;
	int dirfd;
	char *where;		/* log_dir/path, for what is said */
	uint32_t keep;
	struct job *next;
};

struct outlog {
	pthread_t thread, zthread;
	int epfd;
	struct ep wake, done;
	int wake_fd, done_fd, notes_fd;

	/* Held from a read of a pipe until its lines are written. */
	pthread_mutex_t iomu;

	/* The core's queue. */
	pthread_mutex_t mu;
	struct msgs q;		/* under mu */
	struct msgs taken;	/* the thread's: the last q it took, emptied */
	bool pending;		/* queued since the last kick */
	_Atomic bool queued;	/* something waits in q (read without mu) */
	bool stopping;
	uint64_t msgs_dropped;

	/* The compressor's jobs, and the sources it is done with. */
	pthread_mutex_t zmu;
	pthread_cond_t zcv;
	struct job *jobs, **jobs_tail;
	struct outsrc **zdone;
	size_t nzdone, zdonecap;
	bool zstop;

	/* Notes for the observability thread. */
	pthread_mutex_t nmu;
	struct notes notes;	/* under nmu */
	struct notes given;	/* the last ones the observability side took */

	/* The thread's own. */
	struct outlog_conf conf;
	char *dir;
	int dirfd;		/* dir's, opened when first needed; -1: not yet */
	bool dirfd_given;	/* by the core: never walked again from dir */
	struct outsrc *srcs;
	struct outsrc *leaving;	/* removed, the compressor has their file */
	struct outsrc *lru_head, *lru_tail;
	size_t nopen;
	size_t nclients;
	size_t njobs;		/* queued to the compressor, not yet done */
	/* Dropped clients and removed sources, unlinked from everything but
	 * freed only once the epoll batch is dispatched (bury_dead): an event
	 * later in the batch may still point at them. */
	struct client *dead_clients;
	struct outsrc *dead_srcs;
	char *rbuf, *obuf, *ebuf;
	size_t olen, elen;
	int64_t stamp_sec;
	char stamp[STAMP_LEN + 1];
	bool said_dropped;
};

/* --- the core's side: queueing ------------------------------------ */

static void
push(struct outlog *ol, const struct msg *m)
{
	pthread_mutex_lock(&ol->mu);
	if (ol->q.len >= MSGS_MAX && m->kind == M_EXIT) {
		ol->msgs_dropped++;
		pthread_mutex_unlock(&ol->mu);
		return;
	}
	if (ol->q.len == ol->q.cap) {
		ol->q.cap = ol->q.cap ? ol->q.cap * 2 : 64;
		ol->q.v = xreallocarray(ol->q.v, ol->q.cap, sizeof(*ol->q.v));
	}
	ol->q.v[ol->q.len++] = *m;
	ol->pending = true;
	atomic_store(&ol->queued, true);
	pthread_mutex_unlock(&ol->mu);
}

static void
wake(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

void
outlog_kick(struct outlog *ol)
{
	bool was;

	if (!ol)
		return;
	pthread_mutex_lock(&ol->mu);
	was = ol->pending;
	ol->pending = false;
	pthread_mutex_unlock(&ol->mu);
	if (was)
		wake(ol->wake_fd);
}

/* A configuration on its way to the thread, its dir its own. */
struct conf_copy {
	struct outlog_conf c;
	char *dir;
};

static struct conf_copy *
conf_dup(const struct outlog_conf *c)
{
	struct conf_copy *d = xcalloc(1, sizeof(*d));

	d->c = *c;
	d->dir = xstrdup(c->dir ? c->dir : "");
	d->c.dir = d->dir;
	return d;
}

void
outlog_config(struct outlog *ol, const struct outlog_conf *c)
{
	push(ol, &(struct msg){ .kind = M_CONF, .conf = conf_dup(c) });
}

struct outsrc *
outlog_add(struct outlog *ol, uint32_t id, const char *path,
    const char *name, const int rfd[2], struct out_slot slot[2])
{
	struct outsrc *s = xcalloc(1, sizeof(*s));

	s->ol = ol;
	s->id = id;
	s->path = xstrdup(path);
	s->name = xstrdup(name);
	s->file = -1;
	for (int i = 0; i < 2; i++) {
		s->st[i].ep.kind = EP_STREAM;
		s->st[i].src = s;
		s->st[i].idx = i;
		s->st[i].fd = rfd[i];
		s->st[i].slot = &slot[i];
	}
	push(ol, &(struct msg){ .kind = M_ADD, .src = s });
	return s;
}

/* The thread takes the pid in order with the rest (see M_SPAWNED). */
void
outlog_spawned(struct outlog *ol, struct outsrc *s, pid_t pid)
{
	push(ol, &(struct msg){ .kind = M_SPAWNED, .src = s, .pid = pid });
}

void
outlog_exited_at(struct outlog *ol, struct outsrc *s, pid_t pid,
    const uint64_t bound[2], bool quiet)
{
	push(ol, &(struct msg){ .kind = M_EXIT, .src = s, .pid = pid,
	    .bound = { bound[0], bound[1] }, .quiet = quiet });
}

void
outlog_quiesce(struct outlog *ol)
{
	pthread_mutex_lock(&ol->iomu);
}

void
outlog_remove(struct outlog *ol, struct outsrc *s)
{
	push(ol, &(struct msg){ .kind = M_REMOVE, .src = s });
}

void
outlog_logs(struct outlog *ol, struct outsrc *s, int fd, unsigned n,
    bool follow)
{
	push(ol, &(struct msg){ .kind = M_LOGS, .src = s, .fd = fd, .n = n,
	    .follow = follow });
	outlog_kick(ol);
}

/* --- notes for the observability thread --------------------------- */

/* An exit's tail (exited; tail NULL: none), or lines dropped so far. */
static void
note(struct outlog *ol, struct outsrc *s, pid_t pid, bool exited, char *tail)
{
	struct out_note *n;

	if (!exited && s->dropped == s->dropped_noted)
		return;
	pthread_mutex_lock(&ol->nmu);
	if (ol->notes.len >= NOTES_MAX) {
		pthread_mutex_unlock(&ol->nmu);
		free(tail);
		return;
	}
	if (ol->notes.len == ol->notes.cap) {
		ol->notes.cap = ol->notes.cap ? ol->notes.cap * 2 : 16;
		ol->notes.v = xreallocarray(ol->notes.v, ol->notes.cap,
		    sizeof(*ol->notes.v));
	}
	n = &ol->notes.v[ol->notes.len++];
	memset(n, 0, sizeof(*n));
	n->id = s->id;
	n->pid = pid;
	n->exited = exited;
	n->tail = tail;
	n->dropped = s->dropped;
	snprintf(n->path, sizeof(n->path), "%s", s->path);
	s->dropped_noted = s->dropped;
	pthread_mutex_unlock(&ol->nmu);
	wake(ol->notes_fd);
}

int
outlog_notes_fd(const struct outlog *ol)
{
	return ol ? ol->notes_fd : -1;
}

size_t
outlog_notes_take(struct outlog *ol, struct out_note **v)
{
	struct notes full;

	pthread_mutex_lock(&ol->nmu);
	for (size_t i = 0; i < ol->given.len; i++)
		free(ol->given.v[i].tail);
	ol->given.len = 0;
	if (ol->given.cap > MSGS_KEPT) {
		free(ol->given.v);
		ol->given.v = NULL;
		ol->given.cap = 0;
	}
	full = ol->notes;
	ol->notes = ol->given;
	ol->given = full;
	pthread_mutex_unlock(&ol->nmu);
	*v = full.v;
	return full.len;
}

/* --- the compressor ----------------------------------------------- */

static void *
compressor_main(void *arg)
{
	struct outlog *ol = arg;

	pthread_mutex_lock(&ol->zmu);
	for (;;) {
		struct job *j = ol->jobs;
		int err;

		if (!j) {
			if (ol->zstop)
				break;
			pthread_cond_wait(&ol->zcv, &ol->zmu);
			continue;
		}
		if (!(ol->jobs = j->next))
			ol->jobs_tail = &ol->jobs;
		pthread_mutex_unlock(&ol->zmu);
		/* A gzip that fails (a full disk) keeps the lines in a plain
		 * current.1: they reached the disk, and a later rotation
		 * compresses them. */
		if ((err = rotate_at(j->dirfd, "current.rotated", "current",
		    j->keep)) != 0)
			log_msg(LOG_WARN, "%s: log rotation: cannot write %s/current.1.gz: %s; its lines stay uncompressed in current.1 (or current.rotated) until a later rotation can compress them",
			    j->src->path, j->where, strerror(err));
		close(j->dirfd);
		pthread_mutex_lock(&ol->zmu);
		ol->zdone = xreallocarray(ol->zdone, ol->nzdone + 1,
		    sizeof(*ol->zdone));
		ol->zdone[ol->nzdone++] = j->src;
		wake(ol->done_fd);
		free(j->where);
		free(j);
	}
	pthread_mutex_unlock(&ol->zmu);
	return NULL;
}

/* --- files -------------------------------------------------------- */

static void
lru_unlink(struct outlog *ol, struct outsrc *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else if (ol->lru_head == s)
		ol->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else if (ol->lru_tail == s)
		ol->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void
lru_front(struct outlog *ol, struct outsrc *s)
{
	if (ol->lru_head == s)
		return;
	lru_unlink(ol, s);
	s->lru_next = ol->lru_head;
	if (ol->lru_head)
		ol->lru_head->lru_prev = s;
	ol->lru_head = s;
	if (!ol->lru_tail)
		ol->lru_tail = s;
}

static void
file_close(struct outlog *ol, struct outsrc *s)
{
	if (s->file < 0)
		return;
	close(s->file);
	s->file = -1;
	lru_unlink(ol, s);
	ol->nopen--;
}

/*
 * Says once that the source's lines are dropped (why: what failed, and
 * how), then tries again RETRY_NS later.
 */
static void
failed(struct outsrc *s, const char *why)
{
	s->retry_at = mono_ns() + RETRY_NS;
	if (s->failing)
		return;
	s->failing = true;
	log_msg(LOG_WARN, "%s: log %s/%s/current: %s; its lines are dropped and counted (arbor_log_lines_dropped_total) until writing works again",
	    s->path, s->ol->dir, s->path, why);
}

/*
 * A new fd of the worker's directory, log_dir/path, made (0755 exactly)
 * when create says so; -1 and why. Every file of a worker's log is
 * reached through one, by its name only, without following a symlink:
 * log_dir is walked from "/" once and held (rotate.h, dir_open_safe), the
 * worker's path below it at each use, so that a directory another user
 * owns or can write is refused however it came to be there.
 */
static int
src_dir(struct outlog *ol, const struct outsrc *s, bool create, char *why,
    size_t whylen)
{
	int fd = -1;

	for (int tries = 0; tries < 2; tries++) {
		if (ol->dirfd < 0 && ol->dirfd_given) {
			snprintf(why, whylen, "%s: not open", ol->dir);
			return -1;
		}
		if (ol->dirfd < 0 && (ol->dirfd = dir_open_safe(AT_FDCWD,
		    ol->dir, create, 0755, why, whylen)) < 0)
			return -1;
		if ((fd = dir_open_safe(ol->dirfd, s->path, create, 0755, why,
		    whylen)) >= 0 || errno != ENOENT || !create ||
		    ol->dirfd_given)
			break;
		/* log_dir removed under us (nothing can be made in it):
		 * walked again from its path, and made anew. */
		close(ol->dirfd);
		ol->dirfd = -1;
	}
	if (fd < 0 && why[0] != '/') {
		char *rel = xstrdup(why);

		/* the worker's part of it, said from log_dir */
		snprintf(why, whylen, "%s/%s", ol->dir, rel);
		free(rel);
	}
	return fd;
}

static bool
file_open(struct outlog *ol, struct outsrc *s)
{
	char why[WHY_MAX], *what;
	struct stat st;
	int dfd;

	if (s->file >= 0)
		return true;
	if (s->failing && mono_ns() < s->retry_at)
		return false;
	if (ol->nopen >= MAX_OPEN_FILES && ol->lru_tail)
		file_close(ol, ol->lru_tail);
	if ((dfd = src_dir(ol, s, true, why, sizeof(why))) < 0) {
		what = xasprintf("directory: %s", why);
		failed(s, what);
		free(what);
		return false;
	}
	/* 0640 whatever the umask; a symlink, a FIFO or a file with another
	 * link to it is refused. */
	s->file = file_append_at(dfd, "current", 0640);
	if (s->file < 0) {
		what = xasprintf("open: %s", strerror(errno));
		failed(s, what);
		free(what);
	}
	close(dfd);
	if (s->file < 0)
		return false;
	s->regular = fstat(s->file, &st) == 0 && S_ISREG(st.st_mode);
	s->size = s->regular ? (uint64_t)st.st_size : 0;
	ol->nopen++;
	lru_front(ol, s);
	return true;
}

static void
pause_src(struct outsrc *s, bool pause)
{
	struct outlog *ol = s->ol;

	if (s->paused == pause)
		return;
	s->paused = pause;
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
		    .data.ptr = &s->st[i].ep };

		if (s->st[i].fd >= 0)
			epoll_ctl(ol->epfd, pause ? EPOLL_CTL_DEL : EPOLL_CTL_ADD,
			    s->st[i].fd, &ev);
	}
}

/*
 * Whether current may be rotated now (see rotate). A worker removed and
 * added again (reloads) has two sources of one path for as long as the
 * compressor has the old one's file: the new one does not rotate then
 * (current.rotated would be replaced under the compressor, which then
 * deletes the new one), nor does the old one (the new one's open current
 * would go with it): their current grows past log_max_bytes meanwhile.
 */
static bool
can_rotate(const struct outlog *ol, const struct outsrc *s)
{
	if (s->rotating || (s->rot_failing && mono_ns() < s->rot_retry_at))
		return false;
	for (const struct outsrc *t = ol->leaving; t; t = t->next)
		if (t != s && strcmp(t->path, s->path) == 0)
			return false;
	if (s->removed)
		for (const struct outsrc *t = ol->srcs; t; t = t->next)
			if (strcmp(t->path, s->path) == 0)
				return false;
	return true;
}

/* A rotation that failed: said once, tried again RETRY_NS later. */
static void
rot_failed(struct outsrc *s, const char *why)
{
	s->rot_retry_at = mono_ns() + RETRY_NS;
	if (!s->rot_failing)
		log_msg(LOG_WARN, "%s: log rotation: %s; it grows past log_max_bytes until rotating works again",
		    s->path, why);
	s->rot_failing = true;
}

/*
 * Moves the full current aside to current.rotated, by name in the
 * worker's directory dfd; 0 or an errno. A current.rotated already there
 * is a rotation's that never ended (arbord stopped mid-way, or even
 * keeping it as current.1 failed): it is never replaced, and EEXIST says
 * so when it is a file the compressor can take first; what else is
 * there (a directory, say) fails the rotation.
 */
static int
take_full(int dfd)
{
	struct stat st;

	if (renameat2(dfd, "current", dfd, "current.rotated",
	    RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return errno;
	if (fstatat(dfd, "current.rotated", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno;
	return S_ISREG(st.st_mode) ? EEXIST : S_ISDIR(st.st_mode) ? EISDIR :
	    ENXIO;
}

/*
 * current is full: it goes to the compressor (or away, with keep = 0).
 * Never while the compressor still has the previous file: a job holds s,
 * and one job at most is what lets compressor_done know when a removed
 * source is no one's. A rotation that fails is said once and tried again
 * after RETRY_NS, current growing past log_max_bytes meanwhile: tried
 * again at once, it would fail again, forever.
 */
static void
rotate(struct outlog *ol, struct outsrc *s)
{
	char why[WHY_MAX], *what;
	struct job *j;
	int dfd, err = 0;

	if (!can_rotate(ol, s))
		return;
	/* The directory gone (removed with log_dir, say) or no longer to be
	 * trusted (another user's now): current is not written on, and the
	 * next write makes it anew or says why not (its lines dropped and
	 * counted). */
	file_close(ol, s);
	if ((dfd = src_dir(ol, s, false, why, sizeof(why))) < 0)
		return;
	if (ol->conf.keep == 0) {
		if (unlinkat(dfd, "current", 0) < 0 && errno != ENOENT)
			err = errno;
	} else
		err = take_full(dfd);
	if (err && err != ENOENT && err != EEXIST) {
		what = xasprintf("%s/%s/current: %s", ol->dir, s->path,
		    strerror(err));
		rot_failed(s, what);
		free(what);
	} else if (s->rot_failing) {
		s->rot_failing = false;
		log_msg(LOG_INFO, "%s: log rotation works again", s->path);
	}
	/* Gone meanwhile (ENOENT): the next write makes a new one. An old
	 * current.rotated (EEXIST) goes to the compressor first; current
	 * stays, its lines held as for any rotation, and rotates at the next
	 * write once that is done. */
	if ((err && err != EEXIST) || ol->conf.keep == 0) {
		close(dfd);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->src = s;
	j->dirfd = dfd;
	j->where = xasprintf("%s/%s", ol->dir, s->path);
	j->keep = ol->conf.keep;
	s->rotating = true;
	ol->njobs++;
	pthread_mutex_lock(&ol->zmu);
	*ol->jobs_tail = j;
	ol->jobs_tail = &j->next;
	pthread_cond_signal(&ol->zcv);
	pthread_mutex_unlock(&ol->zmu);
}

static size_t
count_lines(const char *p, size_t n)
{
	size_t k = 0;

	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p)));
	    p++)
		k++;
	return k;
}

/* One write of whole lines to current; false when it failed (counted). */
static bool
write_lines(struct outlog *ol, struct outsrc *s, const char *buf, size_t len)
{
	ssize_t n;

	if (!file_open(ol, s)) {
		s->dropped += count_lines(buf, len);
		return false;
	}
	n = write(s->file, buf, len);
	if (n != (ssize_t)len) {
		int err = n < 0 ? errno : ENOSPC;
		char what[128];

		/* Never half a line: cut a short write back. */
		if (n > 0 && ftruncate(s->file, (off_t)s->size) < 0)
			log_msg(LOG_WARN, "%s: log: cannot remove a partial line: %s",
			    s->path, strerror(errno));
		s->dropped += count_lines(buf, len);
		snprintf(what, sizeof(what), "write: %s", strerror(err));
		failed(s, what);
		file_close(ol, s);
		return false;
	}
	s->size += len;
	lru_front(ol, s);
	if (s->failing) {
		s->failing = false;
		log_msg(LOG_INFO, "%s: log: writing again (%llu lines dropped so far)",
		    s->path, (unsigned long long)s->dropped);
	}
	return true;
}

/* Lines held while the compressor has the previous file. */
static void
hold(struct outsrc *s, const char *buf, size_t len)
{
	s->held = xreallocarray(s->held, s->heldlen + len, 1);
	memcpy(s->held + s->heldlen, buf, len);
	s->heldlen += len;
	pause_src(s, true);
}

/*
 * Appends whole lines to current, rotating it where the next line would
 * take it past log_max_bytes: one write per file. While the compressor
 * still has the previous file, the lines that do not fit are held and the
 * worker is not read until it is done (a worker exiting meanwhile can add
 * up to HELD_MAX; past that, current grows past its size).
 */
static void ring_put(char **, uint64_t *, size_t, const char *, size_t);

static void
file_write(struct outlog *ol, struct outsrc *s, const char *buf, size_t len)
{
	uint64_t max = ol->conf.max_bytes;

	/* Lines held for a file while a reload set log_dir to "": to memory,
	 * as every line after them, never to a path made from "". */
	if (!*ol->dir) {
		ring_put(&s->mem, &s->memlen, OUT_MEM_TAIL, buf, len);
		return;
	}
	if (s->heldlen) {
		if (s->heldlen + len <= HELD_MAX) {
			hold(s, buf, len);
			return;
		}
		write_lines(ol, s, s->held, s->heldlen);
		free(s->held);
		s->held = NULL;
		s->heldlen = 0;
		write_lines(ol, s, buf, len);
		return;
	}
	while (len > 0) {
		size_t cut = len;

		if (s->file < 0)
			file_open(ol, s);
		/* A device (/dev/null, say) is never rotated. */
		if (s->file >= 0 && s->regular && s->size + len > max) {
			size_t room = s->size < max ? (size_t)(max - s->size) : 0;
			const char *nl = room ? memrchr(buf, '\n', room) : NULL;

			if (nl)
				cut = (size_t)(nl - buf) + 1;
			else if (s->size > 0 && s->rotating) {
				hold(s, buf, len);
				return;
			} else if (s->size > 0 && can_rotate(ol, s)) {
				rotate(ol, s);	/* not even one line fits */
				continue;
			} else if (s->size == 0 && (nl = memchr(buf, '\n', len)))
				cut = (size_t)(nl - buf) + 1;	/* alone */
			/* else it cannot rotate now: all of it, past the size */
		}
		if (!write_lines(ol, s, buf, cut))
			return;
		buf += cut;
		len -= cut;
		if (len > 0 && s->rotating) {
			hold(s, buf, len);
			return;
		}
		/* rotates unless the compressor still has the last one:
		 * the next write holds its lines then */
		if (s->regular && (len > 0 || s->size >= max))
			rotate(ol, s);
	}
}

/* --- rings: the memory tail and the stderr tail ------------------- */

static void
ring_put(char **ring, uint64_t *len, size_t size, const char *p, size_t n)
{
	if (!*ring)
		*ring = xcalloc(size, 1);
	if (n > size) {
		p += n - size;
		*len += n - size;
		n = size;
	}
	size_t off = *len % size, first = n < size - off ? n : size - off;

	memcpy(*ring + off, p, first);
	memcpy(*ring, p + first, n - first);
	*len += n;
}

/* The ring's bytes in order, in a new string of *n bytes. */
static char *
ring_linear(const char *ring, uint64_t len, size_t size, size_t *n)
{
	size_t have = len < size ? (size_t)len : size;
	size_t off = (size_t)((len - have) % size);
	size_t first = have < size - off ? have : size - off;
	char *out = xcalloc(have + 1, 1);

	if (ring) {
		memcpy(out, ring + off, first);
		memcpy(out + first, ring, have - first);
	}
	*n = have;
	return out;
}

/*
 * The start of the last n lines of text (len bytes, whole lines, the
 * first maybe cut when wrapped says so).
 */
static size_t
last_lines(const char *text, size_t len, unsigned n, bool wrapped)
{
	size_t start = len, k = 0;

	if (len > 0 && text[len - 1] == '\n')
		start--;
	while (start > 0 && k < n) {
		start--;
		if (text[start] == '\n' && ++k == n) {
			start++;
			break;
		}
	}
	if (start == 0 && wrapped && k < n) {
		const char *nl = memchr(text, '\n', len);

		/* the first line was cut by the ring: not shown, unless it
		 * is all there is */
		if (nl && (size_t)(nl - text) + 1 < len)
			start = (size_t)(nl - text) + 1;
	}
	return start;
}

/* The exit's stderr_tail: valid UTF-8, no NUL, no trailing newline. */
static char *
take_tail(struct outsrc *s)
{
	size_t n, start;
	char *all, *t;

	if (!s->taillen)
		return NULL;
	all = ring_linear(s->tail, s->taillen, OUT_TAIL_BYTES, &n);
	start = last_lines(all, n, OUT_TAIL_LINES, s->taillen > OUT_TAIL_BYTES);
	if (n > start && all[n - 1] == '\n')
		n--;
	t = xcalloc(n - start + 1, 1);
	memcpy(t, all + start, n - start);
	for (size_t i = 0; i < n - start; i++)
		if (!t[i])
			t[i] = '?';
	utf8_scrub(t);
	free(all);
	s->taillen = 0;
	return t;
}

/* --- followers and `logs` ----------------------------------------- */

/*
 * c goes: out of epoll and its source's list, its socket closed, at once;
 * its record only after the epoll batch (bury_dead), which may hold an
 * event for it still (a follower that hung up, dropped here by a flush).
 */
static void
client_drop(struct outlog *ol, struct client *c)
{
	struct client **pp = &c->src->clients;

	if (c->dead)
		return;
	for (; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	epoll_ctl(ol->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
	c->dead = true;
	c->next = ol->dead_clients;
	ol->dead_clients = c;
	ol->nclients--;
}

/* Sends what c holds; false when it was dropped. */
static bool
client_push(struct outlog *ol, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLRDHUP, .data.ptr = &c->ep };

	while (c->len > 0) {
		ssize_t w = send(c->fd, c->buf, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			client_drop(ol, c);
			return false;
		}
		memmove(c->buf, c->buf + w, c->len - (size_t)w);
		c->len -= (size_t)w;
	}
	if (c->len == 0 && !c->follow) {
		client_drop(ol, c);
		return false;
	}
	ev.events |= c->len ? EPOLLOUT : 0;
	epoll_ctl(ol->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

/* Queues bytes for c; a follower that lets FOLLOW_MAX pile up is dropped. */
static bool
client_put(struct outlog *ol, struct client *c, const char *p, size_t n)
{
	if (c->len + n > FOLLOW_MAX) {
		static const char slow[] = "arborctl: dropped: not reading fast enough\n";

		(void)!send(c->fd, slow, sizeof(slow) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		client_drop(ol, c);
		return false;
	}
	c->buf = xreallocarray(c->buf, c->len + n + 1, 1);
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	return true;
}

/* The last bytes of the source's log: its file's, or its memory tail's. */
static char *
recent(struct outlog *ol, struct outsrc *s, size_t *n, bool *cut)
{
	char why[WHY_MAX], *buf;
	struct stat st;
	ssize_t r;
	off_t from;
	int fd = -1, dfd;

	*cut = false;
	if (!*ol->dir) {
		*cut = s->memlen > OUT_MEM_TAIL;
		return ring_linear(s->mem, s->memlen, OUT_MEM_TAIL, n);
	}
	/* As it is written: by name in the worker's directory, never
	 * through a symlink (root would show another file to the client). */
	if ((dfd = src_dir(ol, s, false, why, sizeof(why))) >= 0) {
		fd = openat(dfd, "current", O_RDONLY | O_CLOEXEC | O_NONBLOCK |
		    O_NOFOLLOW);
		close(dfd);
	}
	*n = 0;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_nlink > 1) {
		if (fd >= 0)
			close(fd);
		return xcalloc(1, 1);
	}
	from = st.st_size > DUMP_MAX ? st.st_size - DUMP_MAX : 0;
	*cut = from > 0;
	buf = xcalloc((size_t)(st.st_size - from) + 1, 1);
	r = pread(fd, buf, (size_t)(st.st_size - from), from);
	*n = r > 0 ? (size_t)r : 0;
	close(fd);
	return buf;
}

static void
serve_logs(struct outlog *ol, struct msg *m)
{
	static const char ok[] = "{\"ok\":true}\n";
	static const char busy[] = "{\"ok\":false,\"error\":\"too many logs clients at once (64)\"}\n";
	struct epoll_event ev = { .events = EPOLLRDHUP };
	struct client *c;
	size_t n, start;
	bool cut;
	char *text;

	if (ol->nclients >= CLIENTS_MAX) {
		(void)!send(m->fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(m->fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	ev.data.ptr = &c->ep;
	ol->nclients++;
	c->ep.kind = EP_CLIENT;
	c->fd = m->fd;
	c->src = m->src;
	c->follow = m->follow;
	c->next = m->src->clients;
	m->src->clients = c;
	if (epoll_ctl(ol->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		c->src->clients = c->next;
		close(c->fd);
		free(c);
		ol->nclients--;
		return;
	}
	text = recent(ol, m->src, &n, &cut);
	start = last_lines(text, n, m->n, cut);
	if (m->n == 0)
		start = n;
	if (client_put(ol, c, ok, sizeof(ok) - 1) &&
	    client_put(ol, c, text + start, n - start))
		client_push(ol, c);
	free(text);
}

/* --- lines -------------------------------------------------------- */

static const char *
stamp_now(struct outlog *ol)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != ol->stamp_sec) {
		time_t t = ts.tv_sec;

		gmtime_r(&t, &tm);
		strftime(ol->stamp, sizeof(ol->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		ol->stamp_sec = ts.tv_sec;
	}
	{
		unsigned us = (unsigned)(ts.tv_nsec / 1000) % 1000000;
		char *p = ol->stamp + 19;

		p[0] = '.';
		for (int i = 6; i >= 1; i--, us /= 10)
			p[i] = (char)('0' + us % 10);
		p[7] = 'Z';
		p[8] = '\0';
	}
	return ol->stamp;
}

/* One line of stream idx (its text without newline). */
static void
line(struct outlog *ol, struct outsrc *s, int idx, const char *text,
    size_t len)
{
	char *o = ol->obuf + ol->olen;

	memcpy(o, ol->stamp, STAMP_LEN);
	memcpy(o + STAMP_LEN, idx ? " err " : " out ", 5);
	memcpy(o + STAMP_LEN + 5, text, len);
	o[STAMP_LEN + 5 + len] = '\n';
	ol->olen += STAMP_LEN + 6 + len;
	if (idx) {
		ring_put(&s->tail, &s->taillen, OUT_TAIL_BYTES, text, len);
		ring_put(&s->tail, &s->taillen, OUT_TAIL_BYTES, "\n", 1);
	}
	if (ol->conf.echo) {
		size_t pl = strlen(s->path);

		if (!ol->ebuf)
			ol->ebuf = xcalloc(OBUF_MAX, 1);
		if (ol->elen + pl + len + 3 > OBUF_MAX) {
			log_echo(ol->ebuf, ol->elen);
			ol->elen = 0;
		}
		memcpy(ol->ebuf + ol->elen, s->path, pl);
		memcpy(ol->ebuf + ol->elen + pl, "| ", 2);
		memcpy(ol->ebuf + ol->elen + pl + 2, text, len);
		ol->ebuf[ol->elen + pl + 2 + len] = '\n';
		ol->elen += pl + len + 3;
	}
	if (ol->conf.journal)
		journal_line(s->path, s->name, s->pid, idx, text, len);
}

/* Stamped lines to the log: its file, or its memory tail (log_dir ""). */
static void
put_lines(struct outlog *ol, struct outsrc *s, const char *buf, size_t len)
{
	if (*ol->dir)
		file_write(ol, s, buf, len);
	else
		ring_put(&s->mem, &s->memlen, OUT_MEM_TAIL, buf, len);
}

/* What line() gathered goes out: to the file (or memory), followers, echo. */
static void
flush_lines(struct outlog *ol, struct outsrc *s)
{
	if (ol->olen) {
		put_lines(ol, s, ol->obuf, ol->olen);
		for (struct client *c = s->clients, *next; c; c = next) {
			next = c->next;
			if (c->follow && client_put(ol, c, ol->obuf, ol->olen))
				client_push(ol, c);
		}
	}
	if (ol->elen)
		log_echo(ol->ebuf, ol->elen);
	ol->olen = ol->elen = 0;
	if (s->dropped != s->dropped_noted &&
	    mono_ns() - s->noted_at >= NOTE_EVERY_NS) {
		s->noted_at = mono_ns();
		note(ol, s, 0, false, NULL);
	}
}

/* The start of a line is kept in a buffer that grows to OUT_LINE_MAX. */
static void
part_room(struct ostream *st, size_t need)
{
	if (need <= st->partcap)
		return;
	st->partcap = st->partcap ? st->partcap : 256;
	while (st->partcap < need)
		st->partcap *= 2;
	if (st->partcap > OUT_LINE_MAX)
		st->partcap = OUT_LINE_MAX;
	st->part = xreallocarray(st->part, st->partcap, 1);
}

/* Bytes read from a stream: whole lines out, a line's start kept. */
static void
take(struct outlog *ol, struct ostream *st, const char *p, size_t n)
{
	struct outsrc *s = st->src;
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl ? nl : end) - p);

		if (st->partlen) {
			size_t room = OUT_LINE_MAX - st->partlen;
			size_t k = seg < room ? seg : room;

			part_room(st, st->partlen + k);
			memcpy(st->part + st->partlen, p, k);
			st->partlen += k;
			if (!(nl && seg <= room) && seg < room)
				return;	/* still no end of line */
			line(ol, s, st->idx, st->part, st->partlen);
			st->partlen = 0;
			p += k + (nl && seg <= room);
			continue;
		}
		if (nl && seg <= OUT_LINE_MAX) {
			line(ol, s, st->idx, p, seg);
			p = nl + 1;
		} else if (seg >= OUT_LINE_MAX) {
			line(ol, s, st->idx, p, OUT_LINE_MAX);
			p += OUT_LINE_MAX;
		} else {
			part_room(st, seg);
			memcpy(st->part, p, seg);
			st->partlen = seg;
			return;
		}
	}
}

/* A line without its newline is written as it is (the process is gone). */
static void
end_part(struct outlog *ol, struct ostream *st)
{
	if (st->partlen)
		line(ol, st->src, st->idx, st->part, st->partlen);
	st->partlen = st->partcap = 0;
	free(st->part);
	st->part = NULL;
}

/*
 * One read of a stream, at most max bytes; what it read (0 at EAGAIN or
 * the end), -1 when the stream ended.
 */
static ssize_t
read_stream(struct outlog *ol, struct ostream *st, size_t max)
{
	ssize_t r;

	if (max > OUT_READ)
		max = OUT_READ;
	pthread_mutex_lock(&ol->iomu);
	atomic_fetch_add(&st->slot->seq, 1);
	do
		r = read(st->fd, ol->rbuf, max);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		atomic_fetch_add(&st->slot->consumed, (uint64_t)r);
	atomic_fetch_add(&st->slot->seq, 1);
	if (r <= 0) {
		pthread_mutex_unlock(&ol->iomu);
		return r == 0 || errno != EAGAIN ? -1 : 0;
	}
	/* A default pipe's worth (64 KiB) at once: the pipe was full, the
	 * worker writes faster than one pipe per wake-up. Past the size
	 * allowed (pipe-max-size, pipe-user-pages-soft) it stays as it is. */
	if (!st->big && r >= 65536) {
		st->big = true;
		fcntl(st->fd, F_SETPIPE_SZ, PIPE_BIG);
	}
	stamp_now(ol);
	st->src->pid = st->src->exit_pid ? st->src->exit_pid :
	    atomic_load(&st->src->st[0].slot->pid);
	take(ol, st, ol->rbuf, (size_t)r);
	flush_lines(ol, st->src);
	pthread_mutex_unlock(&ol->iomu);
	return r;
}

static void
stream_close(struct outlog *ol, struct ostream *st)
{
	if (st->fd < 0)
		return;
	if (!st->src->paused)
		epoll_ctl(ol->epfd, EPOLL_CTL_DEL, st->fd, NULL);
	close(st->fd);
	st->fd = -1;
}

/* Reads stream st up to offset bound (UINT64_MAX: what it holds now). */
static void
read_to(struct outlog *ol, struct ostream *st, uint64_t bound)
{
	while (st->fd >= 0) {
		uint64_t done = atomic_load(&st->slot->consumed);
		ssize_t r;

		if (bound != UINT64_MAX && done >= bound)
			break;
		r = read_stream(ol, st, bound == UINT64_MAX ? OUT_READ :
		    (size_t)(bound - done));
		if (r <= 0)
			break;
	}
	stamp_now(ol);
	if (st->src->exit_pid)
		st->src->pid = st->src->exit_pid;
	end_part(ol, st);
	flush_lines(ol, st->src);
}

static void
src_free(struct outsrc *s)
{
	for (int i = 0; i < 2; i++)
		free(s->st[i].part);
	free(s->path);
	free(s->name);
	free(s->mem);
	free(s->tail);
	free(s->held);
	free(s);
}

/*
 * A removed source nothing refers to any more (no job, no client, no
 * list, its pipes closed), freed after the epoll batch: an event of its
 * streams may be pending in it still.
 */
static void
src_bury(struct outlog *ol, struct outsrc *s)
{
	s->next = ol->dead_srcs;
	ol->dead_srcs = s;
}

/* What was dropped or removed during a batch, now that it is over. */
static void
bury_dead(struct outlog *ol)
{
	while (ol->dead_clients) {
		struct client *c = ol->dead_clients;

		ol->dead_clients = c->next;
		free(c);
	}
	while (ol->dead_srcs) {
		struct outsrc *s = ol->dead_srcs;

		ol->dead_srcs = s->next;
		src_free(s);
	}
}

/* Sources on list *head (ol->srcs or ol->leaving) are linked by prev/next. */
static void
src_link(struct outsrc **head, struct outsrc *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void
src_unlink(struct outsrc **head, struct outsrc *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (*head == s)
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void
remove_src(struct outlog *ol, struct outsrc *s)
{
	for (int i = 0; i < 2; i++) {
		read_to(ol, &s->st[i], UINT64_MAX);
		stream_close(ol, &s->st[i]);
	}
	note(ol, s, 0, false, NULL);
	while (s->clients)
		client_drop(ol, s->clients);
	file_close(ol, s);
	src_unlink(&ol->srcs, s);
	s->removed = true;
	if (s->rotating)
		src_link(&ol->leaving, s);
	else
		src_bury(ol, s);
}

static void
apply_conf(struct outlog *ol, struct conf_copy *c)
{
	for (struct outsrc *s = ol->srcs; s; s = s->next)
		file_close(ol, s);
	if (ol->dirfd >= 0)
		close(ol->dirfd);
	ol->dirfd = c->c.dirfd;
	ol->dirfd_given = c->c.dirfd >= 0;
	free(ol->dir);
	ol->dir = c->dir;
	ol->conf = c->c;
	free(c);
}

static void
handle(struct outlog *ol, struct msg *m)
{
	struct outsrc *s = m->src;
	char *tail;

	switch (m->kind) {
	case M_ADD:
		src_link(&ol->srcs, s);
		break;
	case M_SPAWNED:
		/* Read from the first process on, whose pid is then in the
		 * slot (the pid of its lines: ARBOR_PID). */
		for (int i = 0; i < 2 && !s->watched; i++) {
			struct epoll_event ev = { .events = EPOLLIN,
			    .data.ptr = &s->st[i].ep };

			if (s->st[i].fd >= 0 && !s->paused)
				epoll_ctl(ol->epfd, EPOLL_CTL_ADD, s->st[i].fd, &ev);
		}
		s->watched = true;
		break;
	case M_EXIT:
		s->exit_pid = m->pid;
		for (int i = 0; i < 2; i++)
			read_to(ol, &s->st[i], m->bound[i]);
		s->exit_pid = 0;
		tail = take_tail(s);
		if (!m->quiet)
			note(ol, s, m->pid, true, tail);
		else
			free(tail);
		break;
	case M_REMOVE:
		remove_src(ol, s);
		break;
	case M_LOGS:
		serve_logs(ol, m);
		break;
	case M_CONF:
		apply_conf(ol, m->conf);
		break;
	}
}

/* Serves what the core queued; false once it asked to stop. */
static bool
drain_msgs(struct outlog *ol)
{
	struct msgs full;
	bool stop;
	uint64_t lost;

	pthread_mutex_lock(&ol->mu);
	full = ol->q;
	ol->q = ol->taken;	/* empty, its room kept */
	atomic_store(&ol->queued, false);
	stop = ol->stopping;
	lost = ol->msgs_dropped;
	pthread_mutex_unlock(&ol->mu);
	for (size_t i = 0; i < full.len; i++)
		handle(ol, &full.v[i]);
	/* Kept for the next batch, unless a big one (a tree's start) grew
	 * it: that room goes back. */
	if (full.cap > MSGS_KEPT) {
		free(full.v);
		full.v = NULL;
		full.cap = 0;
	}
	full.len = 0;
	ol->taken = full;
	if (lost && !ol->said_dropped) {
		ol->said_dropped = true;
		log_msg(LOG_WARN, "worker output: %llu exit notices dropped (the output thread fell behind): some lines may be taken as another process's",
		    (unsigned long long)lost);
	}
	return !stop;
}

static void
compressor_done(struct outlog *ol)
{
	struct outsrc **done;
	size_t n;

	read_counter(ol->done_fd);
	pthread_mutex_lock(&ol->zmu);
	done = ol->zdone;
	n = ol->nzdone;
	ol->zdone = NULL;
	ol->nzdone = ol->zdonecap = 0;
	pthread_mutex_unlock(&ol->zmu);
	/* Each source once: it had one job at most (see rotate). */
	for (size_t i = 0; i < n; i++) {
		struct outsrc *s = done[i];

		s->rotating = false;
		ol->njobs--;
		if (s->heldlen) {
			char *held = s->held;
			size_t len = s->heldlen;

			s->held = NULL;
			s->heldlen = 0;
			put_lines(ol, s, held, len);
			free(held);
		}
		/* Held lines past log_max_bytes rotate again, removed source
		 * or not: that job brings it back here. */
		if (s->removed) {
			file_close(ol, s);
			if (!s->rotating) {
				src_unlink(&ol->leaving, s);
				src_bury(ol, s);
			}
		} else if (!s->heldlen)
			pause_src(s, false);
	}
	free(done);
}

static void
on_client(struct outlog *ol, struct client *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		client_drop(ol, c);
		return;
	}
	if (events & EPOLLOUT)
		client_push(ol, c);
}

/*
 * At the end: every pipe read out, last lines written (held ones too,
 * which may take more rotations: the compressor is waited for until it
 * has no job), files closed.
 */
static void
finish(struct outlog *ol)
{
	while (ol->srcs) {
		struct outsrc *s = ol->srcs;

		remove_src(ol, s);
	}
	while (ol->njobs > 0) {
		struct pollfd pfd = { .fd = ol->done_fd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			fatal("%s: poll: %s", __func__, strerror(errno));
		compressor_done(ol);
	}
	pthread_mutex_lock(&ol->zmu);
	ol->zstop = true;
	pthread_cond_signal(&ol->zcv);
	pthread_mutex_unlock(&ol->zmu);
	pthread_join(ol->zthread, NULL);
	bury_dead(ol);
}

static void *
outlog_main(void *arg)
{
	struct outlog *ol = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(ol->epfd, evs, 64, -1);

		if (n < 0 && errno != EINTR)
			fatal("%s: epoll_wait: %s", __func__, strerror(errno));
		for (int i = 0; i < n; i++) {
			struct ep *e = evs[i].data.ptr;

			switch (e->kind) {
			case EP_WAKE:
				read_counter(ol->wake_fd);
				if (!drain_msgs(ol)) {
					finish(ol);
					return NULL;
				}
				break;
			case EP_DONE:
				compressor_done(ol);
				break;
			case EP_STREAM: {
				struct ostream *st = (struct ostream *)e;

				/* An exit may have been queued meanwhile. */
				if (atomic_load(&ol->queued) && !drain_msgs(ol)) {
					finish(ol);
					return NULL;
				}
				if (st->fd >= 0 && !st->src->paused &&
				    read_stream(ol, st, OUT_READ) < 0) {
					/* every writer gone: only when the
					 * core let go of its end */
					epoll_ctl(ol->epfd, EPOLL_CTL_DEL, st->fd, NULL);
				}
				break;
			}
			case EP_CLIENT:
				on_client(ol, (struct client *)e, evs[i].events);
				break;
			}
		}
		bury_dead(ol);
	}
}

struct outlog *
outlog_start(const struct outlog_conf *c)
{
	struct outlog *ol = xcalloc(1, sizeof(*ol));
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;
	int err;

	pthread_mutex_init(&ol->mu, NULL);
	pthread_mutex_init(&ol->iomu, NULL);
	pthread_mutex_init(&ol->zmu, NULL);
	pthread_mutex_init(&ol->nmu, NULL);
	pthread_cond_init(&ol->zcv, NULL);
	ol->jobs_tail = &ol->jobs;
	ol->dirfd = -1;
	ol->wake.kind = EP_WAKE;
	ol->done.kind = EP_DONE;
	ol->epfd = epoll_create1(EPOLL_CLOEXEC);
	ol->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ol->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ol->notes_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ol->epfd < 0 || ol->wake_fd < 0 || ol->done_fd < 0 ||
	    ol->notes_fd < 0)
		fatal("worker output: %s", strerror(errno));
	ev.data.ptr = &ol->wake;
	epoll_ctl(ol->epfd, EPOLL_CTL_ADD, ol->wake_fd, &ev);
	ev.data.ptr = &ol->done;
	epoll_ctl(ol->epfd, EPOLL_CTL_ADD, ol->done_fd, &ev);
	ol->rbuf = xcalloc(OUT_READ, 1);
	ol->obuf = xcalloc(OBUF_MAX, 1);
	apply_conf(ol, conf_dup(c));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ol->zthread, NULL, compressor_main, ol);
	if (!err && (err = pthread_create(&ol->thread, NULL, outlog_main, ol)))
		fatal("worker output thread: %s", strerror(err));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		fatal("log compressor thread: %s", strerror(err));
	pthread_setname_np(ol->thread, "arbord-output");
	pthread_setname_np(ol->zthread, "arbord-gzip");
	return ol;
}

void
outlog_stop(struct outlog *ol)
{
	if (!ol)
		return;
	pthread_mutex_lock(&ol->mu);
	ol->stopping = true;
	pthread_mutex_unlock(&ol->mu);
	wake(ol->wake_fd);
	pthread_join(ol->thread, NULL);
	for (size_t i = 0; i < ol->notes.len; i++)
		free(ol->notes.v[i].tail);
	for (size_t i = 0; i < ol->given.len; i++)
		free(ol->given.v[i].tail);
	free(ol->notes.v);
	free(ol->given.v);
	free(ol->q.v);
	free(ol->taken.v);
	close(ol->epfd);
	close(ol->wake_fd);
	close(ol->done_fd);
	close(ol->notes_fd);
	free(ol->rbuf);
	free(ol->obuf);
	free(ol->ebuf);
	if (ol->dirfd >= 0)
		close(ol->dirfd);
	free(ol->dir);
	pthread_mutex_destroy(&ol->mu);
	pthread_mutex_destroy(&ol->iomu);
	pthread_mutex_destroy(&ol->zmu);
	pthread_mutex_destroy(&ol->nmu);
	pthread_cond_destroy(&ol->zcv);
	free(ol);
}
