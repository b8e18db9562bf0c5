/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core loop: one epoll over pidfds, a signalfd, one timerfd (the
 * engine's next deadline) and the control socket. It turns kernel facts into
 * engine inputs and engine effects into system calls.
 */
#ifndef ARBOR_LOOP_H
#define ARBOR_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "../config/spec.h"
#include "log.h"

struct loop_options {
	const char *config_file;
	const char *socket_path;
	enum log_format log_format;
	bool no_bpf;
};

/*
 * Runs the tree of *spec until shutdown; returns arbord's exit code. A
 * reload replaces *spec (freeing the old one): the caller frees what it
 * finds there afterwards.
 */
int loop_run(struct spec **spec, const struct loop_options *);

#endif
