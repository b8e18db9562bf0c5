/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arbor-output: the output helper (arbord(8), FAULT DOMAINS). It runs the
 * worker-output code (daemon/outlog.c) on the pipes the core passes it,
 * unprivileged, under a seccomp allow-list: each worker's read ends and
 * where each of its processes' output ends come in records from the core
 * (helpers/common/hmsg.h); exits' stderr tails and dropped-line counts go
 * back. The core keeps both ends of every pipe, so what a worker writes
 * while this process is down waits in its pipe for the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/log.h"
#include "../../daemon/outlog.h"
#include "../../daemon/util.h"
#include "../common/hmsg.h"
#include "../common/hrt.h"

enum { TAG_SOCK, TAG_BEAT, TAG_FAULT, TAG_NOTES };

struct out {
	struct hrt rt;
	int epfd;
	struct outlog *ol;
	struct out_slot *slots;	/* the core's memfd, mapped */
	struct outsrc *src[HMSG_OUT_SRC_MAX];
	bool stopping;
};

/* What the output code calls beside every helper's base list. */
static const char *const output_calls[] = {
	"renameat", "renameat2", "unlinkat", "mkdirat", "fchmod", "fchmodat",
	"fchown", "ftruncate", "fsync", "fdatasync", "pwrite64", "pread64",
	"fstatfs", "getdents64", "memfd_create", "fadvise64", "linkat",
	"utimensat", NULL
};

static void
watch(struct out *o, int fd, int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)tag };

	if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal("epoll_ctl: %s", strerror(errno));
}

static void
quiesce(void *ctx)
{
	struct out *o = ctx;

	if (o->ol)
		outlog_quiesce(o->ol);
}

static void
closeall(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The configuration, and with it the slots: the first record. */
static void
on_conf(struct out *o, const struct hmsg_out_conf *c, int *fds, int nfds)
{
	struct outlog_conf conf = { .dir = c->dir,
	    .dirfd = -1, .max_bytes = c->max_bytes, .keep = c->keep,
	    .journal = c->journal, .echo = c->echo };
	size_t size = (size_t)HMSG_OUT_SRC_MAX * 2 * sizeof(struct out_slot);
	struct stat st;

	if (nfds != 1 + c->has_dir)
		fatal("a configuration with %d descriptors", nfds);
	if (c->has_dir)
		conf.dirfd = fds[1];
	if (!o->slots) {
		if (fstat(fds[0], &st) < 0 || (size_t)st.st_size < size)
			fatal("the slots' memfd is too small");
		o->slots = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fds[0], 0);
		if (o->slots == MAP_FAILED)
			fatal("mmap: %s", strerror(errno));
	}
	close(fds[0]);
	if (!o->ol)
		o->ol = outlog_start(&conf);
	else
		outlog_config(o->ol, &conf);
}

static void
on_record(struct out *o, const void *rec, int *fds, int nfds)
{
	const struct hmsg_hdr *h = rec;
	uint32_t src;

	if (h->type == HMSG_OUT_CONF) {
		on_conf(o, rec, fds, nfds);
		return;
	}
	if (!o->ol)
		fatal("a record of type %u before the configuration", h->type);
	if (h->type == HMSG_OUT_STOP) {
		closeall(fds, nfds);
		hrt_stopping(&o->rt);
		o->stopping = true;
		return;
	}
	memcpy(&src, (const char *)rec + sizeof(*h), sizeof(src));
	switch (h->type) {
	case HMSG_OUT_ADD: {
		const struct hmsg_out_add *a = rec;
		int rfd[2] = { -1, -1 }, k = 0;

		if (nfds != a->has[0] + a->has[1] || o->src[src])
			fatal("a source %u again, or with %d descriptors", src,
			    nfds);
		for (int i = 0; i < 2; i++)
			if (a->has[i]) {
				rfd[i] = fds[k++];
				fcntl(rfd[i], F_SETFL, O_NONBLOCK);
			}
		o->src[src] = outlog_add(o->ol, src, a->path, a->name, rfd,
		    &o->slots[2 * src]);
		if (a->pid > 0)
			outlog_spawned(o->ol, o->src[src], a->pid);
		return;
	}
	case HMSG_OUT_LOGS: {
		const struct hmsg_out_logs *l = rec;

		if (nfds != 1 || !o->src[src])
			fatal("logs of an unknown source, or without its client");
		outlog_logs(o->ol, o->src[src], fds[0], l->lines, l->follow);
		return;
	}
	default:
		break;
	}
	closeall(fds, nfds);
	if (nfds)
		fatal("a record of type %u with descriptors", h->type);
	if (!o->src[src])
		fatal("a record of type %u for an unknown source %u", h->type,
		    src);
	switch (h->type) {
	case HMSG_OUT_SPAWNED:
		outlog_spawned(o->ol, o->src[src],
		    ((const struct hmsg_out_pid *)rec)->pid);
		break;
	case HMSG_OUT_EXITED: {
		const struct hmsg_out_exited *e = rec;

		outlog_exited_at(o->ol, o->src[src], e->pid, e->bound,
		    e->quiet);
		break;
	}
	case HMSG_OUT_REMOVE:
		outlog_remove(o->ol, o->src[src]);
		o->src[src] = NULL;
		break;
	default:
		fatal("a record of type %u is not the output helper's",
		    h->type);
	}
}

