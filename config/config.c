/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libconfig file -> validated struct spec. Every problem is collected (not
 * only the first) so a user fixes a file in one pass; a file with any error
 * yields no spec at all.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>

#include "config.h"
#include "webconf.h"
#include "../daemon/util.h"

struct ctx {
	const char *file;
	struct config_diag *diag;
};

static char *dir_untrusted(const char *, bool *);
static void check_dir_trust(struct ctx *, const config_setting_t *,
    const char *path, const char *key, const char *dir, bool as_default,
    bool *memory_only);

static void
add_line(char ***list, size_t *n, char *line)
{
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = line;
}

static void __attribute__((format(printf, 5, 0)))
vreport(struct ctx *c, bool warn, const config_setting_t *s, const char *path,
    const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	int line = s ? config_setting_source_line(s) : 0;
	char *full;

	if (line > 0)
		full = xasprintf("%s:%d: %s: %s%s", c->file, line, path,
		    warn ? "warning: " : "", msg);
	else
		full = xasprintf("%s: %s: %s%s", c->file, path,
		    warn ? "warning: " : "", msg);
	free(msg);
	if (warn)
		add_line(&c->diag->warnings, &c->diag->nwarnings, full);
	else
		add_line(&c->diag->errors, &c->diag->nerrors, full);
}

static void __attribute__((format(printf, 4, 5)))
error(struct ctx *c, const config_setting_t *s, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, false, s, path, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
warning(struct ctx *c, const config_setting_t *s, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, true, s, path, fmt, ap);
	va_end(ap);
}

static const char *
type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST: return "a list";
	default: return "an unknown type";
	}
}

static bool
is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static bool
is_list(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
}

/* Reports unknown keys of group s; allowed is NULL-terminated. */
static void
check_keys(struct ctx *c, const config_setting_t *s, const char *path,
    const char *const *allowed, const char *what)
{
	int n = config_setting_length(s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, name) == 0)
				ok = true;
		if (!ok)
			error(c, m, path, "unknown key \"%s\" for %s", name,
			    what);
	}
}

/* Member key of s if it has type; NULL when absent, or after an error. */
static const config_setting_t *
get_typed(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, int type, const char *what)
{
	const config_setting_t *m = config_setting_get_member(s, key);

	if (m && config_setting_type(m) != type) {
		error(c, m, path, "%s: expected %s, got %s", key, what,
		    type_name(m));
		return NULL;
	}
	return m;
}

static bool
get_string(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, const char **out)
{
	const config_setting_t *m = get_typed(c, s, path, key,
	    CONFIG_TYPE_STRING, "a string");

	if (m)
		*out = config_setting_get_string(m);
	return m != NULL;
}

static bool
get_bool(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, bool *out)
{
	const config_setting_t *m = get_typed(c, s, path, key,
	    CONFIG_TYPE_BOOL, "a boolean");

	if (m)
		*out = config_setting_get_bool(m);
	return m != NULL;
}

