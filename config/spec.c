/* SPDX-License-Identifier: BSD-2-Clause */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec.h"
#include "../daemon/util.h"

void
spec_node_free(struct spec_node *n)
{
	if (!n)
		return;
	free(n->name);
	for (size_t i = 0; i < n->nchildren; i++)
		spec_node_free(n->children[i]);
	free(n->children);
	spec_node_free(n->template);
	strv_free(n->w.argv);
	free(n->w.success_codes);
	strv_free(n->w.env);
	free(n->w.cwd);
	free(n->w.user);
	free(n->w.group);
	free(n->w.rlimits);
	free(n->w.out.path);
	free(n->w.err.path);
	free(n);
}

void
spec_free(struct spec *sp)
{
	if (!sp)
		return;
	free(sp->file);
	free(sp->socket);
	free(sp->metrics_listen);
	free(sp->event_log);
	spec_node_free(sp->root);
	free(sp);
}

const char *
restart_type_name(enum restart_type r)
{
	switch (r) {
	case RESTART_PERMANENT: return "permanent";
	case RESTART_TRANSIENT: return "transient";
	case RESTART_TEMPORARY: return "temporary";
	}
	return "?";
}

const char *
strategy_name(enum strategy s)
{
	switch (s) {
	case STRATEGY_ONE_FOR_ONE: return "one_for_one";
	case STRATEGY_ONE_FOR_ALL: return "one_for_all";
	case STRATEGY_REST_FOR_ONE: return "rest_for_one";
	case STRATEGY_SIMPLE_ONE_FOR_ONE: return "simple_one_for_one";
	}
	return "?";
}

const char *
auto_shutdown_name(enum auto_shutdown a)
{
	switch (a) {
	case AUTO_SHUTDOWN_NEVER: return "never";
	case AUTO_SHUTDOWN_ANY_SIGNIFICANT: return "any_significant";
	case AUTO_SHUTDOWN_ALL_SIGNIFICANT: return "all_significant";
	}
	return "?";
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int
signal_from_name(const char *s)
{
	char *end;
	long n;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(signals[i].name, s) == 0)
			return signals[i].sig;
	n = strtol(s, &end, 10);
	if (*s && !*end && n >= 1 && n <= 64)
		return (int)n;
	return -1;
}

const char *
signal_name(int sig)
{
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}
