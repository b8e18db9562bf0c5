/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core's side of the output helper (outproxy.h). Every source (a
 * worker whose output is captured) has a number, below HMSG_OUT_SRC_MAX,
 * given round the numbers so that one is not reused while the helper may
 * still read a removed source's pipes; its streams' read counts are slots
 * 2n and 2n + 1 of a memfd both sides map. The helper may write anything
 * there: what it writes only moves where one process's lines end and the
 * next one's begin in that worker's own log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../helpers/common/hmsg.h"
#include "log.h"
#include "outproxy.h"
#include "rotate.h"
#include "util.h"

#define BOUND_SPINS 100000
#define PENDING_MAX 16		/* exits kept for a helper that is down */
#define NOTES_MAX 4096
#define NOTES_KEPT 256
#define STOP_WAIT_MS 5000
#define DIR_CHECK_NS (1 * NSEC_PER_SEC)	/* log_dir still there? */
#define SLOTS_SIZE ((size_t)HMSG_OUT_SRC_MAX * 2 * sizeof(struct out_slot))

struct pexit {
	pid_t pid;
	uint64_t bound[2];
	bool quiet;
};

struct outp_src {
	uint32_t id;
	char *path, *name;
	int rfd[2], wfd[2];
	pid_t pid;
	bool told;		/* the helper knows it has had a process */
	uint64_t bound_at_exit[2];
	/* Exits the helper was not told of (it was down): told at its start. */
	struct pexit pending[PENDING_MAX];
	size_t npending;
};

struct notes {
	struct out_note *v;
	size_t len, cap;
};

struct outproxy {
	struct helper *h;
	uid_t uid;
	gid_t gid;
	bool hand_over;		/* directories go to the helper's user */
	char *dir;		/* "": memory only */
	int dirfd;		/* log_dir's, -1: not open */
	uint64_t max_bytes;
	uint32_t keep;
	bool journal, echo;
	int memfd;
	struct out_slot *slots;
	struct outp_src *src[HMSG_OUT_SRC_MAX];
	uint32_t next_id;
	size_t src_count;
	bool said_full;
	uint64_t dir_checked;

	/* Notes for the observability thread. */
	pthread_mutex_t nmu;
	struct notes notes, given;
	int notes_fd;
};

static void
set_conf(struct outproxy *p, const struct outlog_conf *c)
{
	char why[2 * 4096 + 128];
	bool same = p->dir && !strcmp(p->dir, c->dir ? c->dir : "");

	p->max_bytes = c->max_bytes;
	p->keep = c->keep;
	p->journal = c->journal;
	p->echo = c->echo;
	if (same && p->dirfd >= 0)
		return;
	free(p->dir);
	p->dir = xstrdup(c->dir ? c->dir : "");
	if (p->dirfd >= 0)
		close(p->dirfd);
	p->dirfd = -1;
	if (*p->dir && (p->dirfd = dir_open_safe(AT_FDCWD, p->dir, true, 0755,
	    why, sizeof(why))) < 0)
		log_msg(LOG_WARN, "log_dir %s: %s; worker lines are dropped and counted until it can be opened",
		    p->dir, why);
}

static void
send_conf(struct outproxy *p)
{
	struct hmsg_out_conf c;
	int fds[2] = { p->memfd, p->dirfd };

	hmsg_init(&c, HMSG_OUT_CONF, sizeof(c));
	c.max_bytes = p->max_bytes;
	c.keep = p->keep;
	c.journal = p->journal;
	c.echo = p->echo;
	c.has_dir = p->dirfd >= 0;
	snprintf(c.dir, sizeof(c.dir), "%s", p->dir);
	helper_send_fds(p->h, &c, sizeof(c), fds, p->dirfd >= 0 ? 2 : 1);
}

static void
send_add(struct outproxy *p, struct outp_src *s)
{
	struct hmsg_out_add a;
	int fds[2], n = 0;

	hmsg_init(&a, HMSG_OUT_ADD, sizeof(a));
	a.src = s->id;
	a.pid = s->pid;
	for (int i = 0; i < 2; i++)
		if ((a.has[i] = s->rfd[i] >= 0))
			fds[n++] = s->rfd[i];
	snprintf(a.path, sizeof(a.path), "%s", s->path);
	snprintf(a.name, sizeof(a.name), "%s", s->name);
	s->told = helper_send_fds(p->h, &a, sizeof(a), fds, n) == 0 &&
	    s->pid > 0;
}