/* An integer in [min, max]; false (after an error) when absent or bad. */
static bool
get_int(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, long long min, long long max, long long *out)
{
	const config_setting_t *m = config_setting_get_member(s, key);
	long long v;

	if (!m)
		return false;
	if (!is_int(m)) {
		error(c, m, path, "%s: expected an integer, got %s", key,
		    type_name(m));
		return false;
	}
	v = config_setting_get_int64(m);
	if (v < min || v > max) {
		error(c, m, path, "%s: %lld is out of range [%lld, %lld]", key,
		    v, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* A duration in ms, or one of the words given (returned as -1, -2). */
static bool
get_ms(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, const char *word1, const char *word2, long long *out)
{
	const config_setting_t *m = config_setting_get_member(s, key);

	if (!m)
		return false;
	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(m);

		if (word1 && strcmp(v, word1) == 0) {
			*out = -1;
			return true;
		}
		if (word2 && strcmp(v, word2) == 0) {
			*out = -2;
			return true;
		}
		if (word1)
			error(c, m, path, "%s: expected milliseconds or \"%s\"%s%s%s, got \"%s\"",
			    key, word1, word2 ? " or \"" : "", word2 ? word2 : "",
			    word2 ? "\"" : "", v);
		else
			error(c, m, path, "%s: expected milliseconds, got \"%s\"",
			    key, v);
		return false;
	}
	return get_int(c, s, path, key, 0, UINT32_MAX, out);
}

static bool
valid_name(const char *name)
{
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' &&
		    *p != '-')
			return false;
	return true;
}

/* A list of strings; returns a NULL-terminated copy or NULL after an error. */
static char **
get_strings(struct ctx *c, const config_setting_t *m, const char *path,
    const char *key, size_t *n)
{
	char **v;
	int len;

	if (!is_list(m)) {
		error(c, m, path, "%s: expected a list of strings, got %s", key,
		    type_name(m));
		return NULL;
	}
	len = config_setting_length(m);
	v = xcalloc((size_t)len + 1, sizeof(*v));
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(m, i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			error(c, e, path, "%s[%d]: expected a string, got %s",
			    key, i, type_name(e));
			strv_free(v);
			return NULL;
		}
		v[i] = xstrdup(config_setting_get_string(e));
	}
	*n = (size_t)len;
	return v;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE },
	{ "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
	{ "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
	{ "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },
	{ "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
	{ "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING },
	{ "stack", RLIMIT_STACK },
};

static void
parse_rlimits(struct ctx *c, const config_setting_t *m, const char *path,
    struct spec_worker *w)
{
	int n;

	if (config_setting_type(m) != CONFIG_TYPE_GROUP) {
		error(c, m, path, "rlimits: expected a group, got %s",
		    type_name(m));
		return;
	}
	n = config_setting_length(m);
	w->rlimits = xcalloc((size_t)n + 1, sizeof(*w->rlimits));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(m, i);
		const char *name = config_setting_name(e);
		int res = -1;
		uint64_t val;

		for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (strcmp(rlimit_names[k].name, name) == 0)
				res = rlimit_names[k].resource;
		if (res < 0) {
			error(c, e, path, "rlimits: unknown limit \"%s\"", name);
			continue;
		}
		if (config_setting_type(e) == CONFIG_TYPE_STRING &&
		    (strcmp(config_setting_get_string(e), "unlimited") == 0 ||
		    strcmp(config_setting_get_string(e), "infinity") == 0)) {
			val = UINT64_MAX;
		} else if (is_int(e) && config_setting_get_int64(e) >= 0) {
			val = (uint64_t)config_setting_get_int64(e);
		} else {
			error(c, e, path,
			    "rlimits.%s: expected a non-negative integer or \"unlimited\"",
			    name);
			continue;
		}
		w->rlimits[w->nrlimits].resource = res;
		w->rlimits[w->nrlimits].value = val;
		w->nrlimits++;
	}
}

static void
parse_stdio(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, struct spec_stdio *out)
{
	const char *v;

	out->kind = STDIO_LOG;
	if (!get_string(c, s, path, key, &v))
		return;
	if (strcmp(v, "log") == 0)
		out->kind = STDIO_LOG;
	else if (strcmp(v, "inherit") == 0)
		out->kind = STDIO_INHERIT;
	else if (strcmp(v, "null") == 0)
		out->kind = STDIO_NULL;
	else if (strncmp(v, "file:", 5) == 0 && v[5] == '/') {
		char *dir = xstrdup(v + 5), *why;
		bool minor;

		out->kind = STDIO_FILE;
		out->path = xstrdup(v + 5);
		/* arbord opens it (as root, usually) before the worker runs. */
		*strrchr(dir, '/') = '\0';
		if ((why = dir_untrusted(*dir ? dir : "/", &minor)))
			warning(c, config_setting_get_member(s, key), path,
			    "%s: \"%s\": in %s, %s: another user could put a symlink there, and arbord would append the worker's output to what it points to",
			    key, out->path, *dir ? dir : "/", why);
		free(why);
		free(dir);
	} else
		error(c, config_setting_get_member(s, key), path,
		    "%s: expected \"log\", \"inherit\", \"null\" or \"file:/absolute/path\", got \"%s\"",
		    key, v);
}

static void
parse_restart(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_node *n)
{
	const char *v;

	n->restart = RESTART_PERMANENT;
	if (!get_string(c, s, path, "restart", &v))
		return;
	if (strcmp(v, "permanent") == 0)
		n->restart = RESTART_PERMANENT;
	else if (strcmp(v, "transient") == 0)
		n->restart = RESTART_TRANSIENT;
	else if (strcmp(v, "temporary") == 0)
		n->restart = RESTART_TEMPORARY;
	else
		error(c, config_setting_get_member(s, "restart"), path,
		    "unknown restart type \"%s\"", v);
}

static void
parse_shutdown(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_node *n, bool supervisor)
{
	long long v;

	if (supervisor)
		n->shutdown.kind = SHUTDOWN_INFINITY;
	else {
		n->shutdown.kind = SHUTDOWN_TIMEOUT;
		n->shutdown.ms = 5000;
	}
	if (!get_ms(c, s, path, "shutdown", "brutal_kill", "infinity", &v))
		return;
	if (v == -1)
		n->shutdown.kind = SHUTDOWN_BRUTAL_KILL;
	else if (v == -2)
		n->shutdown.kind = SHUTDOWN_INFINITY;
	else {
		n->shutdown.kind = SHUTDOWN_TIMEOUT;
		n->shutdown.ms = (uint32_t)v;
	}
}

#define RESOURCE_KEYS "memory_max", "memory_high", "memory_swap_max", \
	"pids_max", "cpu_max", "cpu_weight", "io_weight", "oom_group"

/*
 * "12345", "64M" (K M G T: powers of 1024) or "max" into *out; false when it
 * is none of these or does not fit in 64 bits.
 */
static bool
parse_size(const char *str, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;

	if (strcmp(str, "max") == 0) {
		*out = RES_MAX;
		return true;
	}
	if (!isdigit((unsigned char)str[0]))
		return false;
	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno)
		return false;
	if (*end) {
		if (end[1] || !(u = strchr(units, *end)))
			return false;
		for (long k = 0; k <= u - units; k++) {
			if (v > UINT64_MAX / 1024)
				return false;
			v *= 1024;
		}
	}
	if (v == RES_MAX)
		return false;
	*out = v;
	return true;
}

/* A byte count: an integer, or a string parse_size takes. */
static bool
get_size(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, uint64_t *out)
{
	const config_setting_t *m = config_setting_get_member(s, key);

	if (!m)
		return false;
	if (is_int(m) && config_setting_get_int64(m) >= 0) {
		*out = (uint64_t)config_setting_get_int64(m);
		return true;
	}
	if (config_setting_type(m) == CONFIG_TYPE_STRING &&
	    parse_size(config_setting_get_string(m), out))
		return true;
	if (config_setting_type(m) == CONFIG_TYPE_STRING)
		error(c, m, path, "%s: \"%s\" is not a size (bytes, or a number with K, M, G or T, or \"max\")",
		    key, config_setting_get_string(m));
	else
		error(c, m, path, "%s: expected a size (bytes, or a string such as \"64M\" or \"max\"), got %s",
		    key, is_int(m) ? "a negative integer" : type_name(m));
	return false;
}

#define CPU_PERIOD_DEFAULT_US 100000
#define CPU_PERIOD_MIN_US 1000
#define CPU_PERIOD_MAX_US 1000000

/* cpu_max: "50%" of one CPU, "QUOTA_US PERIOD_US", or "max". */
static void
parse_cpu_max(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_resources *r)
{
	const char *str;
	unsigned long long q, p;
	char *end;

	if (!get_string(c, s, path, "cpu_max", &str))
		return;
	r->cpu_period_us = CPU_PERIOD_DEFAULT_US;
	if (strcmp(str, "max") == 0) {
		r->cpu_quota_us = RES_MAX;
		r->set |= 1U << RES_CPU_MAX;
		return;
	}
	if (isdigit((unsigned char)str[0])) {
		q = strtoull(str, &end, 10);
		if (strcmp(end, "%") == 0 && q > 0 && q <= 100000) {
			r->cpu_quota_us = q * CPU_PERIOD_DEFAULT_US / 100;
			r->set |= 1U << RES_CPU_MAX;
			return;
		}
		if (*end == ' ' && isdigit((unsigned char)end[1])) {
			p = strtoull(end + 1, &end, 10);
			if (!*end && q >= CPU_PERIOD_MIN_US &&
			    q <= UINT32_MAX && p >= CPU_PERIOD_MIN_US &&
			    p <= CPU_PERIOD_MAX_US) {
				r->cpu_quota_us = q;
				r->cpu_period_us = p;
				r->set |= 1U << RES_CPU_MAX;
				return;
			}
		}
	}
	error(c, config_setting_get_member(s, "cpu_max"), path,
	    "cpu_max: \"%s\" is neither a share of one CPU (\"50%%\", 1-100000%%) nor \"QUOTA_US PERIOD_US\" (quota at least %d, period %d-%d) nor \"max\"",
	    str, CPU_PERIOD_MIN_US, CPU_PERIOD_MIN_US, CPU_PERIOD_MAX_US);
}

/* The cgroup bounds of a worker or a supervisor (arbor.conf(5), RESOURCES). */
static void
parse_resources(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_resources *r)
{
	const struct {
		const char *key;
		enum res_key k;
		uint64_t *v;
	} sizes[] = {
		{ "memory_max", RES_MEMORY_MAX, &r->memory_max },
		{ "memory_high", RES_MEMORY_HIGH, &r->memory_high },
		{ "memory_swap_max", RES_MEMORY_SWAP_MAX, &r->memory_swap_max },
	};
	const config_setting_t *m;
	long long v;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		if (get_size(c, s, path, sizes[i].key, sizes[i].v))
			r->set |= 1U << sizes[i].k;
	m = config_setting_get_member(s, "pids_max");
	if (m && config_setting_type(m) == CONFIG_TYPE_STRING &&
	    strcmp(config_setting_get_string(m), "max") == 0) {
		r->pids_max = RES_MAX;
		r->set |= 1U << RES_PIDS_MAX;
	} else if (m && !is_int(m))
		error(c, m, path, "pids_max: expected an integer or \"max\", got %s",
		    type_name(m));
	else if (get_int(c, s, path, "pids_max", 1, INT32_MAX, &v)) {
		r->pids_max = (uint64_t)v;
		r->set |= 1U << RES_PIDS_MAX;
	}
	parse_cpu_max(c, s, path, r);
	if (get_int(c, s, path, "cpu_weight", 1, 10000, &v)) {
		r->cpu_weight = (uint32_t)v;
		r->set |= 1U << RES_CPU_WEIGHT;
	}
	if (get_int(c, s, path, "io_weight", 1, 10000, &v)) {
		r->io_weight = (uint32_t)v;
		r->set |= 1U << RES_IO_WEIGHT;
	}
	if (get_bool(c, s, path, "oom_group", &r->oom_group))
		r->set |= 1U << RES_OOM_GROUP;
}

static const char *const worker_keys[] = {
	"name", "command", "restart", "shutdown", "stop_signal", "ready",
	"ready_timeout", "watchdog", "restart_delay", "restart_delay_max",
	"success_exit_codes", "env", "env_clear", "cwd", "umask", "user",
	"group", "no_new_privs", "rlimits", "stdout", "stderr", "significant",
	"health", "restart_delay_jitter", "sockets", "fd_store_max", "ready_fd",
	RESOURCE_KEYS, NULL,
};

static const char *const supervisor_keys[] = {
	"name", "strategy", "intensity", "period", "children", "template",
	"max_children", "restart", "auto_shutdown", "significant", "shutdown",
	RESOURCE_KEYS, NULL,
};

static void
parse_command(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *m = config_setting_get_member(s, "command");

	if (!m) {
		error(c, s, path, "missing \"command\"");
		return;
	}
	w->argv = get_strings(c, m, path, "command", &w->argc);
	if (!w->argv)
		return;
	if (w->argc == 0) {
		error(c, m, path, "command: must not be empty");
		return;
	}
	if (w->argv[0][0] != '/') {
		error(c, m, path, "command[0]: \"%s\" is not an absolute path",
		    w->argv[0]);
		return;
	}
	if (access(w->argv[0], X_OK) != 0)
		warning(c, m, path, "command[0]: \"%s\": %s", w->argv[0],
		    strerror(errno));
}

static void resolve_ids(struct ctx *, const config_setting_t *,
    const char *path, struct spec_worker *);

/* A worker's keys that are absent take these (arbor.conf(5)). */
static const struct spec_worker worker_defaults = {
	.stop_signal = SIGTERM,
	.ready = READY_EXEC,
	.ready_timeout_ms = 10000,
};

static void
parse_stop_signal(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *m = config_setting_get_member(s, "stop_signal");
	int sig = -1;

	if (!m)
		return;
	if (config_setting_type(m) == CONFIG_TYPE_STRING)
		sig = signal_from_name(config_setting_get_string(m));
	else if (is_int(m) && config_setting_get_int64(m) >= 1 &&
	    config_setting_get_int64(m) <= 64)
		sig = (int)config_setting_get_int64(m);
	if (sig < 0)
		error(c, m, path, "stop_signal: not a signal name or number (1-64)");
	else
		w->stop_signal = sig;
}

static void
parse_success_codes(struct ctx *c, const config_setting_t *s,
    const char *path, struct spec_worker *w)
{
	const config_setting_t *m = config_setting_get_member(s,
	    "success_exit_codes");
	int len;

	if (!m) {
		w->success_codes = xcalloc(1, sizeof(*w->success_codes));
		w->nsuccess = 1;	/* exit status 0 */
		return;
	}
	if (!is_list(m)) {
		error(c, m, path, "success_exit_codes: expected a list of integers, got %s",
		    type_name(m));
		return;
	}
	len = config_setting_length(m);
	w->success_codes = xcalloc((size_t)len + 1, sizeof(*w->success_codes));
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(m, i);

		if (!is_int(e) || config_setting_get_int64(e) < 0 ||
		    config_setting_get_int64(e) > 255) {
			error(c, e, path,
			    "success_exit_codes[%d]: expected an exit status 0-255", i);
			continue;
		}
		w->success_codes[w->nsuccess++] = (int)config_setting_get_int64(e);
	}
}

/* restart_delay_jitter: a fraction 0-1 (0 and 1 may be written as integers). */
static void
parse_jitter(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *m = config_setting_get_member(s,
	    "restart_delay_jitter");
	double v;

	if (!m)
		return;
	if (config_setting_type(m) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(m);
	else if (is_int(m))
		v = (double)config_setting_get_int64(m);
	else {
		error(c, m, path, "restart_delay_jitter: expected a number from 0 to 1, got %s",
		    type_name(m));
		return;
	}
	if (!(v >= 0 && v <= 1)) {
		error(c, m, path, "restart_delay_jitter: %g is out of range [0, 1]",
		    v);
		return;
	}
	w->restart_delay_jitter = v;
}

/*
 * HOST:PORT of a tcp or http check into h: HOST an IPv4 literal, an IPv6
 * one in brackets, or "localhost" (127.0.0.1). No name is ever looked up:
 * a resolver can block, and checks run in the core. NULL when good, else
 * what is wrong.
 */
static const char *
parse_hostport(const char *hp, size_t len, struct spec_health *h)
{
	const char *stop = hp + len, *colon;
	char host[48], *end;
	unsigned char addr[16];
	bool bracket = len > 0 && hp[0] == '[';
	size_t hlen;
	long port;

	if (len == 0)
		return "no HOST:PORT";
	if (bracket) {
		const char *close = memchr(hp, ']', len);

		if (!close || close + 1 >= hp + len || close[1] != ':')
			return "an IPv6 address is written [ADDR]:PORT";
		colon = close + 1;
		hlen = (size_t)(close - hp - 1);
		hp++;
	} else {
		colon = memrchr(hp, ':', len);
		if (!colon)
			return "no :PORT";
		hlen = (size_t)(colon - hp);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return "no HOST";
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	if (!isdigit((unsigned char)colon[1]))
		return "PORT must be a number 1-65535";
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end != stop || port < 1 || port > 65535)
		return "PORT must be a number 1-65535";
	h->port = (uint16_t)port;
	if (strcmp(host, "localhost") == 0) {
		h->family = AF_INET;
		snprintf(h->ip, sizeof(h->ip), "127.0.0.1");
		h->localhost = true;
	} else if (inet_pton(AF_INET, host, addr) == 1) {
		h->family = AF_INET;
		snprintf(h->ip, sizeof(h->ip), "%s", host);
	} else if (bracket && inet_pton(AF_INET6, host, addr) == 1) {
		h->family = AF_INET6;
		snprintf(h->ip, sizeof(h->ip), "%s", host);
	} else
		return "HOST must be an IP address or localhost (no name is looked up)";
	return NULL;
}

/* http://HOST:PORT/PATH; NULL when good, else what is wrong. */
static const char *
parse_url(const char *url, struct spec_health *h)
{
	static const char scheme[] = "http://";
	const char *auth, *slash;

	if (strncasecmp(url, "https://", 8) == 0)
		return "https is not supported: a check speaks plain http to an address of this host";
	if (strncmp(url, scheme, strlen(scheme)) != 0)
		return "expected http://HOST:PORT/PATH";
	auth = url + strlen(scheme);
	if (!(slash = strchr(auth, '/')))
		return "expected http://HOST:PORT/PATH (no /PATH)";
	if (memchr(auth, '@', (size_t)(slash - auth)))
		return "a user in the URL is not supported";
	for (const char *p = slash; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#')
			return "PATH holds a space, a control character or a #";
	return parse_hostport(auth, (size_t)(slash - auth), h);
}

static const char *const health_keys[] = {
	"exec", "tcp", "http", "interval", "timeout", "failures",
	"start_period", NULL,
};

/* The health group (arbor.conf(5), HEALTH CHECKS). */
static void
parse_health(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *g = config_setting_get_member(s, "health");
	static const char *const kinds[] = { "exec", "tcp", "http" };
	struct spec_health *h = &w->health;
	const config_setting_t *m = NULL;
	const char *given[3], *str, *why;
	size_t ngiven = 0;
	long long v;

	if (!g) {
		if (w->ready == READY_HEALTH)
			error(c, config_setting_get_member(s, "ready"), path,
			    "ready = \"health\" needs a health check (health = { tcp = \"127.0.0.1:PORT\"; })");
		return;
	}
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		error(c, g, path, "health: expected a group, got %s",
		    type_name(g));
		return;
	}
	check_keys(c, g, path, health_keys, "health");
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (config_setting_get_member(g, kinds[i])) {
			given[ngiven++] = kinds[i];
			if (!m) {
				m = config_setting_get_member(g, kinds[i]);
				h->kind = (enum health_kind)(HEALTH_EXEC + i);
			}
		}
	if (ngiven == 0) {
		error(c, g, path, "health: needs one of exec, tcp, http");
		return;
	}
	if (ngiven > 1) {
		error(c, g, path, "health: %s and %s given; a check is exactly one of exec, tcp, http",
		    given[0], given[1]);
		h->kind = HEALTH_NONE;
		return;
	}
	h->interval_ms = 10000;
	h->timeout_ms = 2000;
	h->failures = 3;
	switch (h->kind) {
	case HEALTH_EXEC:
		h->argv = get_strings(c, m, path, "health.exec", &h->argc);
		if (!h->argv)
			break;
		if (h->argc == 0)
			error(c, m, path, "health.exec: must not be empty");
		else if (h->argv[0][0] != '/')
			error(c, m, path, "health.exec[0]: \"%s\" is not an absolute path",
			    h->argv[0]);
		else if (access(h->argv[0], X_OK) != 0)
			warning(c, m, path, "health.exec[0]: \"%s\": %s",
			    h->argv[0], strerror(errno));
		break;
	case HEALTH_TCP:
	case HEALTH_HTTP:
		if (config_setting_type(m) != CONFIG_TYPE_STRING) {
			error(c, m, path, "health.%s: expected a string, got %s",
			    config_setting_name(m), type_name(m));
			break;
		}
		str = config_setting_get_string(m);
		why = h->kind == HEALTH_TCP ? parse_hostport(str, strlen(str), h)
		    : parse_url(str, h);
		if (why)
			error(c, m, path, "health.%s: \"%s\": %s",
			    config_setting_name(m), str, why);
		else
			h->target = xstrdup(str);
		break;
	case HEALTH_NONE:
		break;
	}
	if (get_ms(c, g, path, "interval", NULL, NULL, &v)) {
		if (v == 0)
			error(c, config_setting_get_member(g, "interval"), path,
			    "health.interval: must be more than 0 ms");
		h->interval_ms = (uint32_t)v;
	}
	if (get_ms(c, g, path, "timeout", NULL, NULL, &v)) {
		if (v == 0)
			error(c, config_setting_get_member(g, "timeout"), path,
			    "health.timeout: must be more than 0 ms");
		h->timeout_ms = (uint32_t)v;
	}
	if ((m = config_setting_get_member(g, "failures"))) {
		if (!is_int(m) || config_setting_get_int64(m) < 1 ||
		    config_setting_get_int64(m) > 1000000)
			error(c, m, path, "health.failures: expected an integer from 1 to 1000000");
		else
			h->failures = (uint32_t)config_setting_get_int64(m);
	}
	if (get_ms(c, g, path, "start_period", NULL, NULL, &v))
		h->start_period_ms = (uint32_t)v;
}

/* How the worker runs and is judged: readiness, timers, exit codes. */
static void
parse_exec(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const char *str;
	long long v;

	parse_stop_signal(c, s, path, w);
	if (get_string(c, s, path, "ready", &str)) {
		if (strcmp(str, "exec") == 0)
			w->ready = READY_EXEC;
		else if (strcmp(str, "notify") == 0)
			w->ready = READY_NOTIFY;
		else if (strcmp(str, "health") == 0)
			w->ready = READY_HEALTH;
		else if (strcmp(str, "fd") == 0)
			w->ready = READY_FD;
		else
			error(c, config_setting_get_member(s, "ready"), path,
			    "ready: expected \"exec\", \"notify\", \"health\" or \"fd\", got \"%s\"",
			    str);
	}
	if (get_ms(c, s, path, "ready_timeout", "infinity", NULL, &v))
		w->ready_timeout_ms = v < 0 ? 0 : (uint32_t)v;
	if (get_ms(c, s, path, "watchdog", NULL, NULL, &v)) {
		w->watchdog_ms = (uint32_t)v;
		if (v > 0 && w->ready != READY_NOTIFY)
			error(c, config_setting_get_member(s, "watchdog"), path,
			    "watchdog: needs ready = \"notify\"");
	}
	if (get_ms(c, s, path, "restart_delay", NULL, NULL, &v))
		w->restart_delay_ms = (uint32_t)v;
	if (get_ms(c, s, path, "restart_delay_max", NULL, NULL, &v)) {
		w->restart_delay_max_ms = (uint32_t)v;
		if (v > 0 && v < w->restart_delay_ms)
			error(c, config_setting_get_member(s, "restart_delay_max"),
			    path, "restart_delay_max: %lld is less than restart_delay %u",
			    v, w->restart_delay_ms);
	}
	parse_jitter(c, s, path, w);
	parse_success_codes(c, s, path, w);
}

/* A non-empty string key, copied into *out. */
static void
get_name(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, char **out)
{
	const char *str;

	if (!get_string(c, s, path, key, &str))
		return;
	if (!*str)
		error(c, config_setting_get_member(s, key), path,
		    "%s: must not be empty", key);
	else
		*out = xstrdup(str);
}

/* An octal string ("022", "0660") as a number; -1 when it is not one. */
static long
octal_of(const char *str)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(str, &end, 8);
	return errno || !*str || *end || v < 0 ? -1 : v;
}

static void
parse_umask(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *m = config_setting_get_member(s, "umask");
	long u = -1;

	if (!m)
		return;
	if (config_setting_type(m) == CONFIG_TYPE_STRING)
		u = octal_of(config_setting_get_string(m));
	else if (is_int(m))
		u = (long)config_setting_get_int64(m);
	if (u < 0 || u > 0777)
		error(c, m, path, "umask: expected an octal string such as \"022\"");
	else {
		w->has_umask = true;
		w->umask = (mode_t)u;
	}
}

/* Who and where it runs: environment, directory, umask, user, group. */
static void
parse_identity(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *m;
	const char *str;

	if ((m = config_setting_get_member(s, "env"))) {
		w->env = get_strings(c, m, path, "env", &w->nenv);
		for (size_t i = 0; w->env && i < w->nenv; i++) {
			const char *eq = strchr(w->env[i], '=');

			if (!eq || eq == w->env[i])
				error(c, m, path, "env[%zu]: \"%s\" is not of the form K=V",
				    i, w->env[i]);
		}
	}
	get_bool(c, s, path, "env_clear", &w->env_clear);
	if (get_string(c, s, path, "cwd", &str)) {
		if (str[0] != '/')
			error(c, config_setting_get_member(s, "cwd"), path,
			    "cwd: \"%s\" is not an absolute path", str);
		else
			w->cwd = xstrdup(str);
	}
	parse_umask(c, s, path, w);
	get_name(c, s, path, "user", &w->user);
	get_name(c, s, path, "group", &w->group);
	resolve_ids(c, s, path, w);
}

/* What bounds it: no_new_privs, rlimits. */
static void
parse_limits(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	const config_setting_t *m;

	get_bool(c, s, path, "no_new_privs", &w->no_new_privs);
	if ((m = config_setting_get_member(s, "rlimits")))
		parse_rlimits(c, m, path, w);
}

/*
 * A socket's listen string taken apart: "HOST:PORT" (an IPv4 literal),
 * "[IPV6]:PORT", "/path" or "@abstract". NULL when good, else what is
 * wrong.
 */
static const char *
parse_listen(const char *str, struct spec_socket *k)
{
	memset(k->addr, 0, sizeof(k->addr));
	if (str[0] == '/' || str[0] == '@') {
		struct sockaddr_un *un = (struct sockaddr_un *)k->addr;
		size_t n = strlen(str);

		if (n >= sizeof(un->sun_path))
			return "a unix socket's path must be shorter than 108 bytes";
		if (str[0] == '@' && n == 1)
			return "an abstract socket needs a name after '@'";
		if (str[0] == '/' && str[n - 1] == '/')
			return "a unix socket's path must name a file, not a directory";
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, str, n);
		k->family = AF_UNIX;
		k->abstract = str[0] == '@';
		if (k->abstract) {
			un->sun_path[0] = '\0';	/* no NUL after: the length says */
			k->addrlen = (uint32_t)(offsetof(struct sockaddr_un,
			    sun_path) + n);
		} else
			k->addrlen = sizeof(*un);
		return NULL;
	}
	{
		const char *colon = strrchr(str, ':'), *host = str;
		size_t hlen = colon ? (size_t)(colon - str) : 0;
		char buf[64], *end;
		long port;

		if (!colon || hlen == 0)
			return "expected HOST:PORT, [IPV6]:PORT, /path or @name";
		if (str[0] == '[') {
			if (hlen < 2 || str[hlen - 1] != ']')
				return "an IPv6 address goes in brackets: [::1]:PORT";
			host = str + 1;
			hlen -= 2;
		}
		if (hlen >= sizeof(buf))
			return "HOST is too long";
		memcpy(buf, host, hlen);
		buf[hlen] = '\0';
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || !colon[1] || *end || port < 1 || port > 65535)
			return "PORT must be a number 1-65535";
		if (str[0] == '[') {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)k->addr;

			if (inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1)
				return "not an IPv6 address";
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons((uint16_t)port);
			k->family = AF_INET6;
			k->addrlen = sizeof(*in6);
		} else {
			struct sockaddr_in *in = (struct sockaddr_in *)k->addr;

			if (inet_pton(AF_INET, buf, &in->sin_addr) != 1)
				return "HOST must be an IPv4 address, or [IPV6] (no name is looked up)";
			in->sin_family = AF_INET;
			in->sin_port = htons((uint16_t)port);
			k->family = AF_INET;
			k->addrlen = sizeof(*in);
		}
		return NULL;
	}
}

