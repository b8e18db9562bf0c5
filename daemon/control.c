/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control socket: one JSON object per line each way. Every client is
 * non-blocking with bounded buffers, so a slow, idle or hostile client costs
 * at most its buffers and never stalls supervision: a request line over
 * CTL_MAX_LINE is refused (the connection goes on at the next newline), a
 * reader that lets CTL_MAX_OUT pile up is dropped, and past CTL_MAX_CLIENTS
 * the least recently active client makes room.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "../bpf/loader.h"
#include "control.h"
#include "event.h"
#include "jw.h"
#include "obswatch.h"
#include "log.h"
#include "util.h"

#define CTL_MAX_LINE (64 * 1024)
#define CTL_MAX_OUT (16 * 1024 * 1024)
#define CTL_MAX_CLIENTS 128

struct client {
	struct watch w;
	struct control *ctl;
	char in[CTL_MAX_LINE];
	size_t inlen;
	bool discarding;	/* dropping an overlong line up to its newline */
	char *out;
	size_t outlen, outoff, outcap;
	bool more_input;	/* bytes after the line being handled */
	/*
	 * The peer as of its connect() (SO_PEERCRED), and whether its
	 * groups then gave it only read access: decided once, at accept.
	 */
	struct ucred peer;
	bool read_only;
	uint64_t last_active;
	struct client *prev, *next;
};

struct control {
	struct reactor *r;
	struct engine *eng;
	struct obswatch *obs;
	struct control_ops ops;
	struct watch w;
	char *path;
	/*
	 * The socket file, for its mode and group: its trusted directory
	 * (socket_dir_open), its name there, and the inode bind made, so a
	 * change is made to that socket file and nothing else.
	 */
	int dirfd;
	const char *name;
	dev_t sock_dev;
	ino_t sock_ino;
	struct control_access acc;	/* its names are these: */
	char *acc_control, *acc_read;
	struct client *clients;
	size_t nclients;
	/*
	 * Out of fds, accept() fails while the socket stays readable: the
	 * listener is paused (or epoll would spin) until a client goes or
	 * the retry timer fires.
	 */
	bool paused;
	bool exhausted;		/* said; said again when accept works */
	struct watch retryw;
};

static void client_release(struct client *, bool keep_fd);
static void resume_accept(struct control *);

static void
client_close(struct client *c)
{
	client_release(c, false);
}

static void
client_free(void *p)
{
	struct client *c = p;

	free(c->out);
	free(c);
}

