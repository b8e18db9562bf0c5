/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The cgroup subtree (arbord(8), CONTAINMENT):
 *
 *   <base>/arbord            arbord and its guardian, never limited
 *   <base>/root/api/web      a directory per supervisor, a leaf per worker
 *
 * The base is arbord's own cgroup when it was delegated to it (systemd's
 * Delegate=yes marks it with the xattr trusted.delegate; a container's init
 * owns its whole cgroup namespace), else a directory "arbor-<socket path>"
 * made at the root of the v2 mount: named after the control socket, which
 * two live arbords never share, and which the next arbord of that socket
 * finds again to clean up after one that was SIGKILLed.
 *
 * On hybrid hosts (memory, pids and cpu mounted as cgroup v1) the same
 * paths are made below arbord's own group of each v1 controller, only for
 * nodes whose limits need it: joining a v1 group is a migration, which the
 * kernel makes slow (it waits for an RCU grace period), so a worker without
 * such limits never pays for it.
 *
 * The runtime word of each node (enode_runtime) holds what was done to its
 * cgroup; besides, only the workers that exited last keep their leaf open
 * (kept_put).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "cgroup.h"
#include "cglimits.h"
#include "log.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The runtime word: keys applied (v2, v1), directories made, draining. */
#define RT_V2_KEYS(w)	((unsigned)((w) & 0xff))
#define RT_V1_KEYS(w)	((unsigned)(((w) >> 8) & 0xff))
#define RT_MADE		((uintptr_t)1 << 16)
#define RT_V1_MADE(c)	((uintptr_t)1 << (17 + (c)))	/* c < CTRL_N */
/* Its cgroup.freeze is 1 (arborctl pause). */
#define RT_FROZEN	((uintptr_t)1 << 28)
/*
 * Its cgroup.kill was written: nothing may be born into it again (Linux
 * 6.18 kills at once whatever is), it must be removed and made anew.
 */
#define RT_KILLED	((uintptr_t)1 << 29)
/* What goes with the v2 directory when it is made anew. */
#define RT_V2_DIR	(RT_MADE | (uintptr_t)0xff | RT_FROZEN | RT_KILLED)

#define LEAF_SELF "arbord"
/* The helper processes' leaves, one per helper, beside the tree: one
 * cgroup the probes leave out (a helper is no worker). */
#define DIR_HELPERS "helpers"
/* On the directories arbord makes in a base it shares (delegated, given). */
#define MARK_XATTR "trusted.arbor"
#define DRAIN_WAIT_NS (5 * NSEC_PER_SEC)
/* An exec health check's group, below its worker's leaf. */
#define CHECK_DIR "health"

struct cgroups {
	struct reactor *r;
	char *mount;		/* the v2 mount point */
	char *base;		/* absolute */
	char *home;		/* arbord's cgroup before it moved, absolute */
	char *root_name;	/* the tree's directory below the base */
	bool owned_base;	/* made here: removed at exit */
	int basefd;
	unsigned offered;	/* v2 controllers below the base (1 << cg_ctrl) */
	unsigned enabled;	/* written to subtree_control */
	unsigned helpers_enabled;	/* and to DIR_HELPERS' */
	char *v1[CTRL_N];	/* a v1 controller's base, NULL: none */
	bool v1_made[CTRL_N];
	int self_pidfd;
	int killfd;		/* <base>/cgroup.kill, for the guardian */
	pid_t guardian;
	struct watch gw;	/* the guardian's pidfd */
	/* The leaves of the workers that exited last, open (kept_put). */
	struct kept_leaf {
		const struct enode *n;	/* NULL: a free entry */
		int dir, events;
		uint64_t used;		/* kept_clock at its last drain */
		bool fresh;		/* drained in this batch, not spawned into */
	} kept[CG_KEPT_LEAVES];
	uint64_t kept_clock;
	/* The directory the last leaf was made in, for the rest of the
	 * loop's turn (mkparent_get); mkparent NULL: none. */
	char *mkparent;
	int mkparent_fd;
};

/*
 * A worker's leaf and its cgroup.events stay open from one exit to the
 * next: its drain reads cgroup.events, and its replacement is born into the
 * leaf, with no path lookup; each openat2 in cgroupfs was the costliest call
 * between an exit and the restart. Only for the CG_KEPT_LEAVES workers that
 * exited last (FDS_RESERVED counts them). A drain reads through them only
 * what it checks anyway, and a leaf removed since fails that read; a spawn
 * uses one only in the batch of the drain that found it empty. Any leaf
 * removed here drops them all.
 */
static void
kept_close(struct kept_leaf *k)
{
	close(k->dir);
	close(k->events);
	k->n = NULL;
}

static void
mkparent_drop(struct cgroups *cg)
{
	if (!cg->mkparent)
		return;
	close(cg->mkparent_fd);
	free(cg->mkparent);
	cg->mkparent = NULL;
}

static void
kept_drop(struct cgroups *cg)
{
	for (size_t i = 0; i < CG_KEPT_LEAVES; i++)
		if (cg->kept[i].n)
			kept_close(&cg->kept[i]);
	mkparent_drop(cg);
}

static struct kept_leaf *
kept_find(struct cgroups *cg, const struct enode *n)
{
	for (size_t i = 0; i < CG_KEPT_LEAVES; i++)
		if (cg->kept[i].n == n)
			return &cg->kept[i];
	return NULL;
}

/* Keeps n's leaf and cgroup.events (both taken over), the oldest going. */
static void
kept_put(struct cgroups *cg, const struct enode *n, int dir, int events)
{
	struct kept_leaf *k = &cg->kept[0];

	for (size_t i = 0; i < CG_KEPT_LEAVES; i++) {
		if (!cg->kept[i].n) {
			k = &cg->kept[i];
			break;
		}
		if (cg->kept[i].used < k->used)
			k = &cg->kept[i];
	}
	if (k->n)
		kept_close(k);
	*k = (struct kept_leaf){ .n = n, .dir = dir, .events = events,
	    .used = ++cg->kept_clock, .fresh = true };
}

/* ---- small file helpers ---- */

/*
 * Every file and directory of the subtree is opened here, as root must:
 * no symbolic link followed anywhere on the way, and for a path relative
 * to a directory fd, nothing outside it and no mount crossed (a worker
 * that runs as root may mount anything over a cgroup it made). Kernels
 * without openat2 (before 5.6, or a seccomp filter that hides it) get
 * O_NOFOLLOW, which guards the last name only.
 */