/* systemd's rule for a name in LISTEN_FDNAMES: 1-255 printable, no ':'. */
static bool
valid_fdname(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SPEC_FDNAME_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f ||
		    *p == ':')
			return false;
	return true;
}

static const char *const socket_keys[] = {
	"listen", "type", "name", "backlog", "mode", "owner", "group", NULL,
};

/* The owner and group of a socket file, looked up at load. */
static void
socket_ids(struct ctx *c, const config_setting_t *e, const char *path,
    const char *key, struct spec_socket *k)
{
	struct passwd *pw;
	struct group *gr;

	k->uid = (uid_t)-1;
	k->gid = (gid_t)-1;
	get_name(c, e, path, "owner", &k->owner);
	get_name(c, e, path, "group", &k->group);
	if ((k->owner || k->group) && k->family != AF_UNIX)
		error(c, e, path, "%s: owner and group are for a unix socket's file",
		    key);
	else if ((k->owner || k->group) && k->abstract)
		error(c, e, path, "%s: an abstract socket has no file to own (owner, group)",
		    key);
	if (k->owner) {
		if (!(pw = getpwnam(k->owner)))
			error(c, config_setting_get_member(e, "owner"), path,
			    "%s.owner: user \"%s\" does not exist", key, k->owner);
		else
			k->uid = pw->pw_uid;
	}
	if (k->group) {
		if (!(gr = getgrnam(k->group)))
			error(c, config_setting_get_member(e, "group"), path,
			    "%s.group: group \"%s\" does not exist", key, k->group);
		else
			k->gid = gr->gr_gid;
	}
}