static void
on_socket(struct out *o)
{
	union {
		struct hmsg_hdr h;
		char b[HMSG_MAX];
	} m;
	char why[160];
	int fds[HMSG_FDS_MAX], nfds;
	ssize_t n;

	while ((n = hmsg_recv_fds(o->rt.sock, &m, sizeof(m), fds, &nfds)) > 0) {
		if (hmsg_check_from_core(&m, (size_t)n, why, sizeof(why)) < 0)
			fatal("from the core: %s", why);
		on_record(o, &m, fds, nfds);
	}
	if (n == 0)
		exit(0);	/* the core is gone */
	if (errno != EAGAIN && errno != EINTR)
		fatal("recvmsg: %s", strerror(errno));
	outlog_kick(o->ol);
}

static void
send_notes(struct out *o)
{
	struct out_note *v;
	size_t n;
	uint64_t c;

	(void)!read(outlog_notes_fd(o->ol), &c, sizeof(c));
	n = outlog_notes_take(o->ol, &v);
	for (size_t i = 0; i < n; i++) {
		struct hmsg_out_note r;

		hmsg_init(&r, HMSG_OUT_NOTE, sizeof(r));
		r.src = v[i].id;
		r.pid = v[i].pid;
		r.exited = v[i].exited;
		r.dropped = v[i].dropped;
		if (v[i].tail) {
			r.has_tail = 1;
			snprintf(r.tail, sizeof(r.tail), "%s", v[i].tail);
		}
		/* A full socket: the core is far behind; a note is lost,
		 * as the thread's notes were past NOTES_MAX. */
		(void)hmsg_send(o->rt.sock, &r, sizeof(r));
	}
}

int
main(void)
{
	static struct out o;
	struct epoll_event evs[8];
	bool notes_watched = false;

	hrt_init(&o.rt, "output");
	o.rt.quiesce = quiesce;
	o.rt.quiesce_ctx = &o;
	signal(SIGPIPE, SIG_IGN);
	if ((o.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1: %s", strerror(errno));
	watch(&o, o.rt.sock, TAG_SOCK);
	watch(&o, o.rt.beat_fd, TAG_BEAT);
	if (o.rt.fault_fd >= 0)
		watch(&o, o.rt.fault_fd, TAG_FAULT);
	hrt_sandbox(&o.rt, output_calls);
	for (;;) {
		int n = epoll_wait(o.epfd, evs, 8, -1);

		if (n < 0 && errno != EINTR)
			fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_SOCK:
				on_socket(&o);
				break;
			case TAG_BEAT:
				hrt_beat(&o.rt);
				break;
			case TAG_FAULT:
				hrt_fault(&o.rt);
				break;
			case TAG_NOTES:
				send_notes(&o);
				break;
			}
		}
		if (o.ol && !notes_watched) {
			watch(&o, outlog_notes_fd(o.ol), TAG_NOTES);
			notes_watched = true;
		}
		if (o.stopping) {
			outlog_stop(o.ol);	/* every pipe read out */
			_exit(0);
		}
	}
}
