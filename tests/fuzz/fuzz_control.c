/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: bytes from a control client -> replies, never a crash. The
 * real control code and engine run; the reactor is replaced by stubs (no
 * epoll, no processes: spawns are pretend).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/control.h"
#include "daemon/engine.h"
#include "daemon/obswatch.h"
#include "daemon/util.h"
#include "bpf/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct engine *eng;
static struct control *ctl;
static uint64_t now = 1000000000;
static int next_pid = 1000;
static struct { void *p; void (*fn)(void *); } deferred[1024];
static size_t ndeferred;

static int op_spawn(void *c, struct enode *n, int *e) { (void)c; (void)n; (void)e; return next_pid++; }
static void op_signal(void *c, const struct enode *n, int p, int s) { (void)c; (void)n; (void)p; (void)s; }
static void op_event(void *c, const struct event *ev) { (void)c; (void)ev; }
static void op_exit(void *c, int code) { (void)c; (void)code; }
static const struct engine_ops ops = { op_spawn, op_signal, op_event, op_exit };

/* The reactor and the observability side, as far as control.c needs them. */
int obswatch_hand_over(struct obswatch *w, int fd, const struct obs_request *r) { (void)w; (void)fd; (void)r; return -1; }
bool obswatch_ready(const struct obswatch *w) { (void)w; return false; }
void obswatch_on_orphan(struct obswatch *w, void (*fn)(void *, int, const struct obs_request *), void *ctx) { (void)w; (void)fn; (void)ctx; }
void obswatch_on_dial(struct obswatch *w, int (*fn)(void *, uid_t, gid_t, pid_t), void *ctx) { (void)w; (void)fn; (void)ctx; }
bool obswatch_console_open(const struct obswatch *w) { (void)w; return false; }
size_t probes_states(struct probe_state *s, size_t n) { (void)s; (void)n; return 0; }
int reactor_watch(struct reactor *r, struct watch *w, int fd, uint32_t ev, watch_fn fn, void *o)
{ (void)r; (void)ev; w->fd = fd; w->fn = fn; w->owner = o; w->dead = false; return 0; }
void reactor_modify(struct reactor *r, struct watch *w, uint32_t ev) { (void)r; (void)w; (void)ev; }
void reactor_unwatch(struct reactor *r, struct watch *w) { (void)r; w->dead = true; }
void reactor_defer_free(struct reactor *r, void *p, void (*fn)(void *))
{ (void)r; deferred[ndeferred].p = p; deferred[ndeferred++].fn = fn; }
static int ops_reload(void *c, const char *why, json_t **errors, json_t **summary)
{ (void)c; (void)why; (void)summary; *errors = json_pack("[s]", "reload is not fuzzed"); return -1; }
static void ops_shutdown(void *c, const char *why) { (void)c; (void)why; }
static const struct control_ops ctl_ops = { ops_reload, ops_shutdown, NULL };

static void
setup(void)
{
	static const char conf[] =
	    "tree = { strategy = \"one_for_one\"; intensity = 100000; children = (\n"
	    "  { name = \"a\"; command = [\"/bin/true\"]; },\n"
	    "  { name = \"sub\"; strategy = \"rest_for_one\"; children = ( { name = \"b\"; command = [\"/bin/true\"]; } ); },\n"
	    "  { name = \"pool\"; strategy = \"simple_one_for_one\"; max_children = 4; template = { command = [\"/bin/true\"]; }; }\n"
	    "); };\n";
	char path[] = "/tmp/arbor-fuzz-XXXXXX", dir[] = "/tmp/arbor-fuzz-d-XXXXXX";
	char sock[64], err[256];
	struct config_diag d;
	struct spec *sp;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, conf, sizeof(conf) - 1) < 0)
		abort();
	close(fd);
	sp = config_load(path, &d);
	unlink(path);
	config_diag_free(&d);
	if (!sp)
		abort();
	eng = engine_new(sp, &ops, NULL);	/* lives as long as the fuzzer */
	engine_start(eng, now);
	/* control_open refuses a socket in a directory others may write
	 * (/tmp): the socket goes in a private one of its own. */
	if (!mkdtemp(dir))
		abort();
	snprintf(sock, sizeof(sock), "%s/control.sock", dir);
	ctl = control_open(NULL, eng, NULL, &ctl_ops, NULL, sock, err,
	    sizeof(err));
	if (!ctl) {
		fprintf(stderr, "fuzz_control: control_open: %s\n", err);
		abort();
	}
	unlink(sock);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client *c;

	if (!eng)
		setup();
	c = control_adopt(ctl, open("/dev/null", O_WRONLY | O_CLOEXEC));
	if (control_input(c, (const char *)data, size))
		control_drop(c);
	for (size_t i = 0; i < ndeferred; i++)
		deferred[i].fn(deferred[i].p);
	ndeferred = 0;
	return 0;
}