/* One entry of sockets (arbor.conf(5), SOCKETS). */
static void
parse_socket(struct ctx *c, const config_setting_t *e, const char *path,
    const char *wname, size_t i, struct spec_socket *k)
{
	char key[32];
	const char *str, *why;
	long long v;

	snprintf(key, sizeof(key), "sockets[%zu]", i);
	k->line = config_setting_source_line(e);
	k->type = SOCK_STREAM;
	k->backlog = SOMAXCONN;
	k->mode = 0666;
	if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
		error(c, e, path, "%s: expected a group ({ listen = \"...\"; }), got %s",
		    key, type_name(e));
		return;
	}
	check_keys(c, e, path, socket_keys, "a socket");
	if (!get_string(c, e, path, "listen", &str)) {
		if (!config_setting_get_member(e, "listen"))
			error(c, e, path, "%s: missing \"listen\"", key);
	} else if ((why = parse_listen(str, k)))
		error(c, config_setting_get_member(e, "listen"), path,
		    "%s.listen: \"%s\": %s", key, str, why);
	else
		k->listen = xstrdup(str);
	if (get_string(c, e, path, "type", &str)) {
		if (strcmp(str, "stream") == 0)
			k->type = SOCK_STREAM;
		else if (strcmp(str, "dgram") == 0)
			k->type = SOCK_DGRAM;
		else if (strcmp(str, "seqpacket") == 0)
			k->type = SOCK_SEQPACKET;
		else
			error(c, config_setting_get_member(e, "type"), path,
			    "%s.type: expected \"stream\", \"dgram\" or \"seqpacket\", got \"%s\"",
			    key, str);
		if (k->type == SOCK_SEQPACKET && k->listen &&
		    k->family != AF_UNIX)
			error(c, config_setting_get_member(e, "type"), path,
			    "%s.type: seqpacket is for unix sockets", key);
	}
	if (get_string(c, e, path, "name", &str)) {
		if (!valid_fdname(str))
			error(c, config_setting_get_member(e, "name"), path,
			    "%s.name: \"%s\": 1-255 printable characters without ':' (LISTEN_FDNAMES separates names with it)",
			    key, str);
		else
			k->name = xstrdup(str);
	}
	if (!k->name)
		k->name = xstrdup(wname ? wname : "unknown");
	if (get_int(c, e, path, "backlog", 1, INT32_MAX, &v)) {
		k->backlog = (int)v;
		if (k->type == SOCK_DGRAM)
			error(c, config_setting_get_member(e, "backlog"), path,
			    "%s.backlog: a dgram socket has no backlog", key);
	}
	if (config_setting_get_member(e, "mode")) {
		const config_setting_t *m = config_setting_get_member(e, "mode");
		long mv = config_setting_type(m) == CONFIG_TYPE_STRING
		    ? octal_of(config_setting_get_string(m)) : -1;

		if (mv < 0 || mv > 0777)
			error(c, m, path, "%s.mode: expected an octal string such as \"0660\"",
			    key);
		else
			k->mode = (mode_t)mv;
		if (k->listen && (k->family != AF_UNIX || k->abstract))
			error(c, m, path, "%s.mode: only a unix socket's file has a mode",
			    key);
	}
	socket_ids(c, e, path, key, k);
	if (k->listen && k->family == AF_UNIX && !k->abstract) {
		char *dir = xstrdup(k->listen);

		*strrchr(dir, '/') = '\0';
		check_dir_trust(c, config_setting_get_member(e, "listen"), path,
		    "a socket's directory", *dir ? dir : "/", false, NULL);
		free(dir);
	}
}

/* sockets, fd_store_max and ready_fd (arbor.conf(5), SOCKETS). */
static void
parse_sockets(struct ctx *c, const config_setting_t *s, const char *path,
    const char *wname, struct spec_worker *w)
{
	const config_setting_t *m = config_setting_get_member(s, "sockets");
	long long v;

	if (m && !is_list(m))
		error(c, m, path, "sockets: expected a list of groups ( { listen = \"127.0.0.1:8080\"; } ), got %s",
		    type_name(m));
	else if (m && config_setting_length(m) > SPEC_SOCKETS_MAX)
		error(c, m, path, "sockets: %d given, at most %d", config_setting_length(m),
		    SPEC_SOCKETS_MAX);
	else if (m) {
		w->nsockets = (size_t)config_setting_length(m);
		w->sockets = w->nsockets ? xcalloc(w->nsockets,
		    sizeof(*w->sockets)) : NULL;
		for (size_t i = 0; i < w->nsockets; i++)
			parse_socket(c, config_setting_get_elem(m, (unsigned)i),
			    path, wname, i, &w->sockets[i]);
	}
	if (get_int(c, s, path, "fd_store_max", 0, SPEC_FD_STORE_MAX, &v))
		w->fd_store_max = (uint32_t)v;
	if (get_int(c, s, path, "ready_fd", 3, 1023, &v)) {
		w->ready_fd = (int)v;
		if (w->ready != READY_FD)
			error(c, config_setting_get_member(s, "ready_fd"), path,
			    "ready_fd: needs ready = \"fd\"");
		else if ((size_t)v < 3 + w->nsockets + w->fd_store_max)
			error(c, config_setting_get_member(s, "ready_fd"), path,
			    "ready_fd: %lld is among the fds passed to the worker (3 to %zu: its sockets and fd_store_max); take %zu or above",
			    v, 2 + w->nsockets + w->fd_store_max,
			    3 + w->nsockets + w->fd_store_max);
	} else if (w->ready == READY_FD)
		error(c, config_setting_get_member(s, "ready"), path,
		    "ready = \"fd\" needs ready_fd (the fd the worker writes a newline to when ready)");
}

static void
parse_worker(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_node *n)
{
	struct spec_worker *w = &n->w;

	*w = worker_defaults;
	check_keys(c, s, path, worker_keys, "a worker");
	parse_command(c, s, path, w);
	parse_restart(c, s, path, n);
	parse_shutdown(c, s, path, n, false);
	parse_exec(c, s, path, w);
	parse_health(c, s, path, w);
	parse_identity(c, s, path, w);
	parse_limits(c, s, path, w);
	parse_sockets(c, s, path, n->name, w);
	parse_stdio(c, s, path, "stdout", &w->out);
	parse_stdio(c, s, path, "stderr", &w->err);
	parse_resources(c, s, path, &n->res);
}

/*
 * user and group to ids (NSS), here at load and never at a spawn: a slow
 * directory cannot stall supervision. A name not found is a warning; the
 * worker's starts then fail with ids.error until a reload finds it.
 */