static int
cg_open(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (path[0] != '/')
		how.resolve |= RESOLVE_BENEATH | RESOLVE_NO_XDEV;
	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/*
 * The directory that holds the last name of path, opened as cg_open does;
 * *name points to that name in path. -1 with errno.
 */
static int
cg_parent(int dirfd, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	if (!slash) {
		*name = path;
		return cg_open(dirfd, ".", O_RDONLY | O_DIRECTORY);
	}
	*name = slash + 1;
	if (slash == path)
		return cg_open(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
	if ((size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return cg_open(dirfd, dir, O_RDONLY | O_DIRECTORY);
}

/* mkdir of dirfd/path (mode 0755), its parent opened as cg_open does. */
static int
cg_mkdir(int dirfd, const char *path)
{
	const char *name;
	int fd = cg_parent(dirfd, path, &name), r, e;

	if (fd < 0)
		return -1;
	r = mkdirat(fd, name, 0755);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/*
 * Makes DIR_HELPERS below the base. Like arbord's leaf and the tree's
 * directory it is arbord's by its name in any base: one there at start
 * was killed and removed (clean_base). 0 or -1 (errno).
 */
static int
helpers_dir(struct cgroups *cg)
{
	if (cg_mkdir(cg->basefd, DIR_HELPERS) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* rmdir of dirfd/path, its parent opened as cg_open does. */
static int
cg_rmdir(int dirfd, const char *path)
{
	const char *name;
	int fd = cg_parent(dirfd, path, &name), r, e;

	if (fd < 0)
		return -1;
	r = unlinkat(fd, name, AT_REMOVEDIR);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* A small file into buf (NUL-terminated); its length, or -1. */
static ssize_t
read_at(int dirfd, const char *file, char *buf, size_t len)
{
	return read_small_fd(cg_open(dirfd, file, O_RDONLY), buf, len);
}

static int
write_at(int dirfd, const char *file, const char *text)
{
	int fd = cg_open(dirfd, file, O_WRONLY);
	ssize_t w;
	int e;

	if (fd < 0)
		return -1;
	w = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)strlen(text) ? 0 : -1;
}

/* "populated 0" in a cgroup.events read from offset 0: 1, else 0; -1
 * when it cannot be read (the cgroup was removed). */
static int
events_read(int fd)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	const char *p;

	if (n < 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "populated ");
	return !p || p[10] == '0';
}

static bool
events_empty(int fd)
{
	return events_read(fd) != 0;	/* gone: nothing left in it */
}

/* ---- where things are ---- */

/* Is tok one of the comma-separated words of list? (list is cut up.) */
static bool
has_token(char *list, const char *tok)
{
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
	    t = strtok_r(NULL, ",", &save))
		if (strcmp(t, tok) == 0)
			return true;
	return false;
}

/*
 * The mount point of cgroup v2 (ctrl NULL) or of the v1 hierarchy that
 * carries controller name; NULL when none.
 */
static char *
find_mount(const char *ctrl)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		char mnt[4096], type[64], opts[1024];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, opts) != 2)
			continue;
		if (!ctrl && strcmp(type, "cgroup2") == 0)
			found = xstrdup(mnt);
		else if (ctrl && strcmp(type, "cgroup") == 0 &&
		    has_token(opts, ctrl))
			found = xstrdup(mnt);
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * arbord's cgroup in the v2 hierarchy (ctrl NULL) or in a v1 one, from
 * /proc/self/cgroup: "/" or "/a/b"; NULL when not listed.
 */
static char *
own_cgroup(const char *ctrl)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	while (!found && (n = getline(&line, &cap, f)) > 0) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

		if (!b)
			continue;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		*b = '\0';
		if (!ctrl ? a[1] == '\0' : has_token(a + 1, ctrl))
			found = xstrdup(b + 1);
	}
	free(line);
	fclose(f);
	return found;
}

/* "/run/arbor/arbor.sock" -> "arbor-run-arbor-arbor.sock". */
static char *
base_name(const char *socket_path)
{
	char *s = xasprintf("arbor-%s", socket_path + (socket_path[0] == '/'));

	for (char *p = s + 6; *p; p++)
		if (*p == '/')
			*p = '-';
		else if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' &&
		    *p != '-')
			*p = '_';
	return s;
}

static bool
delegated(const char *dir)
{
	static const char *const names[] = { "trusted.delegate", "user.delegate" };
	char v[8];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ssize_t n = lgetxattr(dir, names[i], v, sizeof(v) - 1);

		if (n > 0 && v[0] == '1')
			return true;
	}
	return false;
}

/*
 * A container's init with a cgroup namespace of its own owns the cgroup it
 * sees as "/"; without one (unshare -p alone), "/" is the host's root.
 */
#define CGROUP_NS_INIT_INO 0xEFFFFFFBU

static bool
own_cgroup_ns(void)
{
	struct stat st;

	return stat("/proc/self/ns/cgroup", &st) == 0 &&
	    st.st_ino != CGROUP_NS_INIT_INO;
}

static bool
on_cgroup2(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

/* ---- killing and removing ---- */

/*
 * Kills everything in dirfd/rel and waits (poll on cgroup.events, never a
 * sleep) until it is empty, at most DRAIN_WAIT_NS; false if not empty then.
 */
static bool
kill_and_wait(int dirfd, const char *rel)
{
	char path[4096];
	uint64_t deadline = mono_ns() + DRAIN_WAIT_NS;
	struct pollfd p = { .events = POLLPRI };
	bool empty;

	snprintf(path, sizeof(path), "%s/cgroup.events", rel);
	if ((p.fd = cg_open(dirfd, path, O_RDONLY)) < 0)
		return true;
	snprintf(path, sizeof(path), "%s/cgroup.kill", rel);
	if (!events_empty(p.fd) && write_at(dirfd, path, "1") < 0)
		log_msg(LOG_WARN, "cgroup %s: cgroup.kill: %s", rel,
		    strerror(errno));
	while (!(empty = events_empty(p.fd))) {
		uint64_t now = mono_ns();

		if (now >= deadline)
			break;
		poll(&p, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1);
	}
	close(p.fd);
	return empty;
}

/*
 * A subdirectory of dirfd: any (ino 0), or the one whose inode is ino; its
 * name into name. False when there is none.
 */
static bool
subdir(int dirfd, ino_t ino, char *name, size_t len)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;
	bool found = false;

	if (fd < 0)
		return false;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return false;
	}
	while (!found && (e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0 && (!ino || e->d_ino == ino)) {
			snprintf(name, len, "%s", e->d_name);
			found = true;
		}
	closedir(d);
	return found;
}

/*
 * Removes dirfd/rel and every directory below it, depth first (a cgroup
 * with children cannot go), however deep a worker nested its cgroups, with
 * one directory open at a time: down to a directory with no subdirectory,
 * up one, remove it, and again. A mount on a directory below is never
 * entered (it is not arbord's to empty); its rmdir fails. 0, or -1 with
 * the reason in why.
 */