static bool
send_exit(struct outproxy *p, const struct outp_src *s, const struct pexit *e)
{
	struct hmsg_out_exited r;

	hmsg_init(&r, HMSG_OUT_EXITED, sizeof(r));
	r.src = s->id;
	r.pid = e->pid;
	r.bound[0] = e->bound[0];
	r.bound[1] = e->bound[1];
	r.quiet = e->quiet;
	return helper_send(p->h, &r, sizeof(r)) == 0;
}

/* A new helper: everything again, and the exits it missed. */
static void
on_up(void *ctx)
{
	struct outproxy *p = ctx;

	send_conf(p);
	for (uint32_t i = 0; i < HMSG_OUT_SRC_MAX; i++) {
		struct outp_src *s = p->src[i];

		if (!s)
			continue;
		send_add(p, s);
		for (size_t k = 0; k < s->npending; k++)
			send_exit(p, s, &s->pending[k]);
		s->npending = 0;
	}
}

/* A read under way when it died never ends: its count stays as it was. */
static void
on_down(void *ctx)
{
	struct outproxy *p = ctx;

	for (size_t i = 0; i < (size_t)HMSG_OUT_SRC_MAX * 2; i++) {
		uint32_t seq = atomic_load(&p->slots[i].seq);

		if (seq & 1)
			atomic_store(&p->slots[i].seq, seq + 1);
	}
}