static void
resolve_ids(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_worker *w)
{
	struct spec_ids *ids = &w->ids;
	struct passwd *pw = NULL;
	struct group *gr;
	int ng = 32;

	if (w->user && !(pw = getpwnam(w->user))) {
		warning(c, config_setting_get_member(s, "user"), path,
		    "user \"%s\" does not exist (yet)", w->user);
		ids->error = xasprintf("unknown user \"%s\"", w->user);
		return;
	}
	if (pw) {
		ids->set_uid = true;
		ids->uid = pw->pw_uid;
		ids->gid = pw->pw_gid;
	}
	if (w->group) {
		if (!(gr = getgrnam(w->group))) {
			warning(c, config_setting_get_member(s, "group"), path,
			    "group \"%s\" does not exist (yet)", w->group);
			ids->error = xasprintf("unknown group \"%s\"", w->group);
			return;
		}
		ids->gid = gr->gr_gid;
	}
	if (!pw) {
		if (!w->group)
			return;
		/* A group alone: that group is the only one kept. */
		ids->groups = xcalloc(1, sizeof(*ids->groups));
		ids->groups[0] = ids->gid;
		ids->ngroups = 1;
		return;
	}
	for (;;) {
		int want = ng;

		ids->groups = xreallocarray(ids->groups, (size_t)ng,
		    sizeof(*ids->groups));
		if (getgrouplist(pw->pw_name, ids->gid, ids->groups, &ng) >= 0)
			break;
		if (ng <= want)
			ng = want * 2;
	}
	ids->ngroups = (size_t)ng;
}

/* The level of the node at path: the root is 1. */
static int
tree_depth(const char *path)
{
	int d = 1;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static struct spec_node *parse_node(struct ctx *, const config_setting_t *,
    const char *parent_path, int index, enum auto_shutdown parent_auto);

struct word {
	const char *name;
	int value;
};

static const struct word strategies[] = {
	{ "one_for_one", STRATEGY_ONE_FOR_ONE },
	{ "one_for_all", STRATEGY_ONE_FOR_ALL },
	{ "rest_for_one", STRATEGY_REST_FOR_ONE },
	{ "simple_one_for_one", STRATEGY_SIMPLE_ONE_FOR_ONE },
	{ NULL, 0 },
};

static const struct word auto_shutdowns[] = {
	{ "never", AUTO_SHUTDOWN_NEVER },
	{ "any_significant", AUTO_SHUTDOWN_ANY_SIGNIFICANT },
	{ "all_significant", AUTO_SHUTDOWN_ALL_SIGNIFICANT },
	{ NULL, 0 },
};

/* A string key that must be one of words: its value in *out. */
static bool
get_word(struct ctx *c, const config_setting_t *s, const char *path,
    const char *key, const struct word *words, int *out)
{
	const char *str;

	if (!get_string(c, s, path, key, &str))
		return false;
	for (const struct word *w = words; w->name; w++)
		if (strcmp(str, w->name) == 0) {
			*out = w->value;
			return true;
		}
	error(c, config_setting_get_member(s, key), path, "unknown %s \"%s\"",
	    key, str);
	return false;
}

/* simple_one_for_one: the template its children are made from. */
static void
parse_template(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_node *n)
{
	const config_setting_t *m;
	const char *tname = "child";
	char *tpath;
	long long v;

	if ((m = config_setting_get_member(s, "children")))
		error(c, m, path, "children: not allowed with simple_one_for_one (use template)");
	if (get_int(c, s, path, "max_children", 0, INT32_MAX, &v))
		n->max_children = (uint32_t)v;
	m = config_setting_get_member(s, "template");
	if (!m) {
		error(c, s, path, "simple_one_for_one needs a \"template\"");
		return;
	}
	if (config_setting_type(m) != CONFIG_TYPE_GROUP) {
		error(c, m, path, "template: expected a group, got %s",
		    type_name(m));
		return;
	}
	if (config_setting_get_member(m, "strategy")) {
		error(c, m, path, "template: must be a worker, not a supervisor");
		return;
	}
	tpath = xasprintf("%s/template", path);
	n->template = xcalloc(1, sizeof(*n->template));
	n->template->line = config_setting_source_line(m);
	if (get_string(c, m, tpath, "name", &tname) && !valid_name(tname))
		error(c, config_setting_get_member(m, "name"), tpath,
		    "invalid name \"%s\" (allowed: A-Z a-z 0-9 _ . -)", tname);
	else if (strlen(path) + 1 + strlen(tname) + SPEC_CHILD_SUFFIX_MAX >
	    SPEC_PATH_MAX)
		error(c, config_setting_get_member(m, "name") ?
		    config_setting_get_member(m, "name") : m, tpath,
		    "the children's paths (\"%s/%s.4294967295\") can be %zu bytes, longer than %d, the most a node's path may be: shorten the template's name or the pool's path",
		    path, tname, strlen(path) + 1 + strlen(tname) +
		    SPEC_CHILD_SUFFIX_MAX, SPEC_PATH_MAX);
	n->template->name = xstrdup(tname);
	parse_worker(c, m, tpath, n->template);
	if (get_bool(c, m, tpath, "significant", &n->template->significant))
		error(c, config_setting_get_member(m, "significant"), tpath,
		    "significant: not supported on a template");
	free(tpath);
}

/* Any other strategy: its children, in start order. */
static void
parse_children(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_node *n)
{
	const config_setting_t *m;
	size_t nb = 16, *seen;
	int len;

	if ((m = config_setting_get_member(s, "template")))
		error(c, m, path, "template: only allowed with simple_one_for_one");
	if ((m = config_setting_get_member(s, "max_children")))
		error(c, m, path, "max_children: only allowed with simple_one_for_one");
	if (!(m = config_setting_get_member(s, "children")))
		return;
	if (config_setting_type(m) != CONFIG_TYPE_LIST) {
		error(c, m, path, "children: expected a list of groups ( {...}, ... ), got %s",
		    type_name(m));
		return;
	}
	len = config_setting_length(m);
	if (len > 0 && tree_depth(path) >= SPEC_MAX_DEPTH) {
		error(c, m, path, "children: the tree is deeper than %d levels, the most arbor takes",
		    SPEC_MAX_DEPTH);
		return;
	}
	n->children = xcalloc((size_t)len + 1, sizeof(*n->children));
	/* Names seen, by hash (open addressing, index + 1): a duplicate is
	 * found in one probe or so, not by comparing every pair (20,000
	 * siblings made a reload's parse quadratic). */
	while (nb < 2 * (size_t)len)
		nb *= 2;
	seen = xcalloc(nb, sizeof(*seen));
	for (int i = 0; i < len; i++) {
		struct spec_node *ch = parse_node(c,
		    config_setting_get_elem(m, i), path, i, n->auto_shutdown);
		size_t b;

		if (!ch)
			continue;
		for (b = fnv1a(FNV1A_INIT, ch->name) & (nb - 1); seen[b];
		    b = (b + 1) & (nb - 1)) {
			const struct spec_node *first = n->children[seen[b] - 1];

			if (strcmp(first->name, ch->name) == 0) {
				error(c, config_setting_get_elem(m, i), path,
				    "duplicate child name \"%s\" (first on line %d)",
				    ch->name, first->line);
				break;
			}
		}
		if (!seen[b])
			seen[b] = n->nchildren + 1;
		n->children[n->nchildren++] = ch;
	}
	free(seen);
}

static void
parse_supervisor(struct ctx *c, const config_setting_t *s, const char *path,
    struct spec_node *n)
{
	long long v;
	int w;

	check_keys(c, s, path, supervisor_keys, "a supervisor");
	parse_resources(c, s, path, &n->res);
	parse_restart(c, s, path, n);
	parse_shutdown(c, s, path, n, true);
	if (get_word(c, s, path, "strategy", strategies, &w))
		n->strategy = (enum strategy)w;
	n->intensity = 3;
	if (get_int(c, s, path, "intensity", 0, 100000, &v))
		n->intensity = (uint32_t)v;
	n->period_s = 5;
	if (get_int(c, s, path, "period", 1, 86400 * 365, &v))
		n->period_s = (uint32_t)v;
	if (get_word(c, s, path, "auto_shutdown", auto_shutdowns, &w))
		n->auto_shutdown = (enum auto_shutdown)w;
	if (n->strategy == STRATEGY_SIMPLE_ONE_FOR_ONE)
		parse_template(c, s, path, n);
	else
		parse_children(c, s, path, n);
}

static struct spec_node *
parse_node(struct ctx *c, const config_setting_t *s, const char *parent_path,
    int index, enum auto_shutdown parent_auto)
{
	struct spec_node *n;
	const char *name = NULL;
	char *path;

	if (parent_path &&
	    config_setting_type(s) != CONFIG_TYPE_GROUP) {
		char *p = xasprintf("%s/children[%d]", parent_path, index);

		/* libconfig dates a scalar by its lookahead token: name the list. */
		error(c, config_setting_parent(s), p, "expected a group, got %s",
		    type_name(s));
		free(p);
		return NULL;
	}
	if (!get_string(c, s, parent_path ? parent_path : "tree", "name",
	    &name)) {
		if (parent_path) {
			char *p = xasprintf("%s/children[%d]", parent_path, index);

			if (!config_setting_get_member(s, "name"))
				error(c, s, p, "missing \"name\"");
			free(p);
			return NULL;
		}
		name = "root";
	}
	path = parent_path ? xasprintf("%s/%s", parent_path, name)
	    : xstrdup(name);
	if (!valid_name(name))
		error(c, config_setting_get_member(s, "name"), path,
		    "invalid name \"%s\" (allowed: A-Z a-z 0-9 _ . -)", name);
	else if (strlen(path) > SPEC_PATH_MAX)
		error(c, config_setting_get_member(s, "name"), path,
		    "the path is %zu bytes, longer than %d, the most a node's path may be (a directory of its logs, a cgroup, a label of its events and series): shorten the name or a parent's",
		    strlen(path), SPEC_PATH_MAX);

	n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	n->line = config_setting_source_line(s);
	n->is_supervisor = config_setting_get_member(s, "strategy") != NULL;
	if (n->is_supervisor)
		parse_supervisor(c, s, path, n);
	else
		parse_worker(c, s, path, n);
	if (!parent_path && strcmp(name, "arbord") == 0)
		error(c, config_setting_get_member(s, "name"), path,
		    "the root cannot be named \"arbord\": that is the name of arbord's own cgroup beside the tree");
	if (!parent_path && strcmp(name, "helpers") == 0)
		error(c, config_setting_get_member(s, "name"), path,
		    "the root cannot be named \"helpers\": that is the name of the helper processes' cgroup beside the tree");

	if (get_bool(c, s, path, "significant", &n->significant) &&
	    n->significant) {
		if (!parent_path)
			error(c, config_setting_get_member(s, "significant"),
			    path, "significant: the root has no parent");
		else if (parent_auto == AUTO_SHUTDOWN_NEVER)
			error(c, config_setting_get_member(s, "significant"),
			    path, "significant: the parent's auto_shutdown is \"never\"");
		else if (n->restart == RESTART_PERMANENT)
			error(c, config_setting_get_member(s, "significant"),
			    path, "significant: a permanent child cannot be significant (use transient or temporary)");
	}
	free(path);
	return n;
}

static void get_switch(struct ctx *, const config_setting_t *, const char *,
    enum log_switch *);
static void get_group(struct ctx *, const config_setting_t *, const char *,
    char **, gid_t *);

static void
parse_daemon(struct ctx *c, const config_setting_t *s, struct spec *sp)
{
	static const char *const keys[] = { "socket", "cgroup", "log_dir",
		"log_max_bytes", "log_keep", "log_journal", "log_echo",
		"socket_group", "read_group", "helper_user", "helper_memory_max",
		NULL };
	const char *str;
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		error(c, s, "daemon", "expected a group, got %s", type_name(s));
		return;
	}
	check_keys(c, s, "daemon", keys, "daemon");
	if (get_string(c, s, "daemon", "socket", &str)) {
		if (str[0] != '/')
			error(c, config_setting_get_member(s, "socket"), "daemon",
			    "socket: \"%s\" is not an absolute path", str);
		else if (strlen(str) + strlen(".notify") >= 108)
			error(c, config_setting_get_member(s, "socket"), "daemon",
			    "socket: the path is %zu bytes, longer than %zu: it and its notify socket (\"%s.notify\") must fit in a socket address (107 bytes)",
			    strlen(str), 107 - strlen(".notify"), str);
		else
			sp->socket = xstrdup(str);
	}
	if (get_string(c, s, "daemon", "cgroup", &str)) {
		if (strcmp(str, "auto") == 0)
			sp->cgroup = CGROUP_AUTO;
		else if (strcmp(str, "off") == 0)
			sp->cgroup = CGROUP_OFF;
		else if (str[0] == '/' && !strstr(str, "/..") &&
		    strlen(str) < PATH_MAX / 2) {
			sp->cgroup = CGROUP_PATH;
			sp->cgroup_path = xstrdup(str);
		} else
			error(c, config_setting_get_member(s, "cgroup"), "daemon",
			    "cgroup: \"%s\" is not \"auto\", \"off\" or the absolute path of a cgroup v2 directory",
			    str);
	}
	if (get_string(c, s, "daemon", "log_dir", &str)) {
		if (*str && (str[0] != '/' || strlen(str) >= PATH_MAX / 2))
			error(c, config_setting_get_member(s, "log_dir"), "daemon",
			    "log_dir: \"%s\" is not \"\" or an absolute path", str);
		else {
			free(sp->log_dir);
			sp->log_dir = xstrdup(str);
			sp->log_dir_default = false;
		}
	}
	if (get_int(c, s, "daemon", "log_max_bytes", 4096, INT64_MAX, &v))
		sp->log_max_bytes = (uint64_t)v;
	if (get_int(c, s, "daemon", "log_keep", 0, 1000, &v))
		sp->log_keep = (uint32_t)v;
	get_switch(c, s, "log_journal", &sp->log_journal);
	get_switch(c, s, "log_echo", &sp->log_echo);
	get_group(c, s, "socket_group", &sp->socket_group, &sp->socket_gid);
	get_group(c, s, "read_group", &sp->read_group, &sp->read_gid);
	if (get_string(c, s, "daemon", "helper_user", &str)) {
		if (!*str || strlen(str) > 32 || strspn(str,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		    strlen(str) || str[0] == '-')
			error(c, config_setting_get_member(s, "helper_user"),
			    "daemon", "helper_user: \"%s\" is not a user name", str);
		else {
			free(sp->helper_user);
			sp->helper_user = xstrdup(str);
		}
	}
	if (get_size(c, s, "daemon", "helper_memory_max",
	    &sp->helper_memory_max) && sp->helper_memory_max < (16 << 20))
		error(c, config_setting_get_member(s, "helper_memory_max"),
		    "daemon", "helper_memory_max: %llu bytes is less than 16M, too little for a helper",
		    (unsigned long long)sp->helper_memory_max);
}

/*
 * daemon.socket_group, read_group: a group's name, or its gid (a number, or
 * digits that name no group), looked up here at load as workers' groups
 * are, never when a client connects.
 */
static void
get_group(struct ctx *c, const config_setting_t *s, const char *key,
    char **name, gid_t *gid)
{
	const config_setting_t *m = config_setting_get_member(s, key);
	char *path, *end;
	struct group *gr;
	const char *str;
	long long v;

	if (!m)
		return;
	path = xasprintf("daemon.%s", key);
	if (is_int(m)) {
		v = config_setting_get_int64(m);
		if (v < 0 || v >= (long long)UINT32_MAX)
			error(c, m, path, "%lld is not a gid", v);
		else {
			*gid = (gid_t)v;
			*name = xasprintf("%lld", v);
		}
	} else if (config_setting_type(m) != CONFIG_TYPE_STRING)
		error(c, m, path, "expected a group name or a gid, got %s",
		    type_name(m));
	else if (*(str = config_setting_get_string(m)) &&
	    (gr = getgrnam(str))) {
		*gid = gr->gr_gid;
		*name = xstrdup(str);
	} else if (isdigit((unsigned char)*str) &&
	    (errno = 0, v = strtoll(str, &end, 10), !*end) && errno == 0 &&
	    v < (long long)UINT32_MAX) {
		*gid = (gid_t)v;
		*name = xstrdup(str);
	} else
		error(c, m, path, "no group \"%s\"", str);
	free(path);
}

/* log_journal, log_echo: "auto", "on" or "off". */
static void
get_switch(struct ctx *c, const config_setting_t *s, const char *key,
    enum log_switch *out)
{
	static const char *const names[] = { [LOG_SWITCH_AUTO] = "auto",
		[LOG_SWITCH_ON] = "on", [LOG_SWITCH_OFF] = "off" };
	const char *str;

	if (!get_string(c, s, "daemon", key, &str))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(str, names[i]) == 0) {
			*out = (enum log_switch)i;
			return;
		}
	error(c, config_setting_get_member(s, key), "daemon",
	    "%s: expected \"auto\", \"on\" or \"off\", got \"%s\"", key, str);
}

