/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "daemon/util.h"

static void
logf_(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->nlog == ARRAY_SIZE(f->log)) {
		free(f->log[0]);
		memmove(f->log, f->log + 1, (f->nlog - 1) * sizeof(f->log[0]));
		f->nlog--;
	}
	va_start(ap, fmt);
	f->log[f->nlog++] = xvasprintf(fmt, ap);
	va_end(ap);
}

static int
op_spawn(void *ctx, struct enode *n, int *err)
{
	struct fake *f = ctx;

	f->spawns++;
	if (f->fail_spawn && strcmp(f->fail_spawn, enode_path(n)) == 0) {
		*err = ENOENT;
		logf_(f, "spawnfail %s", enode_path(n));
		return -1;
	}
	logf_(f, "spawn %s %d", enode_path(n), f->next_pid);
	return f->next_pid++;
}

static void
op_signal(void *ctx, const struct enode *n, int pid, int sig)
{
	struct fake *f = ctx;
	const char *name = signal_name(sig);

	logf_(f, "signal %s %d %s", enode_path(n), pid, name ? name : "?");
}

static void
op_event(void *ctx, const struct event *ev)
{
	struct fake *f = ctx;

	f->events++;
	if (ev->cascade) {
		size_t n = strlen(f->cascades);

		if (ev->kind == EV_CASCADE)
			snprintf(f->cascades + n, sizeof(f->cascades) - n,
			    "%scascade %s #%llu %u/%u last=%s", n ? "; " : "",
			    ev->text, (unsigned long long)ev->cascade,
			    ev->ready, ev->members, enode_path(ev->node));
		else
			snprintf(f->cascades + n, sizeof(f->cascades) - n,
			    "%s%s %s #%llu", n ? "; " : "",
			    event_kind_name(ev->kind), enode_path(ev->node),
			    (unsigned long long)ev->cascade);
		if (ev->kind == EV_CASCADE)
			return;
	}
	if (ev->kind == EV_EXIT)
		logf_(f, "ev %s %s %s", event_kind_name(ev->kind),
		    enode_path(ev->node), exit_reason_name(ev->exit.reason));
	else if (ev->kind == EV_HEALTH)
		logf_(f, "ev health %s %s %u%s", enode_path(ev->node),
		    ev->ok ? "ok" : "fail", ev->failures,
		    ev->quiet ? " quiet" : "");
	else if (ev->kind == EV_RESTART)
		logf_(f, "ev restart %s %ums", enode_path(ev->node),
		    ev->delay_ms);
	else
		logf_(f, "ev %s %s", event_kind_name(ev->kind),
		    enode_path(ev->node));
}

char *
fake_cascades(struct fake *f)
{
	char *s = xstrdup(f->cascades);

	f->cascades[0] = '\0';
	return s;
}

static void
op_exit(void *ctx, int code)
{
	struct fake *f = ctx;

	f->exit_code = code;
	logf_(f, "exit %d", code);
}

static uint32_t
op_random(void *ctx)
{
	return ((struct fake *)ctx)->rand;
}

static const struct engine_ops fake_ops = {
	.spawn = op_spawn,
	.signal = op_signal,
	.event = op_event,
	.exit = op_exit,
	.random = op_random,
};

static struct spec *
load_spec(const char *conf)
{
	char path[] = "/tmp/arbor-test-XXXXXX";
	struct config_diag d;
	struct spec *sp;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(write(fd, conf, strlen(conf)) == (ssize_t)strlen(conf));
	close(fd);
	sp = config_load(path, &d);
	unlink(path);
	for (size_t i = 0; i < d.nerrors; i++)
		fprintf(stderr, "%s\n", d.errors[i]);
	config_diag_free(&d);
	assert_non_null(sp);
	return sp;
}

int
fake_reload(struct fake *f, const char *conf, struct reload_summary *sum,
    const char **why)
{
	struct spec *sp = load_spec(conf);

	if (engine_reload(f->eng, sp, f->now, sum, why) < 0) {
		spec_free(sp);
		return -1;
	}
	engine_batch_done(f->eng);
	spec_free(f->spec);
	f->spec = sp;
	return 0;
}

char *
joined(char *const *v)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; v && v[i]; i++)
		len += strlen(v[i]) + 1;
	out = xcalloc(len, 1);
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	return out;
}

struct fake *
fake_new(const char *conf)
{
	struct fake *f;

	f = xcalloc(1, sizeof(*f));
	f->spec = load_spec(conf);
	f->next_pid = 1001;
	f->exit_code = -1;
	f->rand = 1U << 31;
	f->now = 1000 * NSEC_PER_SEC;
	f->eng = engine_new(f->spec, &fake_ops, f);
	engine_start(f->eng, f->now);
	engine_batch_done(f->eng);	/* as arbord's loop after each input */
	return f;
}

void
fake_free(struct fake *f)
{
	engine_free(f->eng);
	spec_free(f->spec);
	fake_clear(f);
	free(f);
}

struct enode *
node(struct fake *f, const char *path)
{
	struct enode *n = engine_find(f->eng, path);

	if (!n)
		fail_msg("no node %s", path);
	return n;
}

int
pid_of(struct fake *f, const char *path)
{
	return enode_pid(node(f, path));
}

const char *
state_of(struct fake *f, const char *path)
{
	return node_state_name(enode_state(node(f, path)));
}

void
fake_exit(struct fake *f, const char *path, int status, int sig)
{
	struct enode *n = node(f, path);

	assert_true(enode_pid(n) > 0);
	engine_exited(f->eng, n, sig ? -1 : status, sig, f->now);
	engine_batch_done(f->eng);
}

void
fake_advance(struct fake *f, uint64_t ms)
{
	uint64_t end = f->now + ms * NSEC_PER_MSEC;

	for (;;) {
		uint64_t d = engine_next_deadline(f->eng);

		if (d > end)
			break;
		if (d > f->now)
			f->now = d;
		engine_batch_done(f->eng);	/* each tick a batch of its own */
		engine_tick(f->eng, f->now);
	}
	f->now = end;
}

char *
fake_take(struct fake *f, const char *prefix)
{
	size_t len = 0;
	char *out;

	for (size_t i = 0; i < f->nlog; i++)
		if (strncmp(f->log[i], prefix, strlen(prefix)) == 0)
			len += strlen(f->log[i]) + 2;
	out = xcalloc(len + 1, 1);
	for (size_t i = 0; i < f->nlog; i++)
		if (strncmp(f->log[i], prefix, strlen(prefix)) == 0) {
			if (*out)
				strcat(out, "; ");
			strcat(out, f->log[i]);
		}
	fake_clear(f);
	return out;
}

void
fake_clear(struct fake *f)
{
	for (size_t i = 0; i < f->nlog; i++)
		free(f->log[i]);
	f->nlog = 0;
}