static void
wake(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

/* Only notes come from this helper. */
static int
check_msg(const void *rec, size_t len, char *why, size_t whylen)
{
	const struct hmsg_out_note *r = rec;

	if (len != sizeof(*r) || r->h.type != HMSG_OUT_NOTE) {
		snprintf(why, whylen, "a record of type %u, not an output note",
		    r->h.type);
		return -1;
	}
	return 0;
}

/* A note from the helper (checked by hmsg: lengths, flags, its NULs). */
static int
on_msg(void *ctx, const void *rec, size_t len, char *why, size_t whylen)
{
	struct outproxy *p = ctx;
	const struct hmsg_out_note *r = rec;
	struct outp_src *s;
	struct out_note *n;

	if (check_msg(rec, len, why, whylen) < 0)
		return -1;
	/* A source removed since: nothing to say of it. */
	if (!(s = p->src[r->src]))
		return 0;
	pthread_mutex_lock(&p->nmu);
	if (p->notes.len >= NOTES_MAX) {
		pthread_mutex_unlock(&p->nmu);
		return 0;
	}
	if (p->notes.len == p->notes.cap) {
		p->notes.cap = p->notes.cap ? p->notes.cap * 2 : 16;
		p->notes.v = xreallocarray(p->notes.v, p->notes.cap,
		    sizeof(*p->notes.v));
	}
	n = &p->notes.v[p->notes.len++];
	memset(n, 0, sizeof(*n));
	n->id = s->id;
	n->pid = r->pid;
	n->exited = r->exited;
	n->dropped = r->dropped;
	if (r->has_tail) {
		n->tail = xstrdup(r->tail);
		utf8_scrub(n->tail);
	}
	snprintf(n->path, sizeof(n->path), "%s", s->path);
	pthread_mutex_unlock(&p->nmu);
	wake(p->notes_fd);
	return 0;
}

struct outproxy *
outp_start(const struct outlog_conf *c)
{
	struct outproxy *p = xcalloc(1, sizeof(*p));

	p->dirfd = -1;
	pthread_mutex_init(&p->nmu, NULL);
	if ((p->notes_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		fatal("worker output: eventfd: %s", strerror(errno));
	/* Sealed at its size: the helper cannot shrink it under the core's
	 * mapping (a SIGBUS in the core). */
	if ((p->memfd = memfd_create("arbor-output-slots",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0 ||
	    ftruncate(p->memfd, (off_t)SLOTS_SIZE) < 0 ||
	    fcntl(p->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) < 0)
		fatal("worker output: memfd: %s", strerror(errno));
	p->slots = mmap(NULL, SLOTS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    p->memfd, 0);
	if (p->slots == MAP_FAILED)
		fatal("worker output: mmap: %s", strerror(errno));
	set_conf(p, c);
	return p;
}

void
outp_bind(struct outproxy *p, struct helpers *hs)
{
	const struct helper_client cl = { .on_msg = on_msg, .check = check_msg,
	    .on_up = on_up, .on_down = on_down, .ctx = p };

	if (!p || !hs)
		return;
	helpers_user(hs, &p->uid, &p->gid);
	p->hand_over = geteuid() == 0 && p->uid != 0;
	p->h = helpers_get(hs, HELPER_OUTPUT);
	helper_attach(p->h, &cl);
}

static void make_dir(struct outproxy *, const char *);

/*
 * log_dir removed while arbord runs (its fd then names a directory with no
 * link): made again, with every worker's directory, and handed to the
 * helper, which only ever writes below the fd it was given.
 */
void
outp_tick(struct outproxy *p)
{
	uint64_t now = mono_ns();
	struct outlog_conf c;
	struct stat st;

	if (!p || !*p->dir || now - p->dir_checked < DIR_CHECK_NS)
		return;
	p->dir_checked = now;
	if (p->dirfd >= 0 && fstat(p->dirfd, &st) == 0 && st.st_nlink > 0)
		return;
	c = (struct outlog_conf){ .dir = p->dir, .dirfd = -1,
	    .max_bytes = p->max_bytes, .keep = p->keep,
	    .journal = p->journal, .echo = p->echo };
	c.dir = xstrdup(p->dir);
	free(p->dir);
	p->dir = NULL;
	set_conf(p, &c);
	free((char *)(uintptr_t)c.dir);
	if (p->dirfd < 0)
		return;
	for (uint32_t i = 0; i < HMSG_OUT_SRC_MAX && p->hand_over; i++)
		if (p->src[i])
			make_dir(p, p->src[i]->path);
	if (p->h && helper_up(p->h))
		send_conf(p);
}

void
outp_config(struct outproxy *p, const struct outlog_conf *c)
{
	set_conf(p, c);
	if (p->h && helper_up(p->h))
		send_conf(p);
}

/*
 * A file the core's older versions made as root in a worker's directory:
 * handed to the helper's user if it is a regular file with no other link.
 */
static void
hand_over_files(struct outproxy *p, int dfd)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;
		int f;

		if (e->d_name[0] == '.')
			continue;
		if ((f = openat(dfd, e->d_name, O_PATH | O_NOFOLLOW |
		    O_CLOEXEC)) < 0)
			continue;
		if (fstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_nlink == 1 && st.st_uid == 0)
			(void)fchownat(f, "", p->uid, p->gid, AT_EMPTY_PATH);
		close(f);
	}
	closedir(d);
}

/*
 * The worker's directory, log_dir/path, made by the core (0755, its parents
 * root's) and given to the helper's user, which writes there and nowhere
 * else. One another user owns is refused, and said.
 */
static void
make_dir(struct outproxy *p, const char *path)
{
	char why[2 * 4096 + 128], *parent = xstrdup(path), *leaf;
	int pfd, fd = -1;
	struct stat st;

	if ((leaf = strrchr(parent, '/'))) {
		*leaf++ = '\0';
		pfd = dir_open_safe(p->dirfd, parent, true, 0755, why,
		    sizeof(why));
	} else {
		leaf = parent;
		pfd = fcntl(p->dirfd, F_DUPFD_CLOEXEC, 3);
		snprintf(why, sizeof(why), "%s", strerror(errno));
	}
	if (pfd < 0)
		goto fail;
	if (mkdirat(pfd, leaf, 0700) == 0 &&
	    (fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0)
		(void)fchmod(fd, 0755);
	else if (fd < 0)
		fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		goto fail;
	}
	if (st.st_uid == 0) {
		if (fchown(fd, p->uid, p->gid) < 0) {
			snprintf(why, sizeof(why), "chown: %s", strerror(errno));
			goto fail;
		}
		hand_over_files(p, fd);
	} else if (st.st_uid != p->uid) {
		snprintf(why, sizeof(why), "owned by uid %u, neither root nor the helpers' user",
		    (unsigned)st.st_uid);
		goto fail;
	}
	close(fd);
	close(pfd);
	free(parent);
	return;
fail:
	log_msg(LOG_WARN, "%s: log directory %s/%s: %s; its lines are dropped and counted",
	    path, p->dir, path, why);
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(parent);
}

struct outp_src *
outp_add(struct outproxy *p, const char *path, const char *name,
    const int rfd[2], const int wfd[2])
{
	struct outp_src *s;
	uint32_t id;

	for (id = 0; id < HMSG_OUT_SRC_MAX; id++)
		if (!p->src[(p->next_id + id) % HMSG_OUT_SRC_MAX])
			break;
	if (id == HMSG_OUT_SRC_MAX) {
		if (!p->said_full)
			log_msg(LOG_ERROR, "%s: more than %d workers capture their output: its output is not captured (said once)",
			    path, HMSG_OUT_SRC_MAX);
		p->said_full = true;
		return NULL;
	}
	id = (p->next_id + id) % HMSG_OUT_SRC_MAX;
	p->next_id = (id + 1) % HMSG_OUT_SRC_MAX;
	s = xcalloc(1, sizeof(*s));
	s->id = id;
	s->path = xstrdup(path);
	s->name = xstrdup(name);
	for (int i = 0; i < 2; i++) {
		s->rfd[i] = rfd[i];
		s->wfd[i] = wfd[i];
		atomic_store(&p->slots[2 * id + i].seq, 0);
		atomic_store(&p->slots[2 * id + i].pid, 0);
		atomic_store(&p->slots[2 * id + i].consumed, 0);
	}
	p->src[id] = s;
	p->src_count++;
	if (p->dirfd >= 0 && p->hand_over)
		make_dir(p, path);
	/* Started at the first worker whose output is captured; it is
	 * given every source at its start. */
	if (p->h && helper_up(p->h))
		send_add(p, s);
	else if (p->h)
		helper_need(p->h);
	return s;
}

void
outp_spawned(struct outproxy *p, struct outp_src *s, pid_t pid)
{
	struct hmsg_out_pid r;

	if (!s)
		return;
	s->pid = pid;
	atomic_store(&p->slots[2 * s->id].pid, pid);
	/* Only the first process is a record (the helper then reads the
	 * pipes); the next ones are in the slot, nothing is woken. */
	if (s->told || !p->h || !helper_up(p->h))
		return;
	hmsg_init(&r, HMSG_OUT_SPAWNED, sizeof(r));
	r.src = s->id;
	r.pid = pid;
	s->told = helper_send(p->h, &r, sizeof(r)) == 0;
}

/*
 * Where the output of the process that just ended stops in stream i: what
 * the helper has read plus what the pipe holds, taken when no read is under
 * way (nothing writes the pipe now, so the sum holds still). UINT64_MAX
 * when the helper kept reading for too long: it then reads what is there.
 */
static uint64_t
boundary(struct outproxy *p, const struct outp_src *s, int i)
{
	struct out_slot *sl = &p->slots[2 * s->id + i];

	for (int k = 0; k < BOUND_SPINS; k++) {
		uint32_t seq = atomic_load(&sl->seq);
		uint64_t done;
		int inpipe = 0;

		if (seq & 1)
			continue;
		done = atomic_load(&sl->consumed);
		if (ioctl(s->wfd[i], FIONREAD, &inpipe) < 0)
			return UINT64_MAX;
		if (atomic_load(&sl->seq) == seq)
			return done + (uint64_t)inpipe;
	}
	return UINT64_MAX;
}

bool
outp_exited(struct outproxy *p, struct outp_src *s, pid_t pid)
{
	struct pexit e = { .pid = pid };

	if (!s)
		return false;
	for (int i = 0; i < 2; i++)
		e.bound[i] = s->rfd[i] >= 0 ? boundary(p, s, i) : 0;
	/* Not a byte on stderr since the last exit: no tail to wait for;
	 * on neither stream: nothing for the helper to do (a silent crash
	 * loop never wakes it). */
	e.quiet = e.bound[1] != UINT64_MAX &&
	    e.bound[1] == s->bound_at_exit[1];
	if (!e.quiet || e.bound[0] == UINT64_MAX ||
	    e.bound[0] != s->bound_at_exit[0]) {
		if (!p->h || !helper_up(p->h) || !send_exit(p, s, &e)) {
			if (s->npending == PENDING_MAX) {
				memmove(s->pending, s->pending + 1,
				    (PENDING_MAX - 1) * sizeof(*s->pending));
				s->npending--;
			}
			s->pending[s->npending++] = e;
		}
	}
	s->bound_at_exit[0] = e.bound[0];
	s->bound_at_exit[1] = e.bound[1];
	return !e.quiet;
}

static void
src_free(struct outp_src *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->rfd[i] >= 0)
			close(s->rfd[i]);
		if (s->wfd[i] >= 0)
			close(s->wfd[i]);
	}
	free(s->path);
	free(s->name);
	free(s);
}

void
outp_remove(struct outproxy *p, struct outp_src *s)
{
	struct hmsg_out_pid r;

	if (!s)
		return;
	hmsg_init(&r, HMSG_OUT_REMOVE, sizeof(r));
	r.src = s->id;
	if (p->h && helper_up(p->h))
		helper_send(p->h, &r, sizeof(r));
	p->src[s->id] = NULL;
	p->src_count--;
	src_free(s);
}

int
outp_logs(struct outproxy *p, struct outp_src *s, int fd, unsigned n,
    bool follow, const char **why)
{
	struct hmsg_out_logs r;

	if (!s || !p->h || !helper_up(p->h)) {
		*why = "worker output is restarting (its helper is down): try again";
		return -1;
	}
	hmsg_init(&r, HMSG_OUT_LOGS, sizeof(r));
	r.src = s->id;
	r.lines = n;
	r.follow = follow;
	if (helper_send_fds(p->h, &r, sizeof(r), &fd, 1) < 0) {
		*why = "worker output is busy: try again";
		return -1;
	}
	close(fd);
	return 0;
}

void
outp_stop(struct outproxy *p)
{
	struct hmsg_out_stop r;
	int ended;

	if (!p)
		return;
	/* Down (in its backoff): started now, to read the pipes out. */
	if (p->h && !helper_up(p->h) && p->src_count > 0)
		helper_start_now(p->h);
	if (p->h && helper_up(p->h)) {
		hmsg_init(&r, HMSG_OUT_STOP, sizeof(r));
		helper_send(p->h, &r, sizeof(r));
		ended = helper_finish(p->h, STOP_WAIT_MS);
		if (ended == 0)
			log_msg(LOG_WARN, "worker output: the helper did not write the last lines out within %d ms",
			    STOP_WAIT_MS);
		else if (ended < 0)
			log_msg(LOG_WARN, "worker output: lines the helper had not written out yet, if any, are lost");
	} else if (p->h)
		helper_finish(p->h, 0);
	for (uint32_t i = 0; i < HMSG_OUT_SRC_MAX; i++)
		if (p->src[i])
			src_free(p->src[i]);
	for (size_t i = 0; i < p->notes.len; i++)
		free(p->notes.v[i].tail);
	for (size_t i = 0; i < p->given.len; i++)
		free(p->given.v[i].tail);
	free(p->notes.v);
	free(p->given.v);
	munmap(p->slots, SLOTS_SIZE);
	close(p->memfd);
	close(p->notes_fd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->dir);
	pthread_mutex_destroy(&p->nmu);
	free(p);
}

int
outp_notes_fd(const struct outproxy *p)
{
	return p ? p->notes_fd : -1;
}

size_t
outp_notes_take(struct outproxy *p, struct out_note **v)
{
	struct notes full;

	pthread_mutex_lock(&p->nmu);
	for (size_t i = 0; i < p->given.len; i++)
		free(p->given.v[i].tail);
	p->given.len = 0;
	if (p->given.cap > NOTES_KEPT) {
		free(p->given.v);
		p->given.v = NULL;
		p->given.cap = 0;
	}
	full = p->notes;
	p->notes = p->given;
	p->given = full;
	pthread_mutex_unlock(&p->nmu);
	*v = full.v;
	return full.len;
}