/*
 * Where worker logs go when log_dir is not given: systemd's LogsDirectory=
 * ($LOGS_DIRECTORY, its first entry), else /var/log/arbor for root, else
 * $XDG_STATE_HOME/arbor/log ($HOME/.local/state when unset).
 */
static char *
default_log_dir(void)
{
	const char *e = getenv("LOGS_DIRECTORY"), *home;

	if (e && e[0] == '/')
		{
		char *d = xstrdup(e);

		d[strcspn(d, ":")] = '\0';
		return d;
	}
	if (geteuid() == 0)
		return xstrdup("/var/log/arbor");
	if ((e = getenv("XDG_STATE_HOME")) && e[0] == '/')
		return xasprintf("%s/arbor/log", e);
	if ((home = getenv("HOME")) && home[0] == '/')
		return xasprintf("%s/.local/state/arbor/log", home);
	return xstrdup("");
}

/*
 * Whether dir exists as a directory arbord can write, or can be made (its
 * nearest existing ancestor is one); NULL, or why not. Nothing is created
 * here: --check has no side effects.
 */
static char *
log_dir_problem(const char *dir)
{
	char *p = xstrdup(dir), *why = NULL, *slash;
	struct stat st;

	for (;;) {
		if (stat(p, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				why = xasprintf("%s is not a directory", p);
			else if (access(p, W_OK | X_OK) < 0)
				why = xasprintf("%s: %s", p, strerror(errno));
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			why = xasprintf("%s: %s", p, strerror(errno));
			break;
		}
		if (!(slash = strrchr(p, '/')) || slash == p)
			break;	/* "/" exists */
		*slash = '\0';
	}
	free(p);
	return why;
}

/*
 * Root writes the logs below log_dir and the event log beside its other
 * files: whoever else can write in such a directory can put a symlink
 * where a log goes, and root would write through it (arbor.conf(5),
 * DAEMON). The directory, or where it would be made when it does not
 * exist yet, must be owned by root or arbord's user and writable by no one
 * else (a sticky one such as /tmp is writable by others: anyone may make
 * the directory arbord has not made yet); above it, a directory that
 * others can write and is not sticky, or that another user owns, could
 * have it renamed away and replaced. NULL, or why not; *minor when only a
 * group (not root's, nor arbord's) can write above it: a warning, since
 * /var/log is group-writable on some systems.
 */
static char *
dir_untrusted(const char *dir, bool *minor)
{
	char *p = xstrdup(dir), *real, *slash, *why = NULL;
	struct stat st;
	bool made = true;

	*minor = false;
	/* The nearest existing ancestor (that is where arbord makes it). */
	while (stat(p, &st) < 0 && (slash = strrchr(p, '/')) && slash != p) {
		*slash = '\0';
		made = false;
	}
	real = realpath(p, NULL);
	free(p);
	if (!real)
		return NULL;	/* said by the check that it can be made */
	for (bool first = true;; first = false) {
		char *what = first ? xstrdup(made ? "it is" :
		    "its parent, where it would be made, is") :
		    xasprintf("a directory above it, %s, is", real);
		bool sticky;

		if (stat(real, &st) < 0) {
			free(what);
			break;
		}
		sticky = !first && (st.st_mode & S_ISVTX);
		if (st.st_uid != 0 && st.st_uid != geteuid())
			why = xasprintf("%s owned by uid %u, neither root nor arbord's user",
			    what, (unsigned)st.st_uid);
		else if ((st.st_mode & S_IWOTH) && !sticky)
			why = xasprintf("%s writable by others (mode %04o%s)", what,
			    (unsigned)(st.st_mode & 07777), st.st_mode & S_ISVTX ?
			    ": sticky, but anyone may still add an entry" : "");
		else if ((st.st_mode & S_IWGRP) && st.st_gid != 0 &&
		    st.st_gid != getegid() && !sticky) {
			why = xasprintf("%s writable by group %u (mode %04o)", what,
			    (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777));
			*minor = !first;
		}
		free(what);
		if (why || !(slash = strrchr(real, '/')) || real[1] == '\0')
			break;
		slash[slash == real] = '\0';	/* "/a/b" -> "/a", "/a" -> "/" */
	}
	free(real);
	return why;
}

/* A directory root writes in, checked as the config file is; see above. */
static void
check_dir_trust(struct ctx *c, const config_setting_t *at, const char *path,
    const char *key, const char *dir, bool as_default, bool *memory_only)
{
	bool minor;
	char *why = dir_untrusted(dir, &minor);

	if (!why)
		return;
	if (minor)
		warning(c, at, path, "%s: \"%s\": %s: its members could replace it with a directory of their own, where a symlink would send root's writes elsewhere",
		    key, dir, why);
	else if (as_default) {
		warning(c, at, path, "%s: the default \"%s\" is not safe for arbord to write in: %s; worker output is kept in memory only (arborctl logs); set log_dir",
		    key, dir, why);
		*memory_only = true;
	} else
		error(c, at, path, "%s: \"%s\" is not safe for arbord to write in: %s: another user could put a symlink where a file goes (chown root, chmod go-w, or another directory)",
		    key, dir, why);
	free(why);
}

static void
check_log_dir(struct ctx *c, const config_setting_t *root, struct spec *sp)
{
	const config_setting_t *d = config_setting_get_member(root, "daemon");
	const config_setting_t *at = d ? config_setting_get_member(d, "log_dir") : NULL;
	const config_setting_t *o = config_setting_get_member(root, "observability");
	bool memory_only = false;
	char *why;

	if (sp->event_log && *sp->event_log) {
		char *dir = xstrdup(sp->event_log);

		*strrchr(dir, '/') = '\0';
		check_dir_trust(c, o ? config_setting_get_member(o, "event_log")
		    : NULL, "observability", "event_log's directory",
		    *dir ? dir : "/",
		    false, &memory_only);
		free(dir);
	}
	if (!*sp->log_dir)
		return;
	if (!(why = log_dir_problem(sp->log_dir))) {
		check_dir_trust(c, at, "daemon", "log_dir", sp->log_dir,
		    sp->log_dir_default, &memory_only);
		if (memory_only)
			sp->log_dir[0] = '\0';
		return;
	}
	if (sp->log_dir_default) {
		warning(c, at, "daemon", "log_dir: the default \"%s\" cannot be created (%s): worker output is kept in memory only (arborctl logs); set log_dir",
		    sp->log_dir, why);
		sp->log_dir[0] = '\0';
	} else
		error(c, at, "daemon", "log_dir: \"%s\" cannot be created: %s",
		    sp->log_dir, why);
	free(why);
}

/* A name a browser may put in Host: letters, digits, '-' and '.'. */
static bool
valid_host_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 253 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *q = name; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.')
			return false;
	return true;
}

