/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A fake runtime for engine tests: pids are handed out in order, every
 * effect is written to a log of short strings ("spawn root/a 1001",
 * "signal root/a 1001 TERM", "exit 3"), and time only moves when a test
 * says so.
 */
#ifndef ARBOR_TEST_HARNESS_H
#define ARBOR_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "daemon/engine.h"

struct fake {
	struct spec *spec;
	struct engine *eng;
	uint64_t now;
	int next_pid;
	char *log[4096];
	size_t nlog;
	int exit_code;		/* -1 until ops->exit */
	const char *fail_spawn;	/* path whose spawn fails, or NULL */
	size_t spawns;
	size_t events;
	uint32_t rand;		/* what ops->random returns; 2^31: no jitter */
	/* Events of cascades, apart from log: "restart root/b #1; ...",
	 * "cascade root/a #1 2/2 last=root/b" (fake_cascades). */
	char cascades[8192];
};

/* Loads config text (a libconfig file body) into a started engine. */
struct fake *fake_new(const char *conf);
void fake_free(struct fake *);
struct enode *node(struct fake *, const char *path);
int pid_of(struct fake *, const char *path);
const char *state_of(struct fake *, const char *path);
/* The main process of path exits with status (or dies of sig). */
void fake_exit(struct fake *, const char *path, int status, int sig);
/* Advances the clock by ms and fires due timers. */
void fake_advance(struct fake *, uint64_t ms);
/* Log entries starting with prefix, joined with "; ", then the log is cleared. */
char *fake_take(struct fake *, const char *prefix);
void fake_clear(struct fake *);
/* The cascade events since the last call, "; "-joined (then cleared). */
char *fake_cascades(struct fake *);
/* Reloads conf; on success the old spec is freed at once (so a node left
 * pointing into it shows up under ASan). Returns engine_reload's result. */
int fake_reload(struct fake *, const char *conf, struct reload_summary *,
    const char **why);
/* The paths of a summary list, joined by " ". */
char *joined(char *const *);

#endif
