/* SPDX-License-Identifier: BSD-2-Clause */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec.h"
#include "webconf.h"
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
	free(n->w.ids.groups);
	free(n->w.ids.error);
	free(n->w.rlimits);
	free(n->w.out.path);
	free(n->w.err.path);
	strv_free(n->w.health.argv);
	free(n->w.health.target);
	for (size_t i = 0; i < n->w.nsockets; i++) {
		free(n->w.sockets[i].listen);
		free(n->w.sockets[i].name);
		free(n->w.sockets[i].owner);
		free(n->w.sockets[i].group);
	}
	free(n->w.sockets);
	free(n);
}

static char **
strv_dup(char *const *v)
{
	size_t n = strv_len(v);
	char **d;

	if (!v)
		return NULL;
	d = xcalloc(n + 1, sizeof(*d));
	for (size_t i = 0; i < n; i++)
		d[i] = xstrdup(v[i]);
	return d;
}

static char *
str_dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct spec_node *
spec_node_dup(const struct spec_node *n)
{
	struct spec_node *d;

	if (!n)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	*d = *n;
	d->name = xstrdup(n->name);
	d->children = n->children
	    ? xcalloc(n->nchildren + 1, sizeof(*d->children)) : NULL;
	for (size_t i = 0; i < n->nchildren; i++)
		d->children[i] = spec_node_dup(n->children[i]);
	d->template = spec_node_dup(n->template);
	d->w.argv = strv_dup(n->w.argv);
	d->w.env = strv_dup(n->w.env);
	d->w.success_codes = xcalloc(n->w.nsuccess + 1,
	    sizeof(*d->w.success_codes));
	if (n->w.nsuccess)
		memcpy(d->w.success_codes, n->w.success_codes,
		    n->w.nsuccess * sizeof(*d->w.success_codes));
	d->w.rlimits = xcalloc(n->w.nrlimits + 1, sizeof(*d->w.rlimits));
	if (n->w.nrlimits)
		memcpy(d->w.rlimits, n->w.rlimits,
		    n->w.nrlimits * sizeof(*d->w.rlimits));
	d->w.cwd = str_dup_or_null(n->w.cwd);
	d->w.user = str_dup_or_null(n->w.user);
	d->w.group = str_dup_or_null(n->w.group);
	d->w.ids.error = str_dup_or_null(n->w.ids.error);
	d->w.ids.groups = n->w.ids.ngroups
	    ? xcalloc(n->w.ids.ngroups, sizeof(*d->w.ids.groups)) : NULL;
	if (n->w.ids.ngroups)
		memcpy(d->w.ids.groups, n->w.ids.groups,
		    n->w.ids.ngroups * sizeof(*d->w.ids.groups));
	d->w.out.path = str_dup_or_null(n->w.out.path);
	d->w.err.path = str_dup_or_null(n->w.err.path);
	d->w.health.argv = strv_dup(n->w.health.argv);
	d->w.health.target = str_dup_or_null(n->w.health.target);
	d->w.sockets = n->w.nsockets
	    ? xcalloc(n->w.nsockets, sizeof(*d->w.sockets)) : NULL;
	for (size_t i = 0; i < n->w.nsockets; i++) {
		struct spec_socket *t = &d->w.sockets[i];

		*t = n->w.sockets[i];
		t->listen = xstrdup(t->listen);
		t->name = xstrdup(t->name);
		t->owner = str_dup_or_null(t->owner);
		t->group = str_dup_or_null(t->group);
	}
	return d;
}

/* memcmp that accepts NULL for zero bytes (memcmp itself may not). */
static bool
mem_eq(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}


/* The same ids: a reload that finds a user's uid or groups changed
 * restarts the worker with them. */
static bool
ids_eq(const struct spec_ids *a, const struct spec_ids *b)
{
	return a->set_uid == b->set_uid && a->uid == b->uid &&
	    a->gid == b->gid && a->ngroups == b->ngroups &&
	    mem_eq(a->groups, b->groups, a->ngroups * sizeof(*a->groups)) &&
	    str_eq(a->error, b->error);
}