/* Who may use the console (arbor.conf(5), OBSERVABILITY). */
static void
parse_console_access(struct ctx *c, const config_setting_t *s, const char *p,
    struct spec *sp)
{
	const config_setting_t *m;
	const char *str;
	char **v;
	size_t n = 0;

	if (get_string(c, s, p, "console_auth", &str)) {
		if (strcmp(str, "token") == 0 || strcmp(str, "none") == 0)
			sp->console_auth_none = strcmp(str, "none") == 0;
		else
			error(c, config_setting_get_member(s, "console_auth"), p,
			    "console_auth: expected \"token\" or \"none\", got \"%s\"",
			    str);
	}
	if (!(m = config_setting_get_member(s, "console_hosts")) ||
	    !(v = get_strings(c, m, p, "console_hosts", &n)))
		return;
	for (size_t i = 0; i < n; i++)
		if (!valid_host_name(v[i])) {
			error(c, config_setting_get_elem(m, (unsigned)i), p,
			    "console_hosts[%zu]: \"%s\" is not a host name (letters, digits, '-' and '.'; no port)",
			    i, v[i]);
			strv_free(v);
			return;
		}
	strv_free(sp->console_hosts);
	sp->console_hosts = v;
}

/* A problem in the web config file, as one of this file's. */
static void
web_report(void *ctx, bool warn, char *line)
{
	struct ctx *c = ctx;

	if (warn)
		add_line(&c->diag->warnings, &c->diag->nwarnings, line);
	else
		add_line(&c->diag->errors, &c->diag->nerrors, line);
}

/*
 * observability.web_config: read and checked now (webconf.c), so that a
 * bad one fails the start, --check and a reload alike, its own file and
 * line named.
 */
static void
parse_web_config(struct ctx *c, const config_setting_t *s, struct spec *sp)
{
	const char *p = "observability", *str;

	if (!get_string(c, s, p, "web_config", &str) || !*str)
		return;
	if (str[0] != '/') {
		error(c, config_setting_get_member(s, "web_config"), p,
		    "web_config: \"%s\" is not an absolute path", str);
		return;
	}
	sp->web_config = xstrdup(str);
	sp->web = webconf_load(str, web_report, c);
}

static void
parse_observability(struct ctx *c, const config_setting_t *s, struct spec *sp)
{
	static const char *const keys[] = { "bpf", "metrics_listen",
		"histograms", "console", "console_auth", "console_hosts",
		"event_log", "event_log_max_bytes", "event_log_keep", "web_config",
		NULL };
	const char *p = "observability";
	const char *str;
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		error(c, s, p, "expected a group, got %s", type_name(s));
		return;
	}
	check_keys(c, s, p, keys, "observability");
	if (get_string(c, s, p, "bpf", &str)) {
		if (strcmp(str, "auto") == 0)
			sp->bpf = BPF_AUTO;
		else if (strcmp(str, "on") == 0)
			sp->bpf = BPF_ON;
		else if (strcmp(str, "off") == 0)
			sp->bpf = BPF_OFF;
		else
			error(c, config_setting_get_member(s, "bpf"), p,
			    "bpf: expected \"auto\", \"on\" or \"off\", got \"%s\"",
			    str);
	}
	if (get_string(c, s, p, "metrics_listen", &str)) {
		const char *colon = strrchr(str, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : -1;

		if (*str && (!colon || colon == str || !colon[1] || *end ||
		    port < 1 || port > 65535))
			error(c, config_setting_get_member(s, "metrics_listen"),
			    p, "metrics_listen: expected \"HOST:PORT\" or \"\", got \"%s\"",
			    str);
		else {
			free(sp->metrics_listen);
			sp->metrics_listen = xstrdup(str);
		}
	}
	get_bool(c, s, p, "console", &sp->console);
	parse_console_access(c, s, p, sp);
	if (get_string(c, s, p, "histograms", &str)) {
		if (strcmp(str, "supervisor") == 0 || strcmp(str, "worker") == 0)
			sp->histograms_per_worker = strcmp(str, "worker") == 0;
		else
			error(c, config_setting_get_member(s, "histograms"), p,
			    "histograms: expected \"supervisor\" or \"worker\", got \"%s\"",
			    str);
	}
	if (get_string(c, s, p, "event_log", &str)) {
		const char *base = strrchr(str, '/');

		if (*str && str[0] != '/')
			error(c, config_setting_get_member(s, "event_log"), p,
			    "event_log: \"%s\" is not an absolute path", str);
		else if (*str && (!base[1] || strlen(base + 1) +
		    SPEC_ROTATED_SUFFIX_MAX > NAME_MAX ||
		    strlen(str) + SPEC_ROTATED_SUFFIX_MAX >= PATH_MAX / 2))
			error(c, config_setting_get_member(s, "event_log"), p,
			    "event_log: \"%s\" is not a file name, or too long for its rotated files (\"%s.1000.gz.tmp\"): a name of at most %d bytes in a path of at most %d",
			    str, base[1] ? base + 1 : "", NAME_MAX -
			    SPEC_ROTATED_SUFFIX_MAX, PATH_MAX / 2 -
			    SPEC_ROTATED_SUFFIX_MAX - 1);
		else
			sp->event_log = xstrdup(str);
	}
	if (get_int(c, s, p, "event_log_max_bytes", 4096, INT64_MAX, &v))
		sp->event_log_max_bytes = (uint64_t)v;
	if (get_int(c, s, p, "event_log_keep", 0, 1000, &v))
		sp->event_log_keep = (uint32_t)v;
	parse_web_config(c, s, sp);
}

/* The largest configuration file read (a 20,000-worker tree is ~2 MiB). */
#define CONFIG_MAX_BYTES (64u << 20)

static void __attribute__((format(printf, 2, 3)))
file_error(struct config_diag *diag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_line(&diag->errors, &diag->nerrors, xvasprintf(fmt, ap));
	va_end(ap);
}

/*
 * Whoever can write the file, or replace it, decides what root runs: as
 * root, a file or a directory above it that others, or a group other than
 * root's, can write is refused. (Group root is allowed: a checkout made by
 * root under umask 002. A sticky directory such as /tmp is allowed: no one
 * but the owner can replace a file in it.)
 */