/* Forgets a client; its fd is closed unless keep_fd (handed over). */
static void
client_release(struct client *c, bool keep_fd)
{
	struct control *ctl = c->ctl;

	if (c->w.dead)
		return;
	reactor_unwatch(ctl->r, &c->w);
	if (!keep_fd)
		close(c->w.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nclients--;
	reactor_defer_free(ctl->r, c, client_free);
	if (ctl->paused && !keep_fd)
		resume_accept(ctl);
}

static void
client_flush(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->w.fd, c->out + c->outoff,
		    c->outlen - c->outoff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			reactor_modify(c->ctl->r, &c->w, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n < 0) {
			client_close(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	reactor_modify(c->ctl->r, &c->w, EPOLLIN);
}

/* Queues one reply line of len bytes (its newline added here). */
static void
client_queue(struct client *c, const char *s, size_t len)
{
	if (c->outlen - c->outoff + len + 1 > CTL_MAX_OUT) {
		client_close(c);	/* it does not read its replies */
		return;
	}
	if (c->outoff > 0 && c->outoff >= c->outcap / 2) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + len + 1 > c->outcap) {
		/* Doubling keeps a flood of replies linear in its size. */
		while (c->outlen + len + 1 > c->outcap)
			c->outcap = c->outcap ? c->outcap * 2 : 4096;
		c->out = xreallocarray(c->out, c->outcap, 1);
	}
	memcpy(c->out + c->outlen, s, len);
	c->out[c->outlen + len] = '\n';
	c->outlen += len + 1;
	client_flush(c);
}

/* Queues one reply line; takes ownership of o. */
static void
client_send(struct client *c, json_t *o)
{
	char *s;

	/* A reply that could not be built (json_pack refusing a value) still
	 * gets an answer: the client waits for one line per request. */
	if (!o)
		o = json_pack("{s:b, s:s}", "ok", 0, "error",
		    "internal error: the reply could not be encoded");
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(o);
	if (!s)
		fatal("%s: json_dumps: out of memory", __func__);
	client_queue(c, s, strlen(s));
	free(s);
}

static void
send_error(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_error(struct client *c, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	utf8_scrub(msg);	/* it may echo the request's bytes */
	client_send(c, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
	free(msg);
}

static void
send_ok(struct client *c)
{
	client_send(c, json_pack("{s:b}", "ok", 1));
}

/* The worker's check and its last result (of the current process). */
static void
health_write(struct jw *w, const struct enode *n, uint64_t now)
{
	const struct spec_health *sh = &enode_spec(n)->w.health;
	struct health_view v;

	enode_health(n, &v);
	jw_obj(w, "health");
	jw_str(w, "check", health_kind_name(sh->kind));
	jw_str(w, "target", sh->kind == HEALTH_EXEC ? sh->argv[0] : sh->target);
	if (v.result < 0)
		jw_null(w, "ok");
	else
		jw_bool(w, "ok", v.result);
	if (v.detail) {
		jw_str(w, "detail", v.detail);
		jw_real(w, "age_s", (double)((now - v.at_ns) / NSEC_PER_MSEC) /
		    1000.0);
	}
	jw_int(w, "failures", v.failures);
	jw_int(w, "failures_total", (long long)v.failures_total);
	jw_end_obj(w);
}

/*
 * A node and those below it, written as text: a tree of 10,000 workers is
 * megabytes, too big to build as jansson's objects first. The observability
 * helper finds its places by this text's form (exporters/obs.c:
 * status_reply): keep "path" first and "kind" next.
 */
static void
status_write(const struct control *ctl, struct jw *w, const struct enode *n,
    uint64_t now, bool *figures)
{
	const struct exit_info *ei = enode_last_exit(n);
	enum node_state st = enode_state(n);

	jw_obj(w, NULL);
	jw_str(w, "path", enode_path(n));
	jw_str(w, "kind", enode_is_supervisor(n) ? "supervisor" : "worker");
	if (enode_is_supervisor(n))
		jw_str(w, "strategy", strategy_name(enode_spec(n)->strategy));
	jw_str(w, "state", node_state_name(st));
	if (enode_removing(n))
		jw_bool(w, "removing", true);
	if (enode_pid(n) > 0)
		jw_int(w, "pid", enode_pid(n));
	jw_int(w, "restarts", enode_restarts(n));
	if (enode_started_ns(n) && st == NS_RUNNING)
		jw_real(w, "uptime_s", (double)((now - enode_started_ns(n)) /
		    NSEC_PER_MSEC) / 1000.0);
	if (enode_status_text(n))
		jw_str(w, "status_text", enode_status_text(n));
	if (ei) {
		jw_obj(w, "last_exit");
		exit_info_write(w, ei);
		jw_end_obj(w);
	}
	if (!enode_is_supervisor(n) &&
	    enode_spec(n)->w.health.kind != HEALTH_NONE)
		health_write(w, n, now);
	if (ctl->ops.node_status && ctl->ops.node_status(ctl->ops.ctx, n, w))
		*figures = true;
	if (enode_is_supervisor(n)) {
		jw_arr(w, "children");
		for (size_t i = 0; i < enode_nchildren(n); i++)
			status_write(ctl, w, enode_child(n, i), now, figures);
		jw_end_arr(w);
	}
	jw_end_obj(w);
}

/* The node named by the request's "path"; replies with an error if none. */
static struct enode *
req_node(struct client *c, json_t *req, bool required)
{
	struct engine *eng = c->ctl->eng;
	json_t *p = json_object_get(req, "path");
	struct enode *n;

	if (!p && !required)
		return engine_root(eng);
	if (!json_is_string(p)) {
		send_error(c, "\"path\" must be a string");
		return NULL;
	}
	n = engine_find(eng, json_string_value(p));
	if (!n)
		send_error(c, "unknown path \"%s\"", json_string_value(p));
	return n;
}

static void hand_over_or(struct client *, const struct obs_request *,
    const char *fallback, size_t fallback_len);


/*
 * Room in the connection's send buffer for a reply of len bytes (at most
 * STATUS_SNDBUF_MAX), so that whoever writes it (here, or the observability
 * helper with the figures) hands it to the kernel in one go and goes on,
 * instead of writing it a wmem_max at a time as the client reads: some 10
 * round trips for the 2 MB status of 10,000 workers. arbord may set it past
 * wmem_max (CAP_NET_ADMIN); the kernel holds only what is not read yet.
 */
#define STATUS_SNDBUF_MAX (32 << 20)

static void
reply_room(int fd, size_t len)
{
	int want = (int)(len < STATUS_SNDBUF_MAX ? len : STATUS_SNDBUF_MAX);

	if (len > 200000 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want,
	    sizeof(want)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want,
		    sizeof(want));
}

/*
 * The tree as the engine has it; where cgroups hold the nodes, the
 * observability thread adds their figures and replies (the core reads no
 * cgroup file), and if it is not running the reply goes without them.
 */
static void
cmd_status(struct client *c, json_t *req)
{
	struct enode *n = req_node(c, req, false);
	struct obs_request r = { .kind = OBS_REQ_STATUS };
	bool figures = false;
	struct jw w = { 0 };

	if (!n)
		return;
	jw_raw(&w, STATUS_REPLY_HEAD, strlen(STATUS_REPLY_HEAD));
	status_write(c->ctl, &w, n, mono_ns(), &figures);
	jw_raw(&w, "}", 1);
	reply_room(c->w.fd, w.len + w.len / 8);
	if (!figures)
		client_queue(c, w.p, w.len);
	else {
		/* The tree alone goes to the helper; the whole reply is
		 * the answer without figures, should it not take it. */
		r.status_text = w.p + strlen(STATUS_REPLY_HEAD);
		r.status_len = w.len - strlen(STATUS_REPLY_HEAD) - 1;
		hand_over_or(c, &r, w.p, w.len);
	}
	jw_free(&w);
}

static void socket_mode(const struct control_access *, mode_t *, gid_t *);

/* Who may use the socket, and what this client may do. */
static void
access_json(const struct client *c, json_t *d)
{
	const struct control_access *a = &c->ctl->acc;
	char text[8];
	mode_t mode;
	gid_t gid;

	socket_mode(a, &mode, &gid);
	snprintf(text, sizeof(text), "%04o", (unsigned)mode);
	json_object_set_new(d, "socket_mode", json_string(text));
	if (a->control_name)
		json_object_set_new(d, "socket_group",
		    json_text(a->control_name));
	if (a->read_name)
		json_object_set_new(d, "read_group", json_text(a->read_name));
	json_object_set_new(d, "access", json_string(c->read_only ? "read" :
	    "control"));
}

/*
 * arbord itself: the heap in use (mallinfo2: every thread's arena and the
 * mmapped blocks) and the resident set, for a leak or a per-worker cost.
 */
static void
cmd_daemon(struct client *c, json_t *req)
{
	struct mallinfo2 mi = mallinfo2();
	struct probe_state st[16];
	long pages = 0, rss = 0;
	size_t n;
	json_t *d;
	FILE *f = fopen("/proc/self/statm", "re");

	(void)req;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	d = json_pack("{s:I, s:I, s:I}", "pid", (json_int_t)getpid(),
	    "heap_bytes", (json_int_t)(mi.uordblks + mi.hblkhd),
	    "rss_bytes", (json_int_t)rss * sysconf(_SC_PAGESIZE));
	/* The eBPF probes, once tried: which runs, and why one does not. */
	if ((n = probes_states(st, sizeof(st) / sizeof(st[0])))) {
		json_t *b = json_object();

		for (size_t i = 0; i < n; i++)
			json_object_set_new(b, st[i].name, st[i].why[0] ?
			    json_pack("{s:s, s:s}", "state", st[i].state,
			    "why", st[i].why) :
			    json_pack("{s:s, s:s}", "state", st[i].state,
			    "program", st[i].program));
		json_object_set_new(d, "bpf_probes", b);
	}
	if (c->ctl->ops.daemon_status)
		c->ctl->ops.daemon_status(c->ctl->ops.ctx, d);
	access_json(c, d);
	if (obswatch_console_open(c->ctl->obs))
		json_object_set_new(d, "warnings", json_pack("[s]",
		    "observability.console_auth = \"none\": the console and /api/* are open to anyone who can reach observability.metrics_listen"));
	client_send(c, json_pack("{s:b, s:o}", "ok", 1, "daemon", d));
}

typedef int (*node_cmd)(struct engine *, struct enode *, uint64_t,
    const char **);

static void
run_node_cmd(struct client *c, json_t *req, node_cmd fn)
{
	struct enode *n = req_node(c, req, true);
	const char *why = NULL;

	if (!n)
		return;
	if (fn(c->ctl->eng, n, mono_ns(), &why) < 0)
		send_error(c, "%s: %s", enode_path(n), why);
	else
		send_ok(c);
}

static void cmd_start(struct client *c, json_t *r) { run_node_cmd(c, r, engine_cmd_start); }
/* A stop by command also empties the fd stores below (arbord(8)). */
static void
cmd_stop(struct client *c, json_t *req)
{
	struct enode *n = req_node(c, req, true);
	const char *why = NULL;

	if (!n)
		return;
	if (engine_cmd_stop(c->ctl->eng, n, mono_ns(), &why) < 0) {
		send_error(c, "%s: %s", enode_path(n), why);
		return;
	}
	if (c->ctl->ops.stopped)
		c->ctl->ops.stopped(c->ctl->ops.ctx, n);
	send_ok(c);
}
static void cmd_restart(struct client *c, json_t *r) { run_node_cmd(c, r, engine_cmd_restart); }
static void cmd_terminate_child(struct client *c, json_t *r) { run_node_cmd(c, r, engine_terminate_child); }

static void
cmd_signal(struct client *c, json_t *req)
{
	struct enode *n = req_node(c, req, true);
	json_t *s = json_object_get(req, "signal");
	const char *why = NULL;
	int sig = -1;

	if (!n)
		return;
	if (json_is_string(s))
		sig = signal_from_name(json_string_value(s));
	else if (json_is_integer(s) && json_integer_value(s) >= 1 &&
	    json_integer_value(s) <= 64)
		sig = (int)json_integer_value(s);
	if (sig < 0) {
		send_error(c, "\"signal\" must be a signal name or number 1-64");
		return;
	}
	if (engine_cmd_signal(c->ctl->eng, n, sig, &why) < 0)
		send_error(c, "%s: %s", enode_path(n), why);
	else
		send_ok(c);
}

static void
pause_or_resume(struct client *c, json_t *req, bool on)
{
	struct enode *n = req_node(c, req, true);
	char why[160] = "not served by this arbord";

	if (!n)
		return;
	if (!c->ctl->ops.pause ||
	    c->ctl->ops.pause(c->ctl->ops.ctx, n, on, why, sizeof(why)) < 0)
		send_error(c, "%s: %s", enode_path(n), why);
	else
		send_ok(c);
}

static void cmd_pause(struct client *c, json_t *r) { pause_or_resume(c, r, true); }
static void cmd_resume(struct client *c, json_t *r) { pause_or_resume(c, r, false); }

static void
cmd_start_child(struct client *c, json_t *req)
{
	struct enode *n = req_node(c, req, true);
	json_t *args = json_object_get(req, "args");
	const char *why = NULL;
	struct enode *child;
	char **argv;
	size_t i;
	json_t *a;

	if (!n)
		return;
	if (args && !json_is_array(args)) {
		send_error(c, "\"args\" must be a list of strings");
		return;
	}
	argv = xcalloc(json_array_size(args) + 1, sizeof(*argv));
	json_array_foreach(args, i, a) {
		if (!json_is_string(a)) {
			strv_free(argv);
			send_error(c, "\"args\" must be a list of strings");
			return;
		}
		argv[i] = xstrdup(json_string_value(a));
	}
	child = engine_start_child(c->ctl->eng, n, argv,
	    mono_ns(), &why);
	strv_free(argv);
	if (!child)
		send_error(c, "%s: %s", enode_path(n), why);
	else
		client_send(c, json_pack("{s:b, s:s}", "ok", 1, "path",
		    enode_path(child)));
}

static void
cmd_reload(struct client *c, json_t *req)
{
	json_t *errors = NULL, *summary = NULL;

	(void)req;
	if (c->ctl->ops.reload(c->ctl->ops.ctx, "arborctl reload", &errors,
	    &summary) < 0)
		client_send(c, json_pack("{s:b, s:s, s:o}", "ok", 0, "error",
		    "configuration refused, nothing changed", "errors", errors));
	else {
		json_decref(errors);
		client_send(c, json_pack("{s:b, s:o}", "ok", 1, "reload",
		    summary));
	}
}

/*
 * The observability thread answers these: the client leaves the core's
 * epoll first (the thread may close its fd at once), then goes over.
 */
/*
 * A request answered by another thread takes the connection with it: a
 * reply still queued here, or a request sent after it, would be lost (or
 * interleaved with the thread's reply). Such a request is refused, and the
 * connection goes on, unless it is the last on the connection and every
 * earlier reply has been read. False, with the error sent, when refused.
 */
static bool
may_hand_over(struct client *c)
{
	client_flush(c);
	if (c->w.dead)
		return false;
	if (c->outoff < c->outlen || c->more_input) {
		send_error(c, "this request hands the connection over to another thread: send it alone, as the last on its connection, once every reply before it is read");
		return false;
	}
	return true;
}

static void
hand_over_or(struct client *c, const struct obs_request *req,
    const char *fallback, size_t fallback_len)
{
	static const char down[] = "{\"ok\":false,\"error\":\"observability is not running (it restarts with backoff)\"}\n";
	struct obswatch *obs = c->ctl->obs;
	struct control *ctl = c->ctl;
	int fd = c->w.fd;
	bool read_only;

	if (fallback) {
		client_flush(c);
		if (c->w.dead)
			return;
		/* Without the figures: the thread is down, or the connection
		 * has more to say (a status in a pipeline is answered here). */
		if (!obswatch_ready(obs) || c->outoff < c->outlen ||
		    c->more_input) {
			client_queue(c, fallback, fallback_len);
			return;
		}
	} else if (!may_hand_over(c))
		return;
	/*
	 * Out of the reactor before the fd goes: the copy in flight to the
	 * helper keeps the file open, and an epoll watch of a closed fd
	 * stays, pointing at a freed client.
	 */
	read_only = c->read_only;
	client_release(c, true);
	if (obswatch_hand_over(obs, fd, req) < 0) {
		/* It went down, or its socket is full: a status is answered
		 * here without the figures, anything else with an error. */
		if (fallback) {
			if ((c = control_adopt(ctl, fd))) {
				c->read_only = read_only;
				client_queue(c, fallback, fallback_len);
			} else
				close(fd);
			return;
		}
		(void)!write(fd, down, sizeof(down) - 1);
		close(fd);
	}
}

/*
 * A client the observability thread never took (it ended, or stalled and
 * was stopped, with the client still queued: obswatch_on_orphan) comes
 * back here and is answered at once: a status without the figures, the
 * rest with an error. It comes back read-only: its rights are not known.
 */
static void
control_orphan(void *ctx, int fd, const struct obs_request *req)
{
	struct control *ctl = ctx;
	struct client *c = control_adopt(ctl, fd);
	struct jw w = { 0 };

	if (!c) {
		close(fd);
		return;
	}
	c->read_only = true;
	if (req->kind != OBS_REQ_STATUS || !req->status_text) {
		send_error(c, "observability stopped before it answered (it restarts with backoff)");
		return;
	}
	jw_raw(&w, STATUS_REPLY_HEAD, strlen(STATUS_REPLY_HEAD));
	jw_raw(&w, req->status_text, req->status_len);
	jw_raw(&w, "}", 1);
	client_queue(c, w.p, w.len);
	jw_free(&w);
}

/*
 * The observability helper's console asks for a connection: a socketpair
 * whose core end is a read-only client, as a read-only `arborctl` is. It
 * never needs the socket file's permissions, and never gets more.
 */
static int
control_dial(void *ctx, uid_t uid, gid_t gid, pid_t pid)
{
	struct control *ctl = ctx;
	struct client *c;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (!(c = control_adopt(ctl, sv[0]))) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	c->read_only = true;
	c->peer = (struct ucred){ .pid = pid, .uid = uid, .gid = gid };
	return sv[1];
}

static void
hand_over(struct client *c, const struct obs_request *req)
{
	hand_over_or(c, req, NULL, 0);
}

static void
cmd_metrics(struct client *c, json_t *req)
{
	const struct obs_request r = { .kind = OBS_REQ_METRICS };

	(void)req;
	hand_over(c, &r);
}

static void
cmd_events(struct client *c, json_t *req)
{
	const struct obs_request r = { .kind = OBS_REQ_EVENTS,
	    .follow = json_is_true(json_object_get(req, "follow")) };

	hand_over(c, &r);
}

/* `arborctl console`: the observability thread makes the sign-in link. */
static void
cmd_console(struct client *c, json_t *req)
{
	const struct obs_request r = { .kind = OBS_REQ_CONSOLE };

	(void)req;
	hand_over(c, &r);
}

static void
cmd_trace(struct client *c, json_t *req)
{
	json_t *d = json_object_get(req, "duration");
	struct obs_request r = { .kind = OBS_REQ_TRACE };

	if (!json_is_number(d) || json_number_value(d) <= 0 ||
	    json_number_value(d) > 3600) {
		send_error(c, "\"duration\" must be seconds, more than 0 and at most 3600");
		return;
	}
	r.trace_ns = (uint64_t)(json_number_value(d) * 1e9);
	hand_over(c, &r);
}

/*
 * The output thread answers: the client leaves the core first, as for the
 * observability thread (hand_over_or).
 */
static void
cmd_logs(struct client *c, json_t *req)
{
	struct enode *n = req_node(c, req, true);
	json_t *lines = json_object_get(req, "lines");
	const struct control_ops *ops = &c->ctl->ops;
	const char *why = "worker output is not served";
	json_int_t k = 20;
	int fd = c->w.fd;

	if (!n)
		return;
	if (lines && (!json_is_integer(lines) || json_integer_value(lines) < 0 ||
	    json_integer_value(lines) > 1000000)) {
		send_error(c, "\"lines\" must be an integer from 0 to 1000000");
		return;
	}
	if (lines)
		k = json_integer_value(lines);
	if (enode_is_supervisor(n)) {
		send_error(c, "%s: a supervisor has no output (name one of its workers)",
		    enode_path(n));
		return;
	}
	if (!may_hand_over(c))
		return;
	if (!ops->logs) {
		send_error(c, "%s: %s", enode_path(n), why);
		return;
	}
	/* Out of the core's epoll before the thread can close it. */
	client_release(c, true);
	if (ops->logs(ops->ctx, n, fd, (unsigned)k,
	    json_is_true(json_object_get(req, "follow")), &why) < 0) {
		char *msg = xasprintf("%s: %s", enode_path(n), why);
		json_t *e = json_pack("{s:b, s:o}", "ok", 0, "error",
		    json_text(msg));
		char *line = json_dumps(e, JSON_COMPACT);

		free(msg);
		if (line)
			dprintf(fd, "%s\n", line);
		free(line);
		json_decref(e);
		close(fd);
	}
}

static void
cmd_shutdown(struct client *c, json_t *req)
{
	(void)req;
	send_ok(c);
	c->ctl->ops.shutdown(c->ctl->ops.ctx, "arborctl shutdown");
}

static const struct {
	const char *name;
	void (*fn)(struct client *, json_t *);
} commands[] = {
	{ "status", cmd_status },
	{ "start", cmd_start },
	{ "stop", cmd_stop },
	{ "restart", cmd_restart },
	{ "signal", cmd_signal },
	{ "pause", cmd_pause },
	{ "resume", cmd_resume },
	{ "start-child", cmd_start_child },
	{ "terminate-child", cmd_terminate_child },
	{ "reload", cmd_reload },
	{ "metrics", cmd_metrics },
	{ "events", cmd_events },
	{ "trace", cmd_trace },
	{ "logs", cmd_logs },
	{ "daemon", cmd_daemon },
	{ "console", cmd_console },
	{ "shutdown", cmd_shutdown },
};

/*
 * The commands a member of daemon.read_group may run: they show the tree,
 * its output, its events and arbord, and change nothing. A trace records
 * for a while and its client (arborctl) writes the file, never arbord.
 * "console" signs in to the web console to look, so it reads too.
 */
static bool
reads_only(const char *cmd)
{
	static const char *const reads[] = { "status", "logs", "events",
		"daemon", "metrics", "trace", "console" };

	for (size_t i = 0; i < ARRAY_SIZE(reads); i++)
		if (strcmp(reads[i], cmd) == 0)
			return true;
	return false;
}

static void
handle_line(struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *cmd;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		send_error(c, "invalid JSON at column %d: %s", jerr.column,
		    jerr.text);
		return;
	}
	cmd = json_object_get(req, "cmd");
	if (!json_is_object(req) || !json_is_string(cmd)) {
		send_error(c, "a request is an object with a string \"cmd\"");
		json_decref(req);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, json_string_value(cmd)) == 0) {
			if (c->read_only && !reads_only(commands[i].name))
				send_error(c, "permission denied: %s needs control",
				    commands[i].name);
			else
				commands[i].fn(c, req);
			json_decref(req);
			return;
		}
	send_error(c, "unknown command \"%s\"", json_string_value(cmd));
	json_decref(req);
}

/* c->inlen new bytes were appended to c->in: serve every whole line. */
static void
client_lines(struct client *c)
{
	size_t start = 0;

	for (size_t i = 0; i < c->inlen && !c->w.dead; i++) {
		if (c->in[i] != '\n')
			continue;
		if (!c->discarding && i > start) {
			c->more_input = i + 1 < c->inlen;
			handle_line(c, c->in + start, i - start);
		}
		c->discarding = false;
		start = i + 1;
	}
	if (c->w.dead)
		return;
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	if (c->inlen == sizeof(c->in)) {
		if (!c->discarding)
			send_error(c, "request longer than %d bytes",
			    CTL_MAX_LINE);
		c->discarding = true;
		c->inlen = 0;
	}
}

void
control_drop(struct client *c)
{
	client_close(c);
}

bool
control_input(struct client *c, const char *buf, size_t len)
{
	while (len > 0 && !c->w.dead) {
		size_t n = sizeof(c->in) - c->inlen;

		if (n > len)
			n = len;
		memcpy(c->in + c->inlen, buf, n);
		c->inlen += n;
		buf += n;
		len -= n;
		client_lines(c);
	}
	return !c->w.dead;
}

static void
on_client(void *owner, uint32_t events)
{
	struct client *c = owner;

	c->last_active = mono_ns();
	if (events & EPOLLOUT)
		client_flush(c);
	if (c->w.dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n = read(c->w.fd, c->in + c->inlen,
		    sizeof(c->in) - c->inlen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->inlen += (size_t)n;
		client_lines(c);
		if (c->w.dead)
			return;
	}
}

/*
 * Room for one more client: the one idle longest goes, a read-only one
 * first. A read-only newcomer may only take a read-only client's place
 * (a read group must not cut root's streams); false: no room for it.
 */
static bool
evict_oldest(struct control *ctl, bool for_read_only)
{
	struct client *old = NULL, *old_read = NULL;

	for (struct client *c = ctl->clients; c; c = c->next) {
		if (!old || c->last_active < old->last_active)
			old = c;
		if (c->read_only && (!old_read ||
		    c->last_active < old_read->last_active))
			old_read = c;
	}
	if (old_read)
		old = old_read;
	else if (for_read_only)
		return false;
	if (old)
		client_close(old);
	return true;
}

static void
resume_accept(struct control *ctl)
{
	ctl->paused = false;
	timerfd_arm(ctl->retryw.fd, 0, 0);
	reactor_modify(ctl->r, &ctl->w, EPOLLIN);
}

static void
pause_accept(struct control *ctl, int err)
{
	if (!ctl->exhausted)
		log_msg(LOG_WARN, "control: accept: %s; not accepting for now (supervision goes on)",
		    strerror(err));
	ctl->exhausted = true;
	ctl->paused = true;
	reactor_modify(ctl->r, &ctl->w, 0);
	timerfd_arm(ctl->retryw.fd, 1000, 0);
}

static void
on_retry(void *owner, uint32_t events)
{
	struct control *ctl = owner;

	(void)events;
	read_counter(ctl->retryw.fd);
	if (ctl->paused)
		resume_accept(ctl);
}

enum peer_access { PEER_NONE, PEER_READ, PEER_CONTROL };

static bool
in_groups(gid_t g, gid_t gid, const gid_t *groups, size_t n)
{
	if (g == CONTROL_NO_GROUP)
		return false;
	if (g == gid)
		return true;
	for (size_t i = 0; i < n; i++)
		if (groups[i] == g)
			return true;
	return false;
}

/*
 * What a peer may do, from its credentials as the kernel took them at its
 * connect(): its uid and gid (cred) and its supplementary groups
 * (SO_PEERGROUPS). A group the peer joins later counts from its next
 * connection. Root and arbord's own user always control.
 */
static enum peer_access
peer_access(const struct control *ctl, int fd, const struct ucred *cred)
{
	const struct control_access *a = &ctl->acc;
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	enum peer_access r = PEER_NONE;
	size_t n = 0;

	if (cred->uid == 0 || cred->uid == geteuid())
		return PEER_CONTROL;
	if (a->control_gid == CONTROL_NO_GROUP &&
	    a->read_gid == CONTROL_NO_GROUP)
		return PEER_NONE;
	/* Without its groups (an error), the peer has only its gid. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno == ERANGE && len > sizeof(small)) {
			/* len is now what the peer's groups need. */
			groups = xreallocarray(NULL, len, 1);
			if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
			    &len) < 0)
				len = 0;
		} else
			len = 0;
	}
	n = len / sizeof(gid_t);
	if (in_groups(a->control_gid, cred->gid, groups, n))
		r = PEER_CONTROL;
	else if (in_groups(a->read_gid, cred->gid, groups, n))
		r = PEER_READ;
	if (groups != small)
		free(groups);
	return r;
}

