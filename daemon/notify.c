/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "held.h"
#include "notify.h"
#include "log.h"
#include "util.h"

#define NOTIFY_BATCH 256

struct notify {
	struct reactor *r;
	struct engine *eng;
	const struct cgroups *cg;
	struct held *held;
	struct watch w;
	char *path;
	int dirfd;		/* path's directory (socket_dir_open) */
	const char *name;	/* its last component, in path */
	uint64_t rejected;
	uint64_t window_start;	/* the log says at most 5 lines a second */
	unsigned window_lines;
};

static void __attribute__((format(printf, 2, 3)))
reject(struct notify *nt, const char *fmt, ...)
{
	uint64_t now = mono_ns();
	va_list ap;
	char *msg;

	nt->rejected++;
	if (now - nt->window_start >= NSEC_PER_SEC) {
		nt->window_start = now;
		nt->window_lines = 0;
	}
	if (++nt->window_lines > 5)
		return;	/* a flood is counted, not logged line by line */
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_msg(LOG_WARN, "notify: ignored a datagram: %s (%llu ignored so far)",
	    msg, (unsigned long long)nt->rejected);
	free(msg);
}

/*
 * The notify worker pid belongs to. With cgroups: the worker whose cgroup
 * pid is in, which every descendant inherits and none can leave (setsid or
 * not). With process groups: its main process, or a process of the
 * worker's session and process group. Each worker leads a session of its
 * own (spawn.c), which no other process can join, so only its descendants
 * are in it; the group alone would not do (a process may join any group
 * of its own session).
 */
static struct enode *
sender(const struct notify *nt, pid_t pid)
{
	struct engine *eng = nt->eng;
	struct enode *n = NULL;
	char path[4096];
	pid_t pgid;

	if (nt->cg) {
		/* A worker's main process is in its cgroup: the pid index
		 * answers without reading /proc/PID/cgroup (a file per
		 * datagram: a WATCHDOG=1 flood's cost). */
		if ((n = engine_find_pid(eng, pid)))
			;
		else if (cgroups_node_of(nt->cg, pid, path, sizeof(path)) &&
		    (n = engine_find(eng, path)) && enode_is_supervisor(n))
			n = NULL;
	} else if (!(n = engine_find_pid(eng, pid)) &&
	    (pgid = getpgid(pid)) > 0 && getsid(pid) == pgid)
		n = engine_find_pid(eng, pgid);
	if (n && enode_spec(n)->w.ready != READY_NOTIFY &&
	    !enode_spec(n)->w.fd_store_max)
		return NULL;
	return n;
}