static bool
writable_by_others(const struct stat *st)
{
	return (st->st_mode & S_IWOTH) ||
	    ((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

static bool
trusted(const char *file, const struct stat *st, struct config_diag *diag)
{
	char *real, *slash;

	if (geteuid() != 0)
		return true;
	if (writable_by_others(st)) {
		file_error(diag, "%s: writable by %s (mode %04o); arbord running as root refuses it (chmod go-w)",
		    file, st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
		return false;
	}
	if (!(real = realpath(file, NULL))) {
		file_error(diag, "%s: %s", file, strerror(errno));
		return false;
	}
	while ((slash = strrchr(real, '/'))) {
		struct stat d;

		slash[slash == real] = '\0';	/* "/a/b" -> "/a", "/a" -> "/" */
		if (stat(real, &d) == 0 && writable_by_others(&d) &&
		    !(d.st_mode & S_ISVTX)) {
			file_error(diag, "%s: its directory %s is writable by %s (mode %04o); arbord running as root refuses it (chmod go-w, or the sticky bit)",
			    file, real, d.st_mode & S_IWOTH ? "others" : "its group",
			    (unsigned)(d.st_mode & 07777));
			free(real);
			return false;
		}
		if (slash == real)
			break;
	}
	free(real);
	return true;
}

static const char *
file_kind(mode_t m)
{
	if (S_ISDIR(m)) return "is a directory";
	if (S_ISFIFO(m)) return "is a FIFO, not a regular file";
	if (S_ISSOCK(m)) return "is a socket, not a regular file";
	if (S_ISCHR(m) || S_ISBLK(m)) return "is a device, not a regular file";
	return "is not a regular file";
}

/*
 * libconfig's @include opens files libconfig finds itself (relative to the
 * working directory), beyond every check made here: refused, with the line.
 */
static bool
has_include(const char *file, const char *text, struct config_diag *diag)
{
	int line = 1;
	bool found = false;

	for (const char *p = text; *p; line++) {
		const char *q = p + strspn(p, " \t");
		const char *nl = strchrnul(p, '\n');

		if (strncmp(q, "@include", 8) == 0) {
			file_error(diag, "%s:%d: @include is not supported: put the whole configuration in one file",
			    file, line);
			found = true;
		}
		p = *nl ? nl + 1 : nl;
	}
	return found;
}

/*
 * The whole file, read without ever blocking (a FIFO or a device is
 * refused before any read); NULL with the reason in diag.
 */
static char *
read_config(const char *file, struct config_diag *diag)
{
	struct stat st = { 0 };
	char *text;
	size_t len = 0;
	int fd;

	fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		file_error(diag, "%s: cannot read: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		file_error(diag, "%s: fstat: %s", file, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		file_error(diag, "%s: %s", file, file_kind(st.st_mode));
	if (diag->nerrors > 0 || !trusted(file, &st, diag)) {
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > CONFIG_MAX_BYTES) {
		file_error(diag, "%s: larger than %u MiB", file,
		    CONFIG_MAX_BYTES >> 20);
		close(fd);
		return NULL;
	}
	text = xcalloc((size_t)st.st_size + 1, 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				file_error(diag, "%s: cannot read: %s", file,
				    strerror(errno));
			break;	/* shrank while read: parse what is there */
		}
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (diag->nerrors > 0 || memchr(text, '\0', len) ||
	    has_include(file, text, diag)) {
		if (diag->nerrors == 0)
			file_error(diag, "%s: a NUL byte: not a text file", file);
		free(text);
		return NULL;
	}
	return text;
}

/* One socket of the tree, for check_socket_clashes. */
struct socket_use {
	char *key;		/* what two sockets may not share */
	char *path;		/* its worker's (a pool's template's) */
	const struct spec_socket *k;
};

static void
collect_uses(const struct spec_node *n, const char *parent,
    struct socket_use **v, size_t *nv)
{
	char *path = parent ? xasprintf("%s/%s", parent, n->name)
	    : xstrdup(n->name);
	const struct spec_node *w = n->is_supervisor ? n->template : n;

	for (size_t i = 0; w && i < w->w.nsockets; i++) {
		const struct spec_socket *k = &w->w.sockets[i];
		char hex[2 * sizeof(k->addr) + 1];
		struct socket_use *u;

		if (!k->listen)
			continue;
		for (uint32_t b = 0; b < k->addrlen; b++)
			snprintf(hex + 2 * b, 3, "%02x", k->addr[b]);
		*v = xreallocarray(*v, *nv + 1, sizeof(**v));
		u = &(*v)[(*nv)++];
		/* A unix name is one whatever the type; an IP address and
		 * port, one per type (a TCP and a UDP socket may share). */
		u->key = k->family == AF_UNIX ? xasprintf("unix %s", k->listen)
		    : xasprintf("%d %d %s", k->family, k->type, hex);
		u->path = n->is_supervisor ? xasprintf("%s/%s", path, w->name)
		    : xstrdup(path);
		u->k = k;
	}
	for (size_t i = 0; i < n->nchildren; i++)
		collect_uses(n->children[i], path, v, nv);
	free(path);
}

static int
use_cmp(const void *a, const void *b)
{
	const struct socket_use *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : x->k->line - y->k->line;
}

/*
 * Two sockets of the tree on one address: the second would unlink the
 * first's file (a unix name), or share its port unseen (UDP and
 * SO_REUSEADDR), or fail to bind. Sorted, so a tree of many sockets is
 * checked in n log n.
 */
static void
check_socket_clashes(struct ctx *c, const struct spec_node *root)
{
	struct socket_use *v = NULL;
	size_t n = 0;

	collect_uses(root, NULL, &v, &n);
	if (n > 1)
		qsort(v, n, sizeof(*v), use_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].key, v[i - 1].key) == 0)
			add_line(&c->diag->errors, &c->diag->nerrors,
			    xasprintf("%s:%d: %s: sockets: \"%s\" is also %s's (line %d): two sockets cannot share an address",
			    c->file, v[i].k->line, v[i].path, v[i].k->listen,
			    v[i - 1].path, v[i - 1].k->line));
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].path);
	}
	free(v);
}

struct spec *
config_load(const char *file, struct config_diag *diag)
{
	static const char *const top_keys[] = { "daemon", "observability",
		"tree", NULL };
	struct ctx c = { .file = file, .diag = diag };
	struct spec *sp;
	config_t cfg;
	config_setting_t *root, *s;
	char *text;

	memset(diag, 0, sizeof(*diag));
	if (!(text = read_config(file, diag)))
		return NULL;
	config_init(&cfg);
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		add_line(&diag->errors, &diag->nerrors,
		    xasprintf("%s:%d: syntax error: %s", file,
		    config_error_line(&cfg), config_error_text(&cfg)));
		config_destroy(&cfg);
		free(text);
		return NULL;
	}
	free(text);

	sp = xcalloc(1, sizeof(*sp));
	sp->file = xstrdup(file);
	sp->bpf = BPF_AUTO;
	sp->metrics_listen = xstrdup("127.0.0.1:9725");
	sp->console = true;
	sp->event_log_max_bytes = 16777216;
	sp->event_log_keep = 5;
	sp->log_dir = default_log_dir();
	sp->log_dir_default = true;
	sp->log_max_bytes = 16777216;
	sp->log_keep = 5;
	sp->helper_memory_max = 256ULL << 20;
	sp->socket_gid = sp->read_gid = (gid_t)-1;

	root = config_root_setting(&cfg);
	check_keys(&c, root, "(top level)", top_keys, "the top level");
	if ((s = config_setting_get_member(root, "daemon")))
		parse_daemon(&c, s, sp);
	if ((s = config_setting_get_member(root, "observability")))
		parse_observability(&c, s, sp);
	s = config_setting_get_member(root, "tree");
	if (!s)
		add_line(&diag->errors, &diag->nerrors,
		    xasprintf("%s: tree: missing (the tree group is required)",
		    file));
	else if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		error(&c, s, "tree", "expected a group, got %s", type_name(s));
	else if (!config_setting_get_member(s, "strategy"))
		error(&c, s, "tree", "the root must be a supervisor (give it a strategy)");
	else
		sp->root = parse_node(&c, s, NULL, 0, AUTO_SHUTDOWN_NEVER);
	check_log_dir(&c, root, sp);
	if (sp->root && !diag->nerrors)
		check_socket_clashes(&c, sp->root);

	config_destroy(&cfg);
	if (diag->nerrors > 0) {
		spec_free(sp);
		return NULL;
	}
	return sp;
}

void
config_diag_free(struct config_diag *d)
{
	for (size_t i = 0; i < d->nerrors; i++)
		free(d->errors[i]);
	for (size_t i = 0; i < d->nwarnings; i++)
		free(d->warnings[i]);
	free(d->errors);
	free(d->warnings);
	memset(d, 0, sizeof(*d));
}

static void
print_shutdown(FILE *f, const struct spec_shutdown *s)
{
	switch (s->kind) {
	case SHUTDOWN_BRUTAL_KILL: fprintf(f, " shutdown=brutal_kill"); break;
	case SHUTDOWN_INFINITY: fprintf(f, " shutdown=infinity"); break;
	case SHUTDOWN_TIMEOUT: fprintf(f, " shutdown=%ums", s->ms); break;
	}
}

static void
print_worker(FILE *f, const struct spec_node *n)
{
	fprintf(f, " restart=%s", restart_type_name(n->restart));
	print_shutdown(f, &n->shutdown);
	if (n->w.ready == READY_NOTIFY)
		fprintf(f, " ready=notify");
	if (n->w.ready == READY_HEALTH)
		fprintf(f, " ready=health");
	if (n->w.ready == READY_FD)
		fprintf(f, " ready=fd:%d", n->w.ready_fd);
	for (size_t i = 0; i < n->w.nsockets; i++)
		fprintf(f, " socket=%s", n->w.sockets[i].listen);
	if (n->w.health.kind == HEALTH_EXEC)
		fprintf(f, " health=exec:%s", n->w.health.argv[0]);
	else if (n->w.health.kind != HEALTH_NONE)
		fprintf(f, " health=%s:%s", health_kind_name(n->w.health.kind),
		    n->w.health.target);
	if (n->significant)
		fprintf(f, " significant");
	fprintf(f, " command=[");
	for (size_t i = 0; i < n->w.argc; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "", n->w.argv[i]);
	fprintf(f, "]\n");
}

static void
print_node(FILE *f, const struct spec_node *n, int depth)
{
	fprintf(f, "%*s%s", depth * 2, "", n->name);
	if (!n->is_supervisor) {
		fprintf(f, " (worker)");
		print_worker(f, n);
		return;
	}
	fprintf(f, " (supervisor %s intensity=%u period=%us", strategy_name(n->strategy),
	    n->intensity, n->period_s);
	if (depth > 0)
		fprintf(f, " restart=%s", restart_type_name(n->restart));
	if (n->auto_shutdown != AUTO_SHUTDOWN_NEVER)
		fprintf(f, " auto_shutdown=%s", auto_shutdown_name(n->auto_shutdown));
	if (n->max_children)
		fprintf(f, " max_children=%u", n->max_children);
	fprintf(f, ")\n");
	for (size_t i = 0; i < n->nchildren; i++)
		print_node(f, n->children[i], depth + 1);
	if (n->template) {
		fprintf(f, "%*s[template %s]", (depth + 1) * 2, "",
		    n->template->name);
		print_worker(f, n->template);
	}
}

void
config_print_tree(FILE *f, const struct spec *sp)
{
	print_node(f, sp->root, 0);
}

void
config_print_access(FILE *f, const struct spec *sp)
{
	if (sp->socket_group)
		fprintf(f, "daemon.socket_group \"%s\" (gid %u) may control\n",
		    sp->socket_group, (unsigned)sp->socket_gid);
	if (sp->read_group)
		fprintf(f, "daemon.read_group \"%s\" (gid %u) may read\n",
		    sp->read_group, (unsigned)sp->read_gid);
}
