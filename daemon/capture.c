/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* What a captured worker keeps across its restarts. */
struct cnode {
	struct outp_src *src;
	int wfd[2];		/* write ends (the proxy closes them at removal) */
	struct cnode *prev, *next;
};

struct capture {
	struct outproxy *ol;
	struct cnode *nodes;
	bool said_pipe;		/* a failed pipe was said */
};

static bool
captured(const struct spec_node *s, int i)
{
	return (i ? s->w.err.kind : s->w.out.kind) == STDIO_LOG;
}

unsigned
capture_fds_per_worker(const struct spec_node *s)
{
	return captured(s, 0) || captured(s, 1) ? 4 : 0;
}

static bool
switch_on(enum log_switch sw, bool auto_value)
{
	return sw == LOG_SWITCH_ON || (sw == LOG_SWITCH_AUTO && auto_value);
}

static void
conf_of(const struct spec *sp, struct outlog_conf *c)
{
	c->dir = sp->log_dir ? sp->log_dir : "";
	c->max_bytes = sp->log_max_bytes;
	c->keep = sp->log_keep;
	c->dirfd = -1;
	c->journal = switch_on(sp->log_journal,
	    access(JOURNAL_SOCKET, F_OK) == 0);
	c->echo = switch_on(sp->log_echo, isatty(STDERR_FILENO) ||
	    getpid() == 1);
}

struct capture *
capture_start(const struct spec *sp)
{
	struct capture *c = xcalloc(1, sizeof(*c));
	struct outlog_conf conf;

	conf_of(sp, &conf);
	c->ol = outp_start(&conf);
	return c;
}

void
capture_reload(struct capture *c, const struct spec *sp)
{
	struct outlog_conf conf;

	conf_of(sp, &conf);
	outp_config(c->ol, &conf);
}

void
capture_stop(struct capture *c)
{
	if (!c)
		return;
	outp_stop(c->ol);
	for (struct cnode *cn = c->nodes, *next; cn; cn = next) {
		next = cn->next;
		free(cn);
	}
	free(c);
}

struct outproxy *
capture_outlog(struct capture *c)
{
	return c ? c->ol : NULL;
}

void
capture_kick(struct capture *c)
{
	/* Records go out as they are made. */
	if (c)
		outp_tick(c->ol);
}

void
capture_bind(struct capture *c, struct helpers *hs)
{
	if (c)
		outp_bind(c->ol, hs);
}

/* n's pipes, made at its first need; NULL (said once) when they cannot be. */
static struct cnode *
node_pipes(struct capture *c, struct enode *n)
{
	struct cnode *cn = enode_capture(n);
	int p[2][2], rfd[2];

	if (cn)
		return cn;
	if (pipe2(p[0], O_CLOEXEC) < 0) {
		p[0][0] = -1;
	} else if (pipe2(p[1], O_CLOEXEC) < 0) {
		close(p[0][0]);
		close(p[0][1]);
		p[0][0] = -1;
	}
	if (p[0][0] < 0) {
		if (!c->said_pipe)
			log_msg(LOG_ERROR, "%s: cannot capture its output: pipe: %s; it writes to arbord's stderr instead (said once)",
			    enode_path(n), strerror(errno));
		c->said_pipe = true;
		return NULL;
	}
	cn = xcalloc(1, sizeof(*cn));
	for (int i = 0; i < 2; i++) {
		rfd[i] = fd_move_high(p[i][0]);
		fcntl(rfd[i], F_SETFL, O_NONBLOCK);
		cn->wfd[i] = fd_move_high(p[i][1]);
	}
	cn->src = outp_add(c->ol, enode_path(n), enode_name(n), rfd, cn->wfd);
	cn->next = c->nodes;
	if (c->nodes)
		c->nodes->prev = cn;
	c->nodes = cn;
	enode_set_capture(n, cn);
	return cn;
}

void
capture_fds(struct capture *c, struct enode *n, int fds[2])
{
	const struct spec_node *s = enode_spec(n);
	struct cnode *cn;

	fds[0] = fds[1] = -1;
	if (!c || (!captured(s, 0) && !captured(s, 1)) ||
	    !(cn = node_pipes(c, n)))
		return;
	for (int i = 0; i < 2; i++)
		if (captured(s, i))
			fds[i] = fcntl(cn->wfd[i], F_DUPFD_CLOEXEC, 3);
}

void
capture_unused(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

void
capture_spawned(struct capture *c, struct enode *n, pid_t pid, int fds[2])
{
	struct cnode *cn = enode_capture(n);

	if (fds[0] >= 0 || fds[1] >= 0)
		outp_spawned(c->ol, cn->src, pid);
	capture_unused(fds);
}

bool
capture_exited(struct capture *c, struct enode *n, pid_t pid)
{
	struct cnode *cn = enode_capture(n);

	if (!c || !cn)
		return false;
	return outp_exited(c->ol, cn->src, pid) &&
	    captured(enode_spec(n), 1);
}

/* n and everything below it (the engine frees them next). */
void
capture_removed(struct capture *c, const struct enode *n)
{
	struct cnode *cn = enode_capture(n);

	if (!c)
		return;
	for (size_t i = 0; i < enode_nchildren(n); i++)
		capture_removed(c, enode_child(n, i));
	if (!cn)
		return;
	outp_remove(c->ol, cn->src);	/* the proxy closes the pipes */
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		c->nodes = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	free(cn);
}

int
capture_logs(struct capture *c, struct enode *n, int fd, unsigned lines,
    bool follow, const char **why)
{
	const struct spec_node *s = enode_spec(n);
	struct cnode *cn;

	if (!captured(s, 0) && !captured(s, 1) && !enode_capture(n)) {
		*why = "its output is not captured (stdout and stderr are not \"log\")";
		return -1;
	}
	if (!c || !(cn = node_pipes(c, n))) {
		*why = "its output cannot be captured (see arbord's log)";
		return -1;
	}
	return outp_logs(c->ol, cn->src, fd, lines, follow, why);
}