static void
on_accept(void *owner, uint32_t events)
{
	struct control *ctl = owner;

	(void)events;
	for (;;) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		enum peer_access access;
		struct client *c;
		int fd = accept4(ctl->w.fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				pause_accept(ctl, errno);
			else if (errno != EAGAIN)
				log_msg(LOG_WARN, "control: accept: %s",
				    strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (access = peer_access(ctl, fd, &cred)) == PEER_NONE) {
			static const char denied[] =
			    "{\"ok\":false,\"error\":\"permission denied\"}\n";

			(void)!write(fd, denied, sizeof(denied) - 1);
			close(fd);
			continue;
		}
		if (ctl->exhausted) {
			ctl->exhausted = false;
			log_msg(LOG_INFO, "control: accepting clients again");
		}
		if (ctl->nclients >= CTL_MAX_CLIENTS &&
		    !evict_oldest(ctl, access == PEER_READ)) {
			static const char full[] =
			    "{\"ok\":false,\"error\":\"too many clients: try again later\"}\n";

			(void)!write(fd, full, sizeof(full) - 1);
			close(fd);
			continue;
		}
		if (!(c = control_adopt(ctl, fd))) {
			close(fd);
			continue;
		}
		c->peer = cred;
		c->read_only = access == PEER_READ;
	}
}