static bool
strv_eq(char *const *a, char *const *b)
{
	size_t n = strv_len(a);

	if (n != strv_len(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool
stdio_eq(const struct spec_stdio *a, const struct spec_stdio *b)
{
	return a->kind == b->kind && str_eq(a->path, b->path);
}

static bool
health_eq(const struct spec_health *a, const struct spec_health *b)
{
	return a->kind == b->kind && strv_eq(a->argv, b->argv) &&
	    str_eq(a->target, b->target) && a->interval_ms == b->interval_ms &&
	    a->timeout_ms == b->timeout_ms && a->failures == b->failures &&
	    a->start_period_ms == b->start_period_ms;
}

static bool
res_eq(const struct spec_resources *a, const struct spec_resources *b)
{
	return a->set == b->set && a->memory_max == b->memory_max &&
	    a->memory_high == b->memory_high &&
	    a->memory_swap_max == b->memory_swap_max &&
	    a->pids_max == b->pids_max && a->cpu_quota_us == b->cpu_quota_us &&
	    a->cpu_period_us == b->cpu_period_us &&
	    a->cpu_weight == b->cpu_weight && a->io_weight == b->io_weight &&
	    a->oom_group == b->oom_group;
}

/* The line it is written on aside: moving it in the file changes nothing. */
bool
spec_socket_equal(const struct spec_socket *a, const struct spec_socket *b)
{
	return str_eq(a->listen, b->listen) && str_eq(a->name, b->name) &&
	    a->family == b->family && a->type == b->type &&
	    a->addrlen == b->addrlen && mem_eq(a->addr, b->addr, a->addrlen) &&
	    a->abstract == b->abstract && a->backlog == b->backlog &&
	    a->mode == b->mode && str_eq(a->owner, b->owner) &&
	    str_eq(a->group, b->group) && a->uid == b->uid && a->gid == b->gid;
}

static bool
sockets_eq(const struct spec_worker *x, const struct spec_worker *y)
{
	if (x->nsockets != y->nsockets)
		return false;
	for (size_t i = 0; i < x->nsockets; i++)
		if (!spec_socket_equal(&x->sockets[i], &y->sockets[i]))
			return false;
	return true;
}

bool
spec_worker_equal(const struct spec_node *a, const struct spec_node *b)
{
	const struct spec_worker *x = &a->w, *y = &b->w;

	return !a->is_supervisor && !b->is_supervisor &&
	    a->restart == b->restart && a->significant == b->significant &&
	    a->shutdown.kind == b->shutdown.kind &&
	    a->shutdown.ms == b->shutdown.ms &&
	    strv_eq(x->argv, y->argv) && x->stop_signal == y->stop_signal &&
	    x->ready == y->ready && x->ready_timeout_ms == y->ready_timeout_ms &&
	    x->watchdog_ms == y->watchdog_ms &&
	    x->restart_delay_ms == y->restart_delay_ms &&
	    x->restart_delay_max_ms == y->restart_delay_max_ms &&
	    x->restart_delay_jitter == y->restart_delay_jitter &&
	    health_eq(&x->health, &y->health) &&
	    x->nsuccess == y->nsuccess &&
	    mem_eq(x->success_codes, y->success_codes,
	    x->nsuccess * sizeof(*x->success_codes)) &&
	    strv_eq(x->env, y->env) && x->env_clear == y->env_clear &&
	    str_eq(x->cwd, y->cwd) && x->has_umask == y->has_umask &&
	    x->umask == y->umask && str_eq(x->user, y->user) &&
	    str_eq(x->group, y->group) && ids_eq(&x->ids, &y->ids) &&
	    x->no_new_privs == y->no_new_privs &&
	    res_eq(&a->res, &b->res) &&
	    x->nrlimits == y->nrlimits &&
	    mem_eq(x->rlimits, y->rlimits, x->nrlimits * sizeof(*x->rlimits)) &&
	    stdio_eq(&x->out, &y->out) && stdio_eq(&x->err, &y->err) &&
	    sockets_eq(x, y) && x->fd_store_max == y->fd_store_max &&
	    x->ready_fd == y->ready_fd;
}

bool
spec_supervisor_equal(const struct spec_node *a, const struct spec_node *b)
{
	return a->is_supervisor && b->is_supervisor &&
	    a->strategy == b->strategy && a->intensity == b->intensity &&
	    a->period_s == b->period_s && a->auto_shutdown == b->auto_shutdown &&
	    a->max_children == b->max_children && a->restart == b->restart &&
	    a->significant == b->significant &&
	    a->shutdown.kind == b->shutdown.kind &&
	    a->shutdown.ms == b->shutdown.ms &&
	    res_eq(&a->res, &b->res);
}

uint64_t
res_size(const struct spec_resources *r, enum res_key k)
{
	switch (k) {
	case RES_MEMORY_MAX: return r->memory_max;
	case RES_MEMORY_HIGH: return r->memory_high;
	case RES_MEMORY_SWAP_MAX: return r->memory_swap_max;
	case RES_PIDS_MAX: return r->pids_max;
	default: return RES_MAX;
	}
}

const char *
res_key_name(enum res_key k)
{
	static const char *const names[] = {
		[RES_MEMORY_MAX] = "memory_max", [RES_MEMORY_HIGH] = "memory_high",
		[RES_MEMORY_SWAP_MAX] = "memory_swap_max",
		[RES_OOM_GROUP] = "oom_group", [RES_PIDS_MAX] = "pids_max",
		[RES_CPU_MAX] = "cpu_max", [RES_CPU_WEIGHT] = "cpu_weight",
		[RES_IO_WEIGHT] = "io_weight",
	};

	return (size_t)k < ARRAY_SIZE(names) ? names[k] : "?";
}

void
spec_free(struct spec *sp)
{
	if (!sp)
		return;
	free(sp->file);
	free(sp->socket);
	free(sp->socket_group);
	free(sp->read_group);
	free(sp->helper_user);
	free(sp->cgroup_path);
	free(sp->log_dir);
	free(sp->metrics_listen);
	free(sp->event_log);
	strv_free(sp->console_hosts);
	free(sp->web_config);
	webconf_free(sp->web);
	spec_node_free(sp->root);
	free(sp);
}

const char *
restart_type_name(enum restart_type r)
{
	static const char *const names[] = {
		[RESTART_PERMANENT] = "permanent",
		[RESTART_TRANSIENT] = "transient",
		[RESTART_TEMPORARY] = "temporary",
	};

	return NAME_OF(names, r);
}

const char *
health_kind_name(enum health_kind k)
{
	static const char *const names[] = {
		[HEALTH_NONE] = "none", [HEALTH_EXEC] = "exec",
		[HEALTH_TCP] = "tcp", [HEALTH_HTTP] = "http",
	};

	return NAME_OF(names, k);
}

const char *
strategy_name(enum strategy s)
{
	static const char *const names[] = {
		[STRATEGY_ONE_FOR_ONE] = "one_for_one",
		[STRATEGY_ONE_FOR_ALL] = "one_for_all",
		[STRATEGY_REST_FOR_ONE] = "rest_for_one",
		[STRATEGY_SIMPLE_ONE_FOR_ONE] = "simple_one_for_one",
	};

	return NAME_OF(names, s);
}

const char *
auto_shutdown_name(enum auto_shutdown a)
{
	static const char *const names[] = {
		[AUTO_SHUTDOWN_NEVER] = "never",
		[AUTO_SHUTDOWN_ANY_SIGNIFICANT] = "any_significant",
		[AUTO_SHUTDOWN_ALL_SIGNIFICANT] = "all_significant",
	};

	return NAME_OF(names, a);
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

/* The daemon and observability keys, in the order arbor.conf(5) has them. */
enum setting {
	SET_SOCKET, SET_SOCKET_GROUP, SET_READ_GROUP, SET_CGROUP, SET_LOG_DIR,
	SET_LOG_MAX_BYTES, SET_LOG_KEEP, SET_LOG_JOURNAL, SET_LOG_ECHO,
	SET_HELPER_USER, SET_HELPER_MEMORY_MAX,
	SET_BPF, SET_METRICS_LISTEN, SET_CONSOLE, SET_CONSOLE_AUTH, SET_CONSOLE_HOSTS,
	SET_HISTOGRAMS, SET_EVENT_LOG, SET_EVENT_LOG_MAX_BYTES,
	SET_EVENT_LOG_KEEP, SET_WEB_CONFIG, SET_COUNT,
};

static const struct {
	const char *key;
	bool restart;		/* read only when arbord starts */
} settings[SET_COUNT] = {
	[SET_SOCKET] = { "daemon.socket", true },
	[SET_SOCKET_GROUP] = { "daemon.socket_group", false },
	[SET_READ_GROUP] = { "daemon.read_group", false },
	[SET_CGROUP] = { "daemon.cgroup", true },
	[SET_LOG_DIR] = { "daemon.log_dir", false },
	[SET_LOG_MAX_BYTES] = { "daemon.log_max_bytes", false },
	[SET_LOG_KEEP] = { "daemon.log_keep", false },
	[SET_LOG_JOURNAL] = { "daemon.log_journal", false },
	[SET_LOG_ECHO] = { "daemon.log_echo", false },
	/* A helper's user and cgroup are set when it is first started. */
	[SET_HELPER_USER] = { "daemon.helper_user", true },
	[SET_HELPER_MEMORY_MAX] = { "daemon.helper_memory_max", true },
	[SET_BPF] = { "observability.bpf", true },
	[SET_METRICS_LISTEN] = { "observability.metrics_listen", true },
	[SET_CONSOLE] = { "observability.console", true },
	[SET_CONSOLE_AUTH] = { "observability.console_auth", true },
	[SET_CONSOLE_HOSTS] = { "observability.console_hosts", true },
	[SET_HISTOGRAMS] = { "observability.histograms", false },
	[SET_EVENT_LOG] = { "observability.event_log", true },
	[SET_EVENT_LOG_MAX_BYTES] = { "observability.event_log_max_bytes", true },
	[SET_EVENT_LOG_KEEP] = { "observability.event_log_keep", true },
	[SET_WEB_CONFIG] = { "observability.web_config", false },
};

static const char *
switch_name(enum log_switch s)
{
	return s == LOG_SWITCH_ON ? "on" : s == LOG_SWITCH_OFF ? "off" : "auto";
}

/* A list of strings as the file writes it: ["a", "b"]. */
static char *
hosts_value(char *const *v)
{
	char *out = xstrdup("["), *t;

	for (size_t i = 0; v && v[i]; i++) {
		t = xasprintf("%s%s\"%s\"", out, i ? ", " : "", v[i]);
		free(out);
		out = t;
	}
	t = xasprintf("%s]", out);
	free(out);
	return t;
}

/* A key's value as the file writes it (strings quoted). */
static char *
setting_value(const struct spec *sp, enum setting k)
{
	switch (k) {
	case SET_SOCKET:
		return sp->socket ? xasprintf("\"%s\"", sp->socket)
		    : xstrdup("(the default)");
	case SET_SOCKET_GROUP:
		return sp->socket_group ? xasprintf("\"%s\"",
		    sp->socket_group) : xstrdup("(none)");
	case SET_READ_GROUP:
		return sp->read_group ? xasprintf("\"%s\"", sp->read_group)
		    : xstrdup("(none)");
	case SET_CGROUP:
		return sp->cgroup == CGROUP_PATH ? xasprintf("\"%s\"",
		    sp->cgroup_path) : xasprintf("\"%s\"",
		    sp->cgroup == CGROUP_OFF ? "off" : "auto");
	case SET_LOG_DIR:
		return xasprintf("\"%s\"", sp->log_dir ? sp->log_dir : "");
	case SET_LOG_MAX_BYTES:
		return xasprintf("%llu", (unsigned long long)sp->log_max_bytes);
	case SET_LOG_KEEP:
		return xasprintf("%u", sp->log_keep);
	case SET_LOG_JOURNAL:
		return xasprintf("\"%s\"", switch_name(sp->log_journal));
	case SET_LOG_ECHO:
		return xasprintf("\"%s\"", switch_name(sp->log_echo));
	case SET_HELPER_USER:
		return sp->helper_user ? xasprintf("\"%s\"", sp->helper_user)
		    : xstrdup("(the default)");
	case SET_HELPER_MEMORY_MAX:
		return sp->helper_memory_max == RES_MAX ? xstrdup("\"max\"") :
		    xasprintf("%llu", (unsigned long long)sp->helper_memory_max);
	case SET_BPF:
		return xasprintf("\"%s\"", sp->bpf == BPF_ON ? "on" :
		    sp->bpf == BPF_OFF ? "off" : "auto");
	case SET_METRICS_LISTEN:
		return xasprintf("\"%s\"", sp->metrics_listen ?
		    sp->metrics_listen : "");
	case SET_CONSOLE:
		return xstrdup(sp->console ? "true" : "false");
	case SET_CONSOLE_AUTH:
		return xasprintf("\"%s\"", sp->console_auth_none ? "none" :
		    "token");
	case SET_CONSOLE_HOSTS:
		return hosts_value(sp->console_hosts);
	case SET_HISTOGRAMS:
		return xasprintf("\"%s\"", sp->histograms_per_worker ? "worker"
		    : "supervisor");
	case SET_EVENT_LOG:
		return xasprintf("\"%s\"", sp->event_log ? sp->event_log : "");
	case SET_EVENT_LOG_MAX_BYTES:
		return xasprintf("%llu",
		    (unsigned long long)sp->event_log_max_bytes);
	case SET_EVENT_LOG_KEEP:
		return xasprintf("%u", sp->event_log_keep);
	case SET_WEB_CONFIG:
		/* Its contents count: a new certificate in the same file. */
		return sp->web ? xasprintf("\"%s\" (sha256 %s...)",
		    sp->web_config, sp->web->digest) : xstrdup("\"\"");
	case SET_COUNT:
		break;
	}
	return xstrdup("?");
}

struct spec_setting *
spec_settings_changed(const struct spec *old, const struct spec *new,
    size_t *n)
{
	struct spec_setting *v = xcalloc(SET_COUNT + 1, sizeof(*v));

	*n = 0;
	for (int k = 0; k < SET_COUNT; k++) {
		char *from = setting_value(old, (enum setting)k);
		char *to = setting_value(new, (enum setting)k);

		if (strcmp(from, to) == 0) {
			free(from);
			free(to);
			continue;
		}
		v[*n].key = settings[k].key;
		v[*n].restart = settings[k].restart;
		v[*n].from = from;
		v[*n].to = to;
		(*n)++;
	}
	return v;
}

void
spec_settings_free(struct spec_setting *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].from);
		free(v[i].to);
	}
	free(v);
}