static void
close_all(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static void
on_datagram(void *owner, uint32_t events)
{
	struct notify *nt = owner;

	(void)events;
	/*
	 * At most NOTIFY_BATCH datagrams a turn: the socket stays readable
	 * and the reactor comes back to it after the others' events, so a
	 * flood cannot hold off exits, timers or control requests.
	 */
	for (int batch = 0; batch < NOTIFY_BATCH; batch++) {
		char buf[NOTIFY_MAX_DATAGRAM + 1];
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct ucred)) +
			    CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS)];
		} cm;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = &cm, .msg_controllen = sizeof(cm) };
		struct ucred *cred = NULL;
		int *fds = NULL;
		size_t nfds = 0;
		struct notify_msg m;
		const char *why;
		struct enode *n;
		ssize_t len;
		uint64_t now;

		len = recvmsg(nt->w.fd, &mh, MSG_DONTWAIT | MSG_TRUNC |
		    MSG_CMSG_CLOEXEC);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		    c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
				cred = (struct ucred *)CMSG_DATA(c);
			else if (c->cmsg_type == SCM_RIGHTS && !fds) {
				fds = (int *)CMSG_DATA(c);
				nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			} else if (c->cmsg_type == SCM_RIGHTS) {
				/* One array per datagram is all sd_notify sends. */
				for (size_t i = 0; i < (c->cmsg_len -
				    CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(c))[i]);
			}
		}
		if ((size_t)len > NOTIFY_MAX_DATAGRAM ||
		    (mh.msg_flags & MSG_TRUNC)) {
			close_all(fds, nfds);
			reject(nt, "larger than %d bytes", NOTIFY_MAX_DATAGRAM);
			continue;
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			/* The kernel closes what did not fit. */
			close_all(fds, nfds);
			reject(nt, "more than %d file descriptors passed",
			    NOTIFY_MAX_FDS);
			continue;
		}
		if (!cred || cred->pid <= 0) {
			close_all(fds, nfds);
			reject(nt, "no sender credentials");
			continue;
		}
		n = sender(nt, cred->pid);
		if (!n) {
			close_all(fds, nfds);
			reject(nt, "pid %d is not a notify worker or in its %s",
			    cred->pid, nt->cg ? "cgroup" : "process group");
			continue;
		}
		if (notify_parse(buf, (size_t)len, &m, &why) < 0) {
			close_all(fds, nfds);
			reject(nt, "from %s (pid %d): %s", enode_path(n),
			    cred->pid, why);
			continue;
		}
		now = mono_ns();
		if (m.has_status)
			engine_set_status_text(nt->eng, n, m.status);
		if (m.has_extend)
			engine_extend_timeout(nt->eng, n, m.extend_usec,
			    now);
		if (m.ready && enode_spec(n)->w.ready == READY_NOTIFY)
			engine_ready(nt->eng, n, now);
		if (m.fdstore_remove)
			held_store_remove(nt->held, n, m.fdname);
		/* FDSTORE=1: kept, within fd_store_max (held_store closes
		 * and says what it refuses); otherwise closed. */
		if (nfds > 0 && m.fdstore) {
			size_t had = held_store_count(n);

			if (!held_store(nt->held, n, fds, nfds, m.fdname,
			    !m.fdpoll_off))
				reject(nt, "FDSTORE=1 from %s (pid %d): %zu fd%s refused, it holds %zu of fd_store_max %u (or their names would pass %d bytes)",
				    enode_path(n), cred->pid, nfds,
				    nfds == 1 ? "" : "s", had,
				    enode_spec(n)->w.fd_store_max,
				    HELD_STORE_NAMES_MAX);
		} else
			close_all(fds, nfds);
		if (m.watchdog)
			engine_watchdog(nt->eng, n, now);
		if (m.watchdog_trigger)
			engine_watchdog_trigger(nt->eng, n, now);
	}
}

struct notify *
notify_open(struct reactor *r, struct engine *eng, const struct cgroups *cg,
    struct held *held, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct notify *nt;
	const char *name;
	int one = 1, fd, dirfd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "path too long");
		return NULL;
	}
	strcpy(sa.sun_path, path);
	if ((dirfd = socket_dir_open(path, err, errlen)) < 0)
		return NULL;
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		close(dirfd);
		return NULL;
	}
	if (unlink_stale_socket_at(dirfd, name) < 0) {
		snprintf(err, errlen, errno == EEXIST ?
		    "something that is not a socket is there; not replacing it" :
		    "removing a stale socket: %s", strerror(errno));
		close(fd);
		close(dirfd);
		return NULL;
	}
	/*
	 * Workers may run as any user, so anyone may send; the kernel's
	 * credentials decide whom a datagram is from. Its directory is the
	 * control socket's, checked as trusted and held: the mode is set on
	 * the name in it without following a link (EOPNOTSUPP if one took
	 * its place), and the name removed there.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(dirfd, name, 0666, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		close(dirfd);
		return NULL;
	}
	nt = xcalloc(1, sizeof(*nt));
	nt->r = r;
	nt->eng = eng;
	nt->cg = cg;
	nt->held = held;
	nt->path = xstrdup(path);
	nt->dirfd = dirfd;
	nt->name = nt->path + (name - path);
	if (reactor_watch(r, &nt->w, fd, EPOLLIN, on_datagram, nt) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		close(fd);
		(void)unlink_stale_socket_at(dirfd, nt->name);
		close(dirfd);
		free(nt->path);
		free(nt);
		return NULL;
	}
	return nt;
}

void
notify_close(struct notify *nt)
{
	if (!nt)
		return;
	reactor_unwatch(nt->r, &nt->w);
	close(nt->w.fd);
	(void)unlink_stale_socket_at(nt->dirfd, nt->name);
	close(nt->dirfd);
	free(nt->path);
	free(nt);
}

const char *
notify_path(const struct notify *nt)
{
	return nt->path;
}