struct client *
control_adopt(struct control *ctl, int fd)
{
	struct client *c;

	if (ctl->nclients >= CTL_MAX_CLIENTS)
		evict_oldest(ctl, false);
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->last_active = mono_ns();
	if (reactor_watch(ctl->r, &c->w, fd, EPOLLIN, on_client, c) < 0) {
		log_msg(LOG_WARN, "control: epoll_ctl: %s", strerror(errno));
		free(c);
		return NULL;
	}
	c->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	return c;
}

/* mkdir -p of the socket's directory, mode 0755 for what it creates. */
static int
make_parent_dirs(const char *path)
{
	char *dir = xstrdup(path);

	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			free(dir);
			return -1;
		}
		*p = '/';
	}
	free(dir);
	return 0;
}

/*
 * The socket file's mode and group for these groups. With none, only root
 * and arbord's user may connect. With one (or both the same), its members
 * may. With two, everyone may connect and arbord refuses those in neither
 * group itself, by their credentials (peer_access): a file has one group.
 */
static void
socket_mode(const struct control_access *a, mode_t *mode, gid_t *gid)
{
	if (a->control_gid == CONTROL_NO_GROUP &&
	    a->read_gid == CONTROL_NO_GROUP) {
		*mode = 0600;
		*gid = getegid();
	} else if (a->read_gid == CONTROL_NO_GROUP ||
	    a->control_gid == a->read_gid) {
		*mode = 0660;
		*gid = a->control_gid;
	} else if (a->control_gid == CONTROL_NO_GROUP) {
		*mode = 0660;
		*gid = a->read_gid;
	} else {
		*mode = 0666;
		*gid = a->read_gid;
	}
}