static int
rmdir_tree(int dirfd, const char *rel, char *why, size_t whylen)
{
	char name[NAME_MAX + 1];
	size_t depth = 0;
	struct stat st, sub_st;
	int fd, sub, e;

	if ((fd = cg_open(dirfd, rel, O_RDONLY | O_DIRECTORY)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s: %s", rel, strerror(errno));
		return -1;
	}
	for (;;) {
		if (subdir(fd, 0, name, sizeof(name))) {
			/* The same device: no mount crossed, where cg_open
			 * had only O_NOFOLLOW to offer. */
			if ((sub = cg_open(fd, name, O_RDONLY | O_DIRECTORY)) >= 0 &&
			    fstat(fd, &st) == 0 && fstat(sub, &sub_st) == 0 &&
			    st.st_dev == sub_st.st_dev) {
				close(fd);
				fd = sub;
				depth++;
				continue;
			}
			if (sub >= 0)
				close(sub);
			if (unlinkat(fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
				continue;
			goto fail;
		}
		if (depth == 0)
			break;
		if (fstat(fd, &st) < 0 ||
		    (sub = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			snprintf(name, sizeof(name), "..");
			goto fail;
		}
		close(fd);
		fd = sub;
		depth--;
		/* Not found: the walk lost its way; stop rather than loop. */
		if (!subdir(fd, st.st_ino, name, sizeof(name))) {
			snprintf(name, sizeof(name), "(inode %ju)",
			    (uintmax_t)st.st_ino);
			errno = ESTALE;
			goto fail;
		}
		if (unlinkat(fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			goto fail;
	}
	close(fd);
	if (cg_rmdir(dirfd, rel) < 0 && errno != ENOENT) {
		snprintf(why, whylen, "rmdir %s: %s", rel, strerror(errno));
		return -1;
	}
	return 0;
fail:
	e = errno;
	close(fd);
	snprintf(why, whylen, "rmdir of \"%s\" %s %s: %s", name,
	    depth ? "below" : "in", rel, strerror(e));
	errno = e;
	return -1;
}

/* rmdir_tree, its failure logged. */
static void
rmdir_tree_warn(int dirfd, const char *rel)
{
	char why[PATH_MAX + 128];

	if (rmdir_tree(dirfd, rel, why, sizeof(why)) < 0)
		log_msg(LOG_WARN, "cgroup: %s", why);
}

/* A pid other than ours in dirfd/rel/cgroup.procs: 0 when none. */
static int
other_member(int dirfd, const char *rel)
{
	char path[4096], buf[4096];
	char *p, *end;

	snprintf(path, sizeof(path), "%s/cgroup.procs", rel);
	if (read_at(dirfd, path, buf, sizeof(buf)) <= 0)
		return 0;
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0 && pid != getpid())
			return (int)pid;
	}
	return 0;
}

/* The mark (MARK_XATTR) of directory dirfd/name; its length, or -1. */
static ssize_t
fgetxattr_at(int dirfd, const char *name, char *v, size_t len)
{
	int fd = cg_open(dirfd, name, O_RDONLY | O_DIRECTORY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = fgetxattr(fd, MARK_XATTR, v, len);
	close(fd);
	return n;
}

/*
 * What a SIGKILLed arbord of this base left: every directory in it that is
 * arbord's is killed and removed. -1 when a live arbord still holds it.
 */
static int
clean_base(int basefd, const char *base, bool owned, const char *root_name)
{
	DIR *d;
	struct dirent *e;
	int fd = openat(basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), holder;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if ((holder = other_member(basefd, LEAF_SELF))) {
		closedir(d);
		log_msg(LOG_ERROR, "cgroup %s is held by process %d: another arbord is running there; nothing was started",
		    base, holder);
		return -1;
	}
	while ((e = readdir(d))) {
		char v[4];

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		/* In a base of its own everything is arbord's; elsewhere only
		 * what it marked, its leaf and the tree's root. */
		if (!owned && strcmp(e->d_name, LEAF_SELF) != 0 &&
		    strcmp(e->d_name, root_name) != 0 &&
		    strcmp(e->d_name, DIR_HELPERS) != 0 &&
		    fgetxattr_at(basefd, e->d_name, v, sizeof(v)) <= 0)
			continue;
		if (strcmp(e->d_name, LEAF_SELF) != 0) {
			log_msg(LOG_WARN, "cgroup %s/%s: left by an arbord that did not exit in order: killing and removing it",
			    base, e->d_name);
			if (!kill_and_wait(basefd, e->d_name))
				log_msg(LOG_WARN, "cgroup %s/%s: not empty after %d s of cgroup.kill",
				    base, e->d_name, (int)(DRAIN_WAIT_NS / NSEC_PER_SEC));
		}
		rmdir_tree_warn(basefd, e->d_name);
	}
	closedir(d);
	return 0;
}

/* ---- the guardian ---- */

/*
 * A process of its own, in arbord's leaf, that waits on a pidfd of arbord;
 * when arbord is gone, whatever the cause, it writes cgroup.kill of the
 * base, which kills every process of the subtree, itself included: it
 * cannot outlive the tree it guards. Forked, not exec'd: it runs only
 * system calls, so the other threads of arbord do not matter to it.
 */
static _Noreturn void
guardian_main(int pidfd, int killfd)
{
	struct pollfd p = { .fd = 3, .events = POLLIN };
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Above 4 first, so that neither dup2 can close the other's fd. */
	if ((pidfd = fcntl(pidfd, F_DUPFD, 5)) < 0 ||
	    (killfd = fcntl(killfd, F_DUPFD, 5)) < 0 ||
	    dup2(pidfd, 3) < 0 || dup2(killfd, 4) < 0)
		syscall(SYS_exit_group, 1);
	syscall(SYS_close_range, 5, ~0U, 0);
	prctl(PR_SET_NAME, "arbord-guard", 0, 0, 0);
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	(void)!write(4, "1", 1);
	syscall(SYS_exit_group, 0);
	for (;;)
		;
}

static void on_guardian(void *owner, uint32_t events);

static int
guardian_start(struct cgroups *cg)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid == 0)
		guardian_main(cg->self_pidfd, cg->killfd);
	if ((fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0 ||
	    reactor_watch(cg->r, &cg->gw, fd, EPOLLIN, on_guardian, cg) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	cg->guardian = pid;
	return 0;
}

static void
guardian_stop(struct cgroups *cg)
{
	if (cg->guardian <= 0)
		return;
	reactor_unwatch(cg->r, &cg->gw);
	kill(cg->guardian, SIGKILL);
	waitid(P_PIDFD, (id_t)cg->gw.fd, &(siginfo_t){ 0 }, WEXITED);
	close(cg->gw.fd);
	cg->guardian = 0;
}

/* Someone killed the guardian: say so and start another one. */
static void
on_guardian(void *owner, uint32_t events)
{
	struct cgroups *cg = owner;
	pid_t old = cg->guardian;

	(void)events;
	reactor_unwatch(cg->r, &cg->gw);
	waitid(P_PIDFD, (id_t)cg->gw.fd, &(siginfo_t){ 0 }, WEXITED | WNOHANG);
	close(cg->gw.fd);
	cg->guardian = 0;
	if (guardian_start(cg) < 0)
		log_msg(LOG_ERROR, "the guardian (pid %d) died and no other could start: %s; if arbord dies now, its workers' descendants may outlive it",
		    old, strerror(errno));
	else
		log_msg(LOG_WARN, "the guardian (pid %d) died; started another (pid %d)",
		    old, cg->guardian);
}

/* ---- setting up ---- */

static unsigned
ctrls_used(const struct spec_node *n)
{
	unsigned m = 0;

	for (int k = 0; k < RES_NKEYS; k++)
		if (n->res.set & (1U << k))
			m |= 1U << cg_key_ctrl((enum res_key)k);
	for (size_t i = 0; i < n->nchildren; i++)
		m |= ctrls_used(n->children[i]);
	if (n->template)
		m |= ctrls_used(n->template);
	return m;
}

/* The v2 controllers dirfd offers (its cgroup.controllers). */
static unsigned
offered_at(int dirfd, const char *rel)
{
	char path[4096], buf[512];
	unsigned m = 0;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", rel);
	if (read_at(dirfd, path, buf, sizeof(buf)) < 0)
		return 0;
	for (char *save = NULL, *t = strtok_r(buf, " \n", &save); t;
	    t = strtok_r(NULL, " \n", &save))
		for (int c = 0; c < CTRL_N; c++)
			if (strcmp(t, cg_ctrl_name((enum cg_ctrl)c)) == 0)
				m |= 1U << c;
	return m;
}

/* Writes "+memory +pids ..." for mask into dirfd/rel/cgroup.subtree_control. */
static int
enable_at(int dirfd, const char *rel, unsigned mask, char sign)
{
	char path[4096], buf[128] = "";
	size_t k = 0;

	if (!mask)
		return 0;
	for (int c = 0; c < CTRL_N; c++)
		if (mask & (1U << c))
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%c%s",
			    k ? " " : "", sign, cg_ctrl_name((enum cg_ctrl)c));
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", rel);
	return write_at(dirfd, path, buf);
}

/*
 * The controllers to enable below the base: memory and pids for their
 * figures, cpu and io when a key needs them.
 */
static unsigned
wanted(const struct spec *sp)
{
	return (1U << CTRL_MEMORY) | (1U << CTRL_PIDS) | ctrls_used(sp->root);
}

/* Removes arbord's part of v1 hierarchy c: all of it, or the tree's part. */
static void
v1_clean(const struct cgroups *cg, enum cg_ctrl c)
{
	char *dir;

	if (cg->v1_made[c]) {
		rmdir_tree_warn(AT_FDCWD, cg->v1[c]);
		return;
	}
	dir = xasprintf("%s/%s", cg->v1[c], cg->root_name);
	rmdir_tree_warn(AT_FDCWD, dir);
	free(dir);
}

/* The v1 hierarchies of memory, pids and cpu that v2 does not offer. */
static void
find_v1(struct cgroups *cg, const char *name, bool own_base)
{
	static const enum cg_ctrl v1ctrls[] = { CTRL_MEMORY, CTRL_PIDS, CTRL_CPU };

	for (size_t i = 0; i < ARRAY_SIZE(v1ctrls); i++) {
		enum cg_ctrl c = v1ctrls[i];
		char *mnt, *own, *dir;

		if (cg->offered & (1U << c))
			continue;
		if (!(mnt = find_mount(cg_ctrl_name(c))))
			continue;
		own = own_cgroup(cg_ctrl_name(c));
		dir = xasprintf("%s%s", mnt, own && strcmp(own, "/") ? own : "");
		if (access(dir, W_OK) == 0) {
			cg->v1[c] = own_base ? xasprintf("%s/%s", dir, name)
			    : xstrdup(dir);
			cg->v1_made[c] = own_base;
			/* What a SIGKILLed arbord left there holds no process now. */
			v1_clean(cg, c);
		}
		free(dir);
		free(own);
		free(mnt);
	}
}

static void
cg_free(struct cgroups *cg)
{
	if (!cg)
		return;
	if (cg->basefd >= 0)
		close(cg->basefd);
	if (cg->killfd >= 0)
		close(cg->killfd);
	if (cg->self_pidfd >= 0)
		close(cg->self_pidfd);
	for (int c = 0; c < CTRL_N; c++)
		free(cg->v1[c]);
	free(cg->mount);
	free(cg->base);
	free(cg->home);
	free(cg->root_name);
	free(cg);
}

/*
 * arbord back where it came from, its leaf removed. The controllers
 * enabled below the base go first: a cgroup with some enabled below it
 * may hold no process, and the base may be where arbord came from.
 */
static void
leave_leaf(struct cgroups *cg)
{
	char pid[32], *home = xasprintf("%s/cgroup.procs", cg->home);

	enable_at(cg->basefd, ".", cg->enabled, '-');
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_at(AT_FDCWD, home, pid) < 0)
		log_msg(LOG_WARN, "cgroup: moving arbord back to %s: %s",
		    cg->home, strerror(errno));
	free(home);
	if (unlinkat(cg->basefd, LEAF_SELF, AT_REMOVEDIR) < 0)
		log_msg(LOG_WARN, "cgroup: rmdir %s/%s: %s", cg->base, LEAF_SELF,
		    strerror(errno));
}

/* Picks the base; NULL with why when there is none to use. */
static char *
choose_base(struct cgroups *cg, const struct spec *sp, const char *name,
    const char *own, char *why, size_t whylen)
{
	char *dir;

	if (sp->cgroup == CGROUP_PATH) {
		struct stat st;
		char *parent = xstrdup(sp->cgroup_path), *slash;
		bool exists = stat(sp->cgroup_path, &st) == 0;

		if ((slash = strrchr(parent, '/')) && slash != parent)
			*slash = '\0';
		if (!on_cgroup2(exists ? sp->cgroup_path : parent)) {
			snprintf(why, whylen, "%s is not on a cgroup v2 mount",
			    exists ? sp->cgroup_path : parent);
			free(parent);
			return NULL;
		}
		if (access(exists ? sp->cgroup_path : parent, W_OK) < 0) {
			snprintf(why, whylen, "%s is not writable: %s",
			    exists ? sp->cgroup_path : parent, strerror(errno));
			free(parent);
			return NULL;
		}
		free(parent);
		cg->owned_base = !exists;
		return xstrdup(sp->cgroup_path);
	}
	dir = xasprintf("%s%s", cg->mount, strcmp(own, "/") ? own : "");
	if ((strcmp(own, "/") != 0 && delegated(dir)) ||
	    (getpid() == 1 && strcmp(own, "/") == 0 && own_cgroup_ns())) {
		if (access(dir, W_OK) == 0)
			return dir;
	}
	free(dir);
	if (access(cg->mount, W_OK) < 0) {
		snprintf(why, whylen, "%s is not writable (%s) and arbord's own cgroup %s was not delegated to it",
		    cg->mount, strerror(errno), own);
		return NULL;
	}
	cg->owned_base = true;
	return xasprintf("%s/%s", cg->mount, name);
}

struct cgroups *
cgroups_open(struct reactor *r, const struct spec *sp, const char *socket_path,
    bool *failed)
{
	struct cgroups *cg;
	char why[512] = "", pid[32];
	char *name, *own = NULL;
	bool explicit = sp->cgroup == CGROUP_PATH;

	*failed = false;
	if (sp->cgroup == CGROUP_OFF) {
		log_msg(LOG_INFO, "containment: process groups (daemon.cgroup = \"off\")");
		return NULL;
	}
	cg = xcalloc(1, sizeof(*cg));
	cg->r = r;
	cg->basefd = cg->killfd = cg->self_pidfd = -1;
	cg->root_name = xstrdup(sp->root->name);
	name = base_name(socket_path);
	if (!(cg->mount = find_mount(NULL)))
		snprintf(why, sizeof(why), "no cgroup v2 mount");
	else if (!(own = own_cgroup(NULL)))
		snprintf(why, sizeof(why), "arbord is in no cgroup v2 (/proc/self/cgroup)");
	else if ((cg->base = choose_base(cg, sp, name, own, why, sizeof(why))) &&
	    cg->owned_base && cg_mkdir(AT_FDCWD, cg->base) < 0 &&
	    errno != EEXIST)
		snprintf(why, sizeof(why), "mkdir %s: %s", cg->base,
		    strerror(errno));
	else if (cg->base && (cg->basefd = cg_open(AT_FDCWD, cg->base,
	    O_RDONLY | O_DIRECTORY)) < 0)
		snprintf(why, sizeof(why), "%s: %s", cg->base, strerror(errno));
	else if (cg->base && faccessat(cg->basefd, "cgroup.kill", W_OK, 0) < 0)
		snprintf(why, sizeof(why), "%s has no writable cgroup.kill (Linux 5.14 or later): %s",
		    cg->base, strerror(errno));
	if (why[0])
		goto fallback;
	cg->home = xasprintf("%s%s", cg->mount, strcmp(own, "/") ? own : "");
	if (clean_base(cg->basefd, cg->base, cg->owned_base, sp->root->name) < 0) {
		*failed = true;
		goto out;
	}
	/* A base of our own at the root gets its controllers from there. */
	cg->offered = offered_at(cg->basefd, ".");
	if (cg->owned_base) {
		char *parent = xstrdup(cg->base);

		*strrchr(parent, '/') = '\0';
		enable_at(AT_FDCWD, parent, offered_at(AT_FDCWD, parent) &
		    wanted(sp) & ~offered_at(cg->basefd, "."), '+');
		free(parent);
		cg->offered = offered_at(cg->basefd, ".");
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (mkdirat(cg->basefd, LEAF_SELF, 0755) < 0 && errno != EEXIST) {
		snprintf(why, sizeof(why), "mkdir %s/%s: %s", cg->base, LEAF_SELF,
		    strerror(errno));
		goto fallback;
	}
	if (write_at(cg->basefd, LEAF_SELF "/cgroup.procs", pid) < 0) {
		snprintf(why, sizeof(why), "moving arbord into %s/%s: %s",
		    cg->base, LEAF_SELF, strerror(errno));
		unlinkat(cg->basefd, LEAF_SELF, AT_REMOVEDIR);
		goto fallback;
	}
	cg->enabled = cg->offered & wanted(sp);
	if (enable_at(cg->basefd, ".", cg->enabled, '+') < 0) {
		log_msg(LOG_WARN, "cgroup %s: enabling controllers: %s", cg->base,
		    strerror(errno));
		cg->enabled = 0;
	}
	/* Before the probes load, which leave it out by its id. */
	if (helpers_dir(cg) < 0)
		log_msg(LOG_WARN, "cgroup %s/%s: mkdir: %s", cg->base,
		    DIR_HELPERS, strerror(errno));
	find_v1(cg, name, cg->owned_base);
	if ((cg->self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0)) < 0 ||
	    (cg->killfd = cg_open(cg->basefd, "cgroup.kill", O_WRONLY)) < 0 ||
	    guardian_start(cg) < 0) {
		snprintf(why, sizeof(why), "starting the guardian: %s",
		    strerror(errno));
		leave_leaf(cg);
		goto fallback;
	}
	{
		char list[128] = "";
		size_t k = 0;

		for (int c = 0; c < CTRL_N; c++) {
			if (cg->enabled & (1U << c))
				k += (size_t)snprintf(list + k, sizeof(list) - k,
				    " %s", cg_ctrl_name((enum cg_ctrl)c));
			else if (cg->v1[c])
				k += (size_t)snprintf(list + k, sizeof(list) - k,
				    " %s(v1)", cg_ctrl_name((enum cg_ctrl)c));
		}
		log_msg(LOG_INFO, "containment: cgroup %s (controllers:%s), guardian pid %d",
		    cg->base, k ? list : " none", cg->guardian);
	}
	free(name);
	free(own);
	return cg;
fallback:
	if (explicit) {
		log_msg(LOG_ERROR, "daemon.cgroup = \"%s\": %s; nothing was started",
		    sp->cgroup_path, why);
		*failed = true;
	} else
		log_msg(LOG_WARN, "containment: process groups, not cgroups: %s",
		    why);
	if (cg->owned_base && cg->basefd >= 0)
		cg_rmdir(AT_FDCWD, cg->base);
out:
	free(name);
	free(own);
	cg_free(cg);
	return NULL;
}

void
cgroups_close(struct cgroups *cg)
{
	if (!cg)
		return;
	kept_drop(cg);
	guardian_stop(cg);
	/* The tree stopped in order; anything still there is killed. */
	{
		int fd = openat(cg->basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;

		while (d && (e = readdir(d)))
			if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
			    strcmp(e->d_name, LEAF_SELF) != 0 &&
			    (cg->owned_base || strcmp(e->d_name, cg->root_name) == 0 ||
			    strcmp(e->d_name, DIR_HELPERS) == 0)) {
				kill_and_wait(cg->basefd, e->d_name);
				rmdir_tree_warn(cg->basefd, e->d_name);
			}
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
	}
	for (int c = 0; c < CTRL_N; c++)
		if (cg->v1[c])
			v1_clean(cg, (enum cg_ctrl)c);
	leave_leaf(cg);
	if (cg->owned_base && cg_rmdir(AT_FDCWD, cg->base) < 0)
		log_msg(LOG_WARN, "exit: rmdir %s: %s", cg->base, strerror(errno));
	cg_free(cg);
}

const char *
cgroups_base(const struct cgroups *cg)
{
	return cg->base + strlen(cg->mount);
}

void
cgroups_view(const struct cgroups *cg, struct cg_view *v)
{
	struct stat st;

	memset(v, 0, sizeof(*v));
	if (!cg)
		return;
	v->v2_base = xstrdup(cg->base);
	for (int c = 0; c < CTRL_N && c < (int)ARRAY_SIZE(v->v1_base); c++)
		v->v1_base[c] = cg->v1[c] ? xstrdup(cg->v1[c]) : NULL;
	/* A v2 cgroup's id is its directory's inode number. */
	if (fstat(cg->basefd, &st) == 0)
		v->base_id = st.st_ino;
	if (fstatat(cg->basefd, LEAF_SELF, &st, AT_SYMLINK_NOFOLLOW) == 0)
		v->self_id = st.st_ino;
	if (fstatat(cg->basefd, DIR_HELPERS, &st, AT_SYMLINK_NOFOLLOW) == 0)
		v->helpers_id = st.st_ino;
	for (const char *p = cgroups_base(cg); *p; p++)
		v->base_level += *p == '/';
	v->v2_ctrls = cg->enabled;
}

void
cg_view_copy(struct cg_view *dst, const struct cg_view *src)
{
	*dst = *src;
	dst->v2_base = src->v2_base ? xstrdup(src->v2_base) : NULL;
	for (size_t c = 0; c < ARRAY_SIZE(src->v1_base); c++)
		dst->v1_base[c] = src->v1_base[c] ? xstrdup(src->v1_base[c])
		    : NULL;
}

void
cg_view_free(struct cg_view *v)
{
	free(v->v2_base);
	for (size_t c = 0; c < ARRAY_SIZE(v->v1_base); c++)
		free(v->v1_base[c]);
	memset(v, 0, sizeof(*v));
}

/* ---- per node ---- */

/* The keys this host applies through cgroup v2, and through v1. */
static unsigned
v2_keys(const struct cgroups *cg)
{
	unsigned m = 0;

	for (int c = 0; c < CTRL_N; c++)
		if (cg->enabled & (1U << c))
			m |= cg_keys_of((enum cg_ctrl)c);
	return m;
}

static unsigned
v1_keys(const struct cgroups *cg)
{
	unsigned m = 0;

	for (int c = 0; c < CTRL_N; c++)
		if (cg->v1[c] && !(cg->enabled & (1U << c)))
			m |= cg_keys_of((enum cg_ctrl)c);
	for (int k = 0; k < RES_NKEYS; k++)
		if (cg_v1_lacks((enum res_key)k))
			m &= ~(1U << k);
	return m;
}

/*
 * Writes n's limits (and resets those it no longer sets) into its
 * directory: dirfd, or (-1) rel below the base.
 */
static void
apply_v2(struct cgroups *cg, struct enode *n, int dirfd, const char *rel)
{
	uintptr_t w = enode_runtime(n);
	const struct spec_resources *r = &enode_spec(n)->res;
	unsigned keys = (r->set | RT_V2_KEYS(w)) & v2_keys(cg), done;
	char why[256];
	int fd = dirfd;

	if (!keys)
		return;
	if (fd < 0 && (fd = cg_open(cg->basefd, rel, O_RDONLY | O_DIRECTORY)) < 0) {
		log_msg(LOG_WARN, "%s: cgroup limits: cgroup %s/%s: %s",
		    enode_path(n), cg->base, rel, strerror(errno));
		return;
	}
	done = cg_write_v2(fd, r, keys, why, sizeof(why));
	if (fd != dirfd)
		close(fd);
	if (done != keys)
		log_msg(LOG_WARN, "%s: cgroup limits: %s", enode_path(n), why);
	enode_set_runtime(n, (w & ~(uintptr_t)0xff) | (done & r->set));
}

static void
apply_v1(struct cgroups *cg, struct enode *n, enum cg_ctrl c, const char *dir)
{
	uintptr_t w = enode_runtime(n);
	const struct spec_resources *r = &enode_spec(n)->res;
	unsigned keys = (r->set | RT_V1_KEYS(w)) & v1_keys(cg) & cg_keys_of(c),
	    done;
	char why[256];
	int fd;

	if (!keys || (fd = cg_open(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY)) < 0)
		return;
	done = cg_write_v1(fd, c, r, keys, why, sizeof(why));
	close(fd);
	if (done != keys)
		log_msg(LOG_WARN, "%s: cgroup v1 %s limits: %s", enode_path(n),
		    cg_ctrl_name(c), why);
	w &= ~((uintptr_t)(keys & 0xff) << 8);
	enode_set_runtime(n, w | ((uintptr_t)(done & r->set) << 8));
}

/*
 * The open directory of worker n's parent supervisor, to make n's leaf in
 * by its name alone: a start of many makes each leaf with one lookup of one
 * name, where a lookup of the parent's path and one of the leaf's were the
 * costliest calls of a spawn after clone3. It stays open only until the
 * loop's turn ends (cgroups_batch_done) or a directory is removed here
 * (kept_drop); one removed behind arbord's back fails the mkdirat
 * (ENOENT), and the leaf is made by path as before. -1: none (n is the
 * root, a supervisor, or its parent cannot be opened).
 */
static int
mkparent_get(struct cgroups *cg, const struct enode *n)
{
	const struct enode *p = enode_parent(n);

	if (!p || enode_is_supervisor(n) || !(enode_runtime(p) & RT_MADE))
		return -1;
	if (cg->mkparent && strcmp(cg->mkparent, enode_path(p)) == 0)
		return cg->mkparent_fd;
	mkparent_drop(cg);
	if ((cg->mkparent_fd = cg_open(cg->basefd, enode_path(p),
	    O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	cg->mkparent = xstrdup(enode_path(p));
	return cg->mkparent_fd;
}

/*
 * Makes the v2 directory of n (its parent exists); with fdp, hands its
 * fd back open.
 */
static int
make_dir(struct cgroups *cg, struct enode *n, int *fdp, char *msg,
    size_t msglen)
{
	const char *rel = enode_path(n), *name = enode_name(n);
	int fd, at = mkparent_get(cg, n), r = -1;

	if (at >= 0 && (r = mkdirat(at, name, 0755)) < 0 && errno == ENOENT) {
		/* The parent was removed since: by path, as a new one. */
		mkparent_drop(cg);
		at = -1;
	}
	if (at < 0) {
		at = cg->basefd;
		name = rel;
		r = cg_mkdir(at, rel);
	}
	if (r < 0 && errno != EEXIST) {
		snprintf(msg, msglen, "cgroup %s/%s: mkdir: %s", cg->base, rel,
		    strerror(errno));
		return -1;
	}
	if ((fd = cg_open(at, name, O_RDONLY | O_DIRECTORY)) < 0) {
		if (errno == ENOTDIR)
			snprintf(msg, msglen, "cgroup %s/%s: the name \"%s\" is a cgroup interface file there; rename the node",
			    cg->base, rel, enode_name(n));
		else
			snprintf(msg, msglen, "cgroup %s/%s: %s", cg->base, rel,
			    strerror(errno));
		return -1;
	}
	if (!enode_parent(n) && !cg->owned_base)
		(void)fsetxattr(fd, MARK_XATTR, "1", 1, 0);
	if (enode_is_supervisor(n) && enable_at(fd, ".", cg->enabled, '+') < 0)
		log_msg(LOG_WARN, "cgroup %s/%s: enabling controllers: %s",
		    cg->base, rel, strerror(errno));
	enode_set_runtime(n, enode_runtime(n) | RT_MADE);
	/* Through the fd just opened: a path may be mounted over since. */
	apply_v2(cg, n, fd, rel);
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return 0;
}

/*
 * Removes n's leaf and every cgroup below it (the worker may have made its
 * own: a container runtime, a nested supervisor), so that it is made anew
 * at the next start, empty and never killed. -1 with why.
 */
static int
leaf_remove(struct cgroups *cg, struct enode *n, char *why, size_t whylen)
{
	char e[PATH_MAX + 128];

	kept_drop(cg);
	if (rmdir_tree(cg->basefd, enode_path(n), e, sizeof(e)) < 0) {
		snprintf(why, whylen, "cgroup %s/%s cannot be removed (%s)",
		    cg->base, enode_path(n), e);
		return -1;
	}
	enode_set_runtime(n, enode_runtime(n) & ~RT_V2_DIR);
	return 0;
}

/* Does n or a supervisor above it set a key of c? */
static bool
needs_v1(const struct cgroups *cg, const struct enode *n, enum cg_ctrl c)
{
	unsigned keys = cg_keys_of(c) & v1_keys(cg);

	for (; n; n = enode_parent(n))
		if ((enode_spec(n)->res.set | RT_V1_KEYS(enode_runtime(n))) & keys)
			return true;
	return false;
}

/* The v1 directories of c down to n, made where missing; -1 with msg. */
static int
make_v1(struct cgroups *cg, struct enode *n, enum cg_ctrl c, char *msg,
    size_t msglen)
{
	struct enode *chain[SPEC_MAX_DEPTH + 8];
	size_t k = 0;

	for (struct enode *a = n; a && k < ARRAY_SIZE(chain); a = enode_parent(a))
		chain[k++] = a;
	if (cg_mkdir(AT_FDCWD, cg->v1[c]) < 0 && errno != EEXIST) {
		snprintf(msg, msglen, "cgroup v1 %s: mkdir: %s", cg->v1[c],
		    strerror(errno));
		return -1;
	}
	while (k-- > 0) {
		char *dir = xasprintf("%s/%s", cg->v1[c], enode_path(chain[k]));

		if (!(enode_runtime(chain[k]) & RT_V1_MADE(c))) {
			if (cg_mkdir(AT_FDCWD, dir) < 0 && errno != EEXIST) {
				snprintf(msg, msglen, "cgroup v1 %s: mkdir: %s",
				    dir, strerror(errno));
				free(dir);
				return -1;
			}
			enode_set_runtime(chain[k], enode_runtime(chain[k]) |
			    RT_V1_MADE(c));
			if (chain[k] != n)
				apply_v1(cg, chain[k], c, dir);
		}
		if (chain[k] == n)
			apply_v1(cg, n, c, dir);
		free(dir);
	}
	return 0;
}

int
cgroups_prepare(struct cgroups *cg, struct enode *n, struct cg_spawn *s,
    char *msg, size_t msglen)
{
	static const enum cg_ctrl v1ctrls[] = { CTRL_MEMORY, CTRL_PIDS, CTRL_CPU };
	struct enode *chain[SPEC_MAX_DEPTH + 8];
	struct kept_leaf *kl;
	size_t k = 0;

	s->dirfd = -1;
	s->dir_kept = false;
	s->nv1 = 0;
	for (struct enode *a = n; a && k < ARRAY_SIZE(chain); a = enode_parent(a))
		chain[k++] = a;
	/* Never born into a killed leaf, which the kernel may kill at once:
	 * one that could not be removed after its drain is a failed start. */
	if ((enode_runtime(n) & RT_KILLED) &&
	    leaf_remove(cg, n, msg, msglen) < 0) {
		size_t used = strlen(msg);

		snprintf(msg + used, msglen - used, "; it was killed (cgroup.kill), and nothing may start in it");
		return -1;
	}
	/* A paused worker's replacement is not born frozen. */
	if (enode_runtime(n) & RT_FROZEN)
		cgroups_freeze(cg, n, false);
	while (k-- > 0) {
		if (!(enode_runtime(chain[k]) & RT_MADE)) {
			if (make_dir(cg, chain[k], chain[k] == n ? &s->dirfd :
			    NULL, msg, msglen) < 0)
				return -1;
		} else if (chain[k] == n)
			apply_v2(cg, n, -1, enode_path(n));
	}
	for (size_t i = 0; i < ARRAY_SIZE(v1ctrls); i++) {
		enum cg_ctrl c = v1ctrls[i];
		char *procs;

		if (!cg->v1[c] || (cg->enabled & (1U << c)) || !needs_v1(cg, n, c))
			continue;
		if (make_v1(cg, n, c, msg, msglen) < 0)
			goto fail;
		procs = xasprintf("%s/%s/cgroup.procs", cg->v1[c], enode_path(n));
		s->v1fd[s->nv1] = cg_open(AT_FDCWD, procs, O_WRONLY);
		free(procs);
		if (s->v1fd[s->nv1] < 0) {
			snprintf(msg, msglen, "cgroup v1 %s of %s: %s",
			    cg_ctrl_name(c), enode_path(n), strerror(errno));
			goto fail;
		}
		s->nv1++;
	}
	/* The leaf its last exit's drain found there and empty. */
	if (s->dirfd < 0 && (kl = kept_find(cg, n)) && kl->fresh) {
		s->dirfd = kl->dir;
		s->dir_kept = true;
		kl->fresh = false;
	}
	if (s->dirfd < 0 && (s->dirfd = cg_open(cg->basefd, enode_path(n),
	    O_RDONLY | O_DIRECTORY)) < 0) {
		snprintf(msg, msglen, "cgroup %s/%s: %s", cg->base, enode_path(n),
		    strerror(errno));
		/* Removed behind arbord's back: made again at the next start. */
		if (errno == ENOENT)
			for (struct enode *a = n; a; a = enode_parent(a))
				enode_set_runtime(a, enode_runtime(a) &
				    ~RT_V2_DIR);
		goto fail;
	}
	return 0;
fail:
	cg_spawn_close(s);
	return -1;
}

int
cgroups_check_prepare(struct cgroups *cg, struct enode *n, bool renew,
    struct cg_spawn *s, char *msg, size_t msglen)
{
	char path[4096], why[PATH_MAX + 128];

	s->dirfd = -1;
	s->dir_kept = false;
	s->nv1 = 0;
	snprintf(path, sizeof(path), "%s/%s", enode_path(n), CHECK_DIR);
	/* With what a check may have nested below its group. */
	if (renew && rmdir_tree(cg->basefd, path, why, sizeof(why)) < 0) {
		snprintf(msg, msglen, "cgroup %s: %s (the previous check's processes are still being killed)",
		    cg->base, why);
		return -1;
	}
	if ((cg_mkdir(cg->basefd, path) < 0 && errno != EEXIST) ||
	    (s->dirfd = cg_open(cg->basefd, path, O_RDONLY | O_DIRECTORY)) < 0) {
		snprintf(msg, msglen, "cgroup %s/%s: %s", cg->base, path,
		    strerror(errno));
		return -1;
	}
	/* v1 groups: the worker's own, so its limits bound the check too. */
	for (int c = 0; c < CTRL_N && s->nv1 < ARRAY_SIZE(s->v1fd); c++) {
		char *procs;

		if (!cg->v1[c] || !(enode_runtime(n) & RT_V1_MADE(c)))
			continue;
		procs = xasprintf("%s/%s/cgroup.procs", cg->v1[c], enode_path(n));
		s->v1fd[s->nv1] = cg_open(AT_FDCWD, procs, O_WRONLY);
		free(procs);
		if (s->v1fd[s->nv1] >= 0)
			s->nv1++;
	}
	return 0;
}

bool
cgroups_check_kill(struct cgroups *cg, const struct enode *n)
{
	char path[4096];
	int fd;
	bool empty;

	snprintf(path, sizeof(path), "%s/%s/cgroup.events", enode_path(n),
	    CHECK_DIR);
	if ((fd = cg_open(cg->basefd, path, O_RDONLY)) < 0)
		return false;
	empty = events_empty(fd);
	close(fd);
	if (empty)
		return false;
	snprintf(path, sizeof(path), "%s/%s/cgroup.kill", enode_path(n),
	    CHECK_DIR);
	if (write_at(cg->basefd, path, "1") < 0)
		log_msg(LOG_WARN, "%s: health check: cgroup.kill: %s",
		    enode_path(n), strerror(errno));
	return true;
}

void
cg_spawn_close(struct cg_spawn *s)
{
	if (s->dirfd >= 0 && !s->dir_kept)
		close(s->dirfd);
	s->dirfd = -1;
	s->dir_kept = false;
	for (size_t i = 0; i < s->nv1; i++)
		close(s->v1fd[i]);
	s->nv1 = 0;
}

int
cgroups_drain(struct cgroups *cg, struct enode *n)
{
	char why[2 * PATH_MAX];
	struct kept_leaf *k = kept_find(cg, n);
	struct stat st;
	int fd, leaf, empty = -1;

	if (k) {
		/* Kept since its last start: a cgroup removed since (by
		 * someone else) reads ENODEV, or has no links, and is looked
		 * up again by path. */
		leaf = k->dir;
		fd = k->events;
		k->n = NULL;
		if ((empty = events_read(fd)) < 0 || fstat(leaf, &st) < 0 ||
		    st.st_nlink < 2) {
			close(fd);
			close(leaf);
			empty = -1;
		}
	}
	if (empty < 0) {
		if ((leaf = cg_open(cg->basefd, enode_path(n),
		    O_RDONLY | O_DIRECTORY)) < 0)
			return -1;
		if ((fd = cg_open(leaf, "cgroup.events", O_RDONLY)) < 0) {
			close(leaf);
			return -1;
		}
		/* Gone between the two: nothing is left in it, and nothing
		 * may be born into it either. */
		if ((empty = events_read(fd)) < 0 || (empty &&
		    fstat(leaf, &st) < 0)) {
			close(fd);
			close(leaf);
			return -1;
		}
	}
	if (empty) {
		/*
		 * Nothing runs below the leaf; cgroups the worker made there
		 * go with it (their rmdir cannot wait for a drain). cgroupfs
		 * counts a directory's subdirectories in its links (2 + one
		 * each), so one fstat says whether there are any. Otherwise
		 * the leaf and cgroup.events stay open (kept_put), for the
		 * spawn that follows and the next exit's drain.
		 */
		if (st.st_nlink > 2) {
			close(fd);
			close(leaf);
			if (leaf_remove(cg, n, why, sizeof(why)) < 0)
				log_msg(LOG_WARN, "%s: %s", enode_path(n), why);
			return -1;
		}
		kept_put(cg, n, leaf, fd);
		return -1;
	}
	/* The leaf's cgroup.kill kills its whole subtree; written through the
	 * leaf whose cgroup.events said so, whatever its path leads to now. */
	if (write_at(leaf, "cgroup.kill", "1") < 0)
		log_msg(LOG_WARN, "%s: cgroup.kill: %s", enode_path(n),
		    strerror(errno));
	close(leaf);
	enode_set_runtime(n, enode_runtime(n) | RT_KILLED);
	return fd;
}

bool
cgroups_empty(int events_fd)
{
	return events_empty(events_fd);
}

void
cgroups_batch_done(struct cgroups *cg)
{
	if (!cg)
		return;
	mkparent_drop(cg);
	/* Kept fds leave the range every spawning child copies (spawn.c),
	 * after the restart that found them. */
	for (size_t i = 0; i < CG_KEPT_LEAVES; i++) {
		struct kept_leaf *k = &cg->kept[i];

		k->fresh = false;
		if (k->n && k->dir < SPAWN_FD_BASE)
			k->dir = fd_move_high(k->dir);
		if (k->n && k->events < SPAWN_FD_BASE)
			k->events = fd_move_high(k->events);
	}
}

/*
 * After a cgroup.kill the leaf is made anew: Linux 6.18 (kill_seq) kills
 * every child later born into a once-killed cgroup with CLONE_INTO_CGROUP,
 * so the replacement would die at once (seen here: each restart SIGKILLed
 * within 20 us). The leaf and all below it are empty now (populated 0 of
 * the leaf counts its descendants); they go depth first, and the limits
 * are written again into the new leaf. Should that fail, RT_KILLED stays,
 * and cgroups_prepare tries again and refuses the start.
 */
void
cgroups_renew(struct cgroups *cg, struct enode *n)
{
	char why[2 * PATH_MAX];

	if (leaf_remove(cg, n, why, sizeof(why)) < 0)
		log_msg(LOG_WARN, "%s: %s; it is removed before the next start",
		    enode_path(n), why);
}

void
cgroups_removed(struct cgroups *cg, const struct enode *n)
{
	if (!cg)
		return;
	kept_drop(cg);
	if (enode_runtime(n) & RT_MADE)
		rmdir_tree_warn(cg->basefd, enode_path(n));
	for (int c = 0; c < CTRL_N; c++)
		if (cg->v1[c] && (enode_runtime(n) & RT_V1_MADE(c))) {
			char *dir = xasprintf("%s/%s", cg->v1[c], enode_path(n));

			rmdir_tree_warn(AT_FDCWD, dir);
			free(dir);
		}
}

/* Supervisors' limits again, top-down, and controllers for new keys. */
static void
reapply(struct cgroups *cg, struct enode *n, unsigned newly)
{
	if (!enode_is_supervisor(n) || !(enode_runtime(n) & RT_MADE))
		return;
	if (newly && enable_at(cg->basefd, enode_path(n), newly, '+') < 0)
		log_msg(LOG_WARN, "cgroup %s/%s: enabling controllers: %s",
		    cg->base, enode_path(n), strerror(errno));
	apply_v2(cg, n, -1, enode_path(n));
	for (int c = 0; c < CTRL_N; c++)
		if (cg->v1[c] && (enode_runtime(n) & RT_V1_MADE(c))) {
			char *dir = xasprintf("%s/%s", cg->v1[c], enode_path(n));

			apply_v1(cg, n, (enum cg_ctrl)c, dir);
			free(dir);
		}
	for (size_t i = 0; i < enode_nchildren(n); i++)
		reapply(cg, enode_child(n, i), newly);
}

void
cgroups_reloaded(struct cgroups *cg, struct enode *root, const struct spec *sp)
{
	unsigned newly;

	if (!cg)
		return;
	newly = cg->offered & wanted(sp) & ~cg->enabled;
	if (newly && enable_at(cg->basefd, ".", newly, '+') < 0) {
		log_msg(LOG_WARN, "cgroup %s: enabling controllers: %s", cg->base,
		    strerror(errno));
		newly = 0;
	}
	cg->enabled |= newly;
	reapply(cg, root, newly);
}

static void
unapplied_walk(const struct cgroups *cg, const struct spec_node *n,
    const char *parent, char ***out, size_t *k)
{
	char *path = parent ? xasprintf("%s/%s", parent, n->name)
	    : xstrdup(n->name);

	for (int key = 0; key < RES_NKEYS; key++) {
		enum cg_ctrl c = cg_key_ctrl((enum res_key)key);
		char *line = NULL;

		if (!(n->res.set & (1U << key)))
			continue;
		if (!cg)
			line = xasprintf("%s: %s: not applied: containment is process groups, not cgroups (see the start of the log)",
			    path, res_key_name((enum res_key)key));
		else if (cg->enabled & (1U << c))
			continue;
		else if (cg->offered & (1U << c))
			continue;	/* enabled once a reload needs it */
		else if (cg->v1[c] && cg_v1_lacks((enum res_key)key))
			line = xasprintf("%s: %s: not applied: %s", path,
			    res_key_name((enum res_key)key),
			    cg_v1_lacks((enum res_key)key));
		else if (!cg->v1[c])
			line = xasprintf("%s: %s: not applied: this host offers no %s controller (neither in cgroup v2 below %s nor as a writable cgroup v1 hierarchy)",
			    path, res_key_name((enum res_key)key), cg_ctrl_name(c),
			    cg->base);
		if (line) {
			*out = xreallocarray(*out, *k + 2, sizeof(**out));
			(*out)[(*k)++] = line;
			(*out)[*k] = NULL;
		}
	}
	for (size_t i = 0; i < n->nchildren; i++)
		unapplied_walk(cg, n->children[i], path, out, k);
	if (n->template)
		unapplied_walk(cg, n->template, path, out, k);
	free(path);
}

char **
cgroups_unapplied(const struct cgroups *cg, const struct spec *sp)
{
	char **out = xcalloc(1, sizeof(*out));
	size_t k = 0;

	unapplied_walk(cg, sp->root, NULL, &out, &k);
	return out;
}

unsigned
cgroups_applied(const struct enode *n)
{
	uintptr_t w = enode_runtime(n);

	return RT_V2_KEYS(w) | RT_V1_KEYS(w);
}

int
cgroups_freeze(struct cgroups *cg, struct enode *n, bool on)
{
	char path[4096];

	if (!(enode_runtime(n) & RT_MADE)) {
		errno = ENOENT;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.freeze", enode_path(n));
	if (write_at(cg->basefd, path, on ? "1" : "0") < 0)
		return -1;
	enode_set_runtime(n, on ? enode_runtime(n) | RT_FROZEN :
	    enode_runtime(n) & ~RT_FROZEN);
	return 0;
}

bool
cgroups_frozen(const struct enode *n)
{
	return enode_runtime(n) & RT_FROZEN;
}

bool
cgroups_node_of(const struct cgroups *cg, int pid, char *path, size_t len)
{
	char file[64], buf[4096];
	const char *rel = cgroups_base(cg), *p;
	size_t rlen = strlen(rel);
	ssize_t n;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	if ((n = read_small(AT_FDCWD, file, buf, sizeof(buf))) <= 0)
		return false;
	/* The v2 line, "0::/path", is the last one. */
	p = strstr(buf, "0::");
	while (p && p != buf && p[-1] != '\n')
		p = strstr(p + 1, "0::");
	if (!p)
		return false;
	p += 3;
	if (strncmp(p, rel, rlen) != 0 || p[rlen] != '/')
		return false;
	p += rlen + 1;
	snprintf(path, len, "%.*s", (int)strcspn(p, "\n"), p);
	return strncmp(path, LEAF_SELF "/", strlen(LEAF_SELF) + 1) != 0 &&
	    strcmp(path, LEAF_SELF) != 0;
}

/* ---- helper processes ---- */

static char *
helper_leaf(const char *name)
{
	return xasprintf(DIR_HELPERS "/%s", name);
}

/* Its v1 groups: helper-NAME beside the tree's (v1 counts for no probe). */
static char *
helper_v1_group(const struct cgroups *cg, enum cg_ctrl c, const char *name)
{
	return xasprintf("%s/helper-%s", cg->v1[c], name);
}

/* v1: the helper's group of c with its bound, its cgroup.procs opened. */
static int
helper_v1(struct cgroups *cg, enum cg_ctrl c, const char *name,
    const char *file, uint64_t bound, int *procs)
{
	char *dir = helper_v1_group(cg, c, name), *p, text[32];
	int fd;

	*procs = -1;
	if (cg_mkdir(AT_FDCWD, cg->v1[c]) < 0 && errno != EEXIST)
		goto fail;
	if (cg_mkdir(AT_FDCWD, dir) < 0 && errno != EEXIST)
		goto fail;
	if ((fd = cg_open(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY)) < 0)
		goto fail;
	if (bound == RES_MAX)
		snprintf(text, sizeof(text), "%s", c == CTRL_PIDS ? "max" : "-1");
	else
		snprintf(text, sizeof(text), "%" PRIu64, bound);
	if (write_at(fd, file, text) < 0)
		log_msg(LOG_WARN, "cgroup v1 %s/%s: %s", dir, file, strerror(errno));
	close(fd);
	p = xasprintf("%s/cgroup.procs", dir);
	*procs = cg_open(AT_FDCWD, p, O_WRONLY);
	free(p);
	if (*procs < 0)
		goto fail;
	free(dir);
	return 0;
fail:
	log_msg(LOG_WARN, "cgroup v1 %s: %s", dir, strerror(errno));
	free(dir);
	return -1;
}

int
cgroups_helper_prepare(struct cgroups *cg, const char *name,
    uint64_t memory_max, uint64_t pids_max, struct cg_spawn *s, char *msg,
    size_t msglen)
{
	static const struct { enum cg_ctrl c; const char *v2, *v1; } bounds[] = {
		{ CTRL_MEMORY, "memory.max", "memory.limit_in_bytes" },
		{ CTRL_PIDS, "pids.max", "pids.max" },
	};
	unsigned want = (1U << CTRL_MEMORY) | (1U << CTRL_PIDS);
	char *leaf = helper_leaf(name), text[32];
	int fd;

	s->dirfd = -1;
	s->nv1 = 0;
	/* Its bounds need the controllers below the base, used by a worker
	 * or not. */
	if ((want & cg->offered & ~cg->enabled) &&
	    enable_at(cg->basefd, ".", want & cg->offered & ~cg->enabled,
	    '+') == 0)
		cg->enabled |= want & cg->offered;
	if (helpers_dir(cg) < 0) {
		snprintf(msg, msglen, "cgroup %s/%s: mkdir: %s", cg->base,
		    DIR_HELPERS, strerror(errno));
		free(leaf);
		return -1;
	}
	if ((want & cg->enabled & ~cg->helpers_enabled) &&
	    enable_at(cg->basefd, DIR_HELPERS, want & cg->enabled &
	    ~cg->helpers_enabled, '+') == 0)
		cg->helpers_enabled |= want & cg->enabled;
	if (cg_mkdir(cg->basefd, leaf) < 0 && errno != EEXIST) {
		snprintf(msg, msglen, "cgroup %s/%s: mkdir: %s", cg->base, leaf,
		    strerror(errno));
		free(leaf);
		return -1;
	}
	if ((fd = cg_open(cg->basefd, leaf, O_RDONLY | O_DIRECTORY)) < 0) {
		snprintf(msg, msglen, "cgroup %s/%s: %s", cg->base, leaf,
		    strerror(errno));
		free(leaf);
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(bounds); i++) {
		enum cg_ctrl c = bounds[i].c;
		uint64_t v = c == CTRL_MEMORY ? memory_max : pids_max;

		if (cg->enabled & (1U << c)) {
			if (v == RES_MAX)
				snprintf(text, sizeof(text), "max");
			else
				snprintf(text, sizeof(text), "%" PRIu64, v);
			if (write_at(fd, bounds[i].v2, text) < 0)
				log_msg(LOG_WARN, "cgroup %s/%s/%s: %s", cg->base,
				    leaf, bounds[i].v2, strerror(errno));
		} else if (cg->v1[c] && helper_v1(cg, c, name, bounds[i].v1, v,
		    &s->v1fd[s->nv1]) == 0)
			s->nv1++;
	}
	s->dirfd = fd;
	free(leaf);
	return 0;
}

void
cgroups_helper_remove(struct cgroups *cg, const char *name)
{
	char *leaf = helper_leaf(name);

	if (!cg) {
		free(leaf);
		return;
	}
	rmdir_tree_warn(cg->basefd, leaf);
	for (int c = 0; c < CTRL_N; c++)
		if (cg->v1[c]) {
			char *dir = helper_v1_group(cg, (enum cg_ctrl)c, name);

			if (cg_rmdir(AT_FDCWD, dir) < 0 && errno != ENOENT)
				log_msg(LOG_WARN, "exit: rmdir %s: %s", dir,
				    strerror(errno));
			free(dir);
		}
	free(leaf);
}