/*
 * fchmodat without following a symlink goes through /proc (glibc); where
 * that is not mounted, the file was just found (fstatat, no symlink
 * followed) to be arbord's socket in a directory only root or arbord's
 * user can change, so it is still that socket.
 */
static int
chmod_socket(int dirfd, const char *name, mode_t mode)
{
	if (fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	return fchmodat(dirfd, name, mode, 0);
}

int
control_set_access(struct control *ctl, const struct control_access *acc,
    char *err, size_t errlen)
{
	static const struct control_access none = {
		.control_gid = CONTROL_NO_GROUP, .read_gid = CONTROL_NO_GROUP };
	struct stat st;
	mode_t mode;
	gid_t gid;

	if (!acc)
		acc = &none;
	/* Clients judged from now on, before the file lets them in. */
	free(ctl->acc_control);
	free(ctl->acc_read);
	ctl->acc_control = acc->control_name ? xstrdup(acc->control_name) :
	    NULL;
	ctl->acc_read = acc->read_name ? xstrdup(acc->read_name) : NULL;
	ctl->acc = *acc;
	ctl->acc.control_name = ctl->acc_control;
	ctl->acc.read_name = ctl->acc_read;

	socket_mode(&ctl->acc, &mode, &gid);
	if (fstatat(ctl->dirfd, ctl->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "the socket file: %s", strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_dev != ctl->sock_dev ||
	    st.st_ino != ctl->sock_ino) {
		snprintf(err, errlen, "the file there is no longer the socket arbord made; its mode and group were left as they are");
		return -1;
	}
	/* The group first: a mode opened to a group is opened to the new one. */
	if (st.st_gid != gid && fchownat(ctl->dirfd, ctl->name, (uid_t)-1,
	    gid, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		snprintf(err, errlen, "setting its group to gid %u: %s%s",
		    (unsigned)gid, strerror(e), e == EPERM ?
		    " (arbord, not root, must be a member of the group)" : "");
		return -1;
	}
	if ((st.st_mode & 07777) != mode &&
	    chmod_socket(ctl->dirfd, ctl->name, mode) < 0) {
		snprintf(err, errlen, "setting its mode to %04o: %s",
		    (unsigned)mode, strerror(errno));
		return -1;
	}
	return 0;
}

struct control *
control_open(struct reactor *r, struct engine *eng, struct obswatch *obs,
    const struct control_ops *ops, const struct control_access *acc,
    const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *ctl;
	const char *what;
	struct stat st;
	bool said = false;
	mode_t old;
	int fd, dirfd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "path too long");
		return NULL;
	}
	strcpy(sa.sun_path, path);
	if (make_parent_dirs(path) < 0) {
		snprintf(err, errlen, "creating its directory: %s",
		    strerror(errno));
		return NULL;
	}
	if ((dirfd = socket_dir_open(path, err, errlen)) < 0)
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		close(dirfd);
		return NULL;
	}
	/* A socket file nobody answers on is stale: take its place. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		snprintf(err, errlen, "another arbord is running there");
		close(fd);
		close(dirfd);
		return NULL;
	}
	close(fd);
	if (unlink_stale_socket_at(dirfd, strrchr(path, '/') ?
	    strrchr(path, '/') + 1 : path) < 0) {
		snprintf(err, errlen, errno == EEXIST ?
		    "something that is not a socket is there; not replacing it" :
		    "removing a stale socket: %s", strerror(errno));
		close(dirfd);
		return NULL;
	}

	ctl = xcalloc(1, sizeof(*ctl));
	ctl->r = r;
	ctl->eng = eng;
	ctl->obs = obs;
	obswatch_on_orphan(obs, control_orphan, ctl);
	obswatch_on_dial(obs, control_dial, ctl);
	ctl->ops = *ops;
	ctl->w.fd = ctl->retryw.fd = -1;
	ctl->dirfd = dirfd;
	what = "socket";
	if ((fd = ctl->w.fd = socket(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	old = umask(0177);
	what = "bind";
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	ctl->path = xstrdup(path);
	ctl->name = strrchr(ctl->path, '/') ? strrchr(ctl->path, '/') + 1 :
	    ctl->path;
	/*
	 * 0600 from the umask at bind, never a chmod by name after it (which
	 * a symlink put in its place would redirect). A wider mode for the
	 * groups is set on the file bind made, by the directory's fd: a
	 * wider umask would widen, for the moment of the bind, every file
	 * the other threads create.
	 */
	what = "fstatat";
	if (fstatat(dirfd, ctl->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail;
	ctl->sock_dev = st.st_dev;
	ctl->sock_ino = st.st_ino;
	if (control_set_access(ctl, acc, err, errlen) < 0) {
		said = true;
		goto fail;
	}
	what = "listen";
	if (listen(fd, 64) < 0)
		goto fail;
	what = "timerfd";
	if ((ctl->retryw.fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
		goto fail;
	what = "epoll_ctl";
	if (reactor_watch(r, &ctl->retryw, ctl->retryw.fd, EPOLLIN, on_retry,
	    ctl) < 0)
		goto fail;
	if (reactor_watch(r, &ctl->w, fd, EPOLLIN, on_accept, ctl) < 0) {
		reactor_unwatch(r, &ctl->retryw);
		goto fail;
	}
	return ctl;
fail:
	/* The one way out of a failure: whatever was made is undone. */
	if (!said)
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
	if (ctl->retryw.fd >= 0)
		close(ctl->retryw.fd);
	if (ctl->w.fd >= 0)
		close(ctl->w.fd);
	if (ctl->path)
		(void)unlink_stale_socket_at(ctl->dirfd, ctl->name);
	close(ctl->dirfd);
	free(ctl->acc_control);
	free(ctl->acc_read);
	free(ctl->path);
	free(ctl);
	return NULL;
}

void
control_close(struct control *ctl)
{
	if (!ctl)
		return;
	obswatch_on_orphan(ctl->obs, NULL, NULL);
	obswatch_on_dial(ctl->obs, NULL, NULL);
	/*
	 * The loop has ended, so no batch is running: free at once. Client
	 * fds stay open until the process exits, so `arborctl shutdown`
	 * sees EOF only once arbord is gone.
	 */
	while (ctl->clients) {
		struct client *c = ctl->clients;

		ctl->clients = c->next;
		reactor_unwatch(ctl->r, &c->w);
		client_free(c);
	}
	reactor_unwatch(ctl->r, &ctl->w);
	reactor_unwatch(ctl->r, &ctl->retryw);
	close(ctl->w.fd);
	close(ctl->retryw.fd);
	(void)unlink_stale_socket_at(ctl->dirfd, ctl->name);
	close(ctl->dirfd);
	free(ctl->acc_control);
	free(ctl->acc_read);
	free(ctl->path);
	free(ctl);
}
