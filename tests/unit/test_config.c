/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config_load: every kind of error, with its FILE:LINE: PATH: message line,
 * and every key of arbor.conf(5) read into the spec.
 */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "daemon/util.h"

static char file[] = "/tmp/arbor-conf-XXXXXX";

/* Loads text; returns the spec (or NULL) and the diagnostics joined by '\n'
 * with the temporary file's name replaced by "F". */
static struct spec *
load(const char *text, char **errors, char **warnings)
{
	struct config_diag d;
	struct spec *sp;
	int fd;

	strcpy(file, "/tmp/arbor-conf-XXXXXX");
	fd = mkstemp(file);
	assert_true(fd >= 0);
	assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	sp = config_load(file, &d);
	unlink(file);
	for (int k = 0; k < 2; k++) {
		char **lines = k ? d.warnings : d.errors;
		size_t n = k ? d.nwarnings : d.nerrors;
		char **out = k ? warnings : errors;
		size_t len = 1;

		for (size_t i = 0; i < n; i++)
			len += strlen(lines[i]) + 1;
		*out = xcalloc(len, 1);
		for (size_t i = 0; i < n; i++) {
			const char *l = lines[i];

			if (strncmp(l, file, strlen(file)) == 0) {
				strcat(*out, "F");
				l += strlen(file);
			}
			strcat(*out, l);
			if (i + 1 < n)
				strcat(*out, "\n");
		}
	}
	config_diag_free(&d);
	return sp;
}

/* Asserts that text is refused with exactly the error lines expected. */
static void
refused(const char *text, const char *expected)
{
	char *errors, *warnings;
	struct spec *sp = load(text, &errors, &warnings);

	if (sp || strcmp(errors, expected) != 0)
		fail_msg("for:\n%s\nexpected:\n%s\ngot:\n%s", text, expected,
		    errors);
	free(errors);
	free(warnings);
}

#define TREE(children) "tree = { strategy = \"one_for_one\";\n children = (\n" children "\n); };\n"

static void
syntax_error_names_the_line(void **state)
{
	(void)state;
	refused("tree = {\n strategy = ;\n};\n",
	    "F:2: syntax error: syntax error");
}

/* Output keys: defaults, and each bad value named with its line. */
static void
output_keys_defaults_and_errors(void **state)
{
	char *errors, *warnings, *dirs, *first;
	char dir[] = "/tmp/arbor-logs-XXXXXX";
	struct spec *sp;

	(void)state;
	/* A directory of our own: log_dir must be where no one else writes. */
	assert_non_null(mkdtemp(dir));
	first = xasprintf("%s/a", dir);
	dirs = xasprintf("%s:%s/b", first, dir);
	setenv("LOGS_DIRECTORY", dirs, 1);
	sp = load(TREE("{ name = \"w\"; command = [\"/bin/true\"]; stderr = \"null\"; }"),
	    &errors, &warnings);
	assert_non_null(sp);
	assert_int_equal(sp->root->children[0]->w.out.kind, STDIO_LOG);
	assert_int_equal(sp->root->children[0]->w.err.kind, STDIO_NULL);
	assert_string_equal(errors, "");
	assert_string_equal(warnings, "");
	assert_string_equal(sp->log_dir, first);	/* its first entry */
	assert_true(sp->log_dir_default);
	assert_int_equal(sp->log_max_bytes, 16777216);
	assert_int_equal(sp->log_keep, 5);
	assert_int_equal(sp->log_journal, LOG_SWITCH_AUTO);
	assert_int_equal(sp->log_echo, LOG_SWITCH_AUTO);
	spec_free(sp);
	free(errors);
	free(warnings);
	unsetenv("LOGS_DIRECTORY");
	rmdir(dir);
	free(first);
	free(dirs);

	sp = load("daemon = { log_dir = \"\"; log_keep = 0; log_echo = \"on\"; log_journal = \"off\"; };\n"
	    TREE("{ name = \"w\"; command = [\"/bin/true\"]; stdout = \"log\"; }"),
	    &errors, &warnings);
	assert_non_null(sp);
	assert_string_equal(sp->log_dir, "");
	assert_false(sp->log_dir_default);
	assert_int_equal(sp->log_keep, 0);
	assert_int_equal(sp->log_echo, LOG_SWITCH_ON);
	assert_int_equal(sp->log_journal, LOG_SWITCH_OFF);
	spec_free(sp);
	free(errors);
	free(warnings);

	refused("daemon = {\n log_dir = \"logs\";\n log_max_bytes = 100;\n"
	    " log_keep = -1;\n log_journal = \"yes\";\n log_echo = 1;\n};\n"
	    TREE("{ name = \"w\"; command = [\"/bin/true\"];\n stdout = \"journal\"; }"),
	    "F:2: daemon: log_dir: \"logs\" is not \"\" or an absolute path\n"
	    "F:3: daemon: log_max_bytes: 100 is out of range [4096, 9223372036854775807]\n"
	    "F:4: daemon: log_keep: -1 is out of range [0, 1000]\n"
	    "F:5: daemon: log_journal: expected \"auto\", \"on\" or \"off\", got \"yes\"\n"
	    "F:6: daemon: log_echo: expected a string, got an integer\n"
	    "F:11: root/w: stdout: expected \"log\", \"inherit\", \"null\" or \"file:/absolute/path\", got \"journal\"");
}

/* Health checks: defaults, addresses taken apart, each bad value named. */
static void
health_keys_defaults_and_errors(void **state)
{
	char *errors, *warnings;
	struct spec *sp;
	const struct spec_health *h;

	(void)state;
	sp = load(TREE("{ name = \"w\"; command = [\"/bin/true\"]; ready = \"health\";\n"
	    " health = { http = \"http://localhost:8080/healthz\"; }; restart_delay_jitter = 0.25; },\n"
	    "{ name = \"v\"; command = [\"/bin/true\"];\n"
	    " health = { tcp = \"[::1]:5432\"; interval = 1000; timeout = 300; failures = 1; start_period = 5000; }; },\n"
	    "{ name = \"x\"; command = [\"/bin/true\"]; health = { exec = [\"/bin/true\", \"-q\"]; }; }"),
	    &errors, &warnings);
	assert_non_null(sp);
	h = &sp->root->children[0]->w.health;
	assert_int_equal(sp->root->children[0]->w.ready, READY_HEALTH);
	assert_true(sp->root->children[0]->w.restart_delay_jitter == 0.25);
	assert_int_equal(h->kind, HEALTH_HTTP);
	assert_string_equal(h->ip, "127.0.0.1");
	assert_true(h->localhost);
	assert_int_equal(h->port, 8080);
	assert_int_equal(h->interval_ms, 10000);
	assert_int_equal(h->timeout_ms, 2000);
	assert_int_equal(h->failures, 3);
	assert_int_equal(h->start_period_ms, 0);
	h = &sp->root->children[1]->w.health;
	assert_int_equal(h->kind, HEALTH_TCP);
	assert_string_equal(h->ip, "::1");
	assert_int_equal(h->family, AF_INET6);
	assert_int_equal(h->port, 5432);
	assert_int_equal(h->interval_ms, 1000);
	assert_int_equal(h->timeout_ms, 300);
	assert_int_equal(h->failures, 1);
	assert_int_equal(h->start_period_ms, 5000);
	h = &sp->root->children[2]->w.health;
	assert_int_equal(h->kind, HEALTH_EXEC);
	assert_int_equal(h->argc, 2);
	/* A changed check is a changed worker (a reload restarts it). */
	assert_false(spec_worker_equal(sp->root->children[0], sp->root->children[1]));
	{
		struct spec_node *d = spec_node_dup(sp->root->children[0]);

		assert_true(spec_worker_equal(d, sp->root->children[0]));
		d->w.health.interval_ms++;
		assert_false(spec_worker_equal(d, sp->root->children[0]));
		spec_node_free(d);
	}
	spec_free(sp);
	free(errors);
	free(warnings);

	refused(TREE("{ name = \"a\"; command = [\"/bin/true\"];\n"
	    " health = { exec = [\"/bin/true\"]; tcp = \"127.0.0.1:1\"; }; },\n"
	    "{ name = \"b\"; command = [\"/bin/true\"];\n"
	    " health = { http = \"http://db.internal:80/\"; }; },\n"
	    "{ name = \"c\"; command = [\"/bin/true\"];\n"
	    " health = { http = \"http://127.0.0.1/health\"; }; },\n"
	    "{ name = \"d\"; command = [\"/bin/true\"];\n"
	    " health = { http = \"https://127.0.0.1:443/\"; }; },\n"
	    "{ name = \"e\"; command = [\"/bin/true\"];\n"
	    " health = { tcp = \"127.0.0.1:99999\";\n interval = 0;\n timeout = 0;\n failures = 0; }; },\n"
	    "{ name = \"f\"; command = [\"/bin/true\"];\n"
	    " health = { tcp = \"::1:80\"; }; },\n"
	    "{ name = \"g\"; command = [\"/bin/true\"]; ready = \"health\"; },\n"
	    "{ name = \"h\"; command = [\"/bin/true\"];\n"
	    " health = { exec = [\"true\"]; every = 1; }; restart_delay_jitter = 1.5; },\n"
	    "{ name = \"i\"; command = [\"/bin/true\"];\n"
	    " health = { interval = 100; }; },\n"
	    "{ name = \"j\"; command = [\"/bin/true\"];\n"
	    " health = { http = \"http://127.0.0.1:80\"; }; }"),
	    "F:4: root/a: health: exec and tcp given; a check is exactly one of exec, tcp, http\n"
	    "F:6: root/b: health.http: \"http://db.internal:80/\": HOST must be an IP address or localhost (no name is looked up)\n"
	    "F:8: root/c: health.http: \"http://127.0.0.1/health\": no :PORT\n"
	    "F:10: root/d: health.http: \"https://127.0.0.1:443/\": https is not supported: a check speaks plain http to an address of this host\n"
	    "F:12: root/e: health.tcp: \"127.0.0.1:99999\": PORT must be a number 1-65535\n"
	    "F:13: root/e: health.interval: must be more than 0 ms\n"
	    "F:14: root/e: health.timeout: must be more than 0 ms\n"
	    "F:15: root/e: health.failures: expected an integer from 1 to 1000000\n"
	    "F:17: root/f: health.tcp: \"::1:80\": HOST must be an IP address or localhost (no name is looked up)\n"
	    "F:18: root/g: ready = \"health\" needs a health check (health = { tcp = \"127.0.0.1:PORT\"; })\n"
	    "F:20: root/h: restart_delay_jitter: 1.5 is out of range [0, 1]\n"
	    "F:20: root/h: unknown key \"every\" for health\n"
	    "F:20: root/h: health.exec[0]: \"true\" is not an absolute path\n"
	    "F:22: root/i: health: needs one of exec, tcp, http\n"
	    "F:24: root/j: health.http: \"http://127.0.0.1:80\": expected http://HOST:PORT/PATH (no /PATH)");
}

static void
socket_keys_defaults_and_errors(void **state)
{
	char *errors, *warnings;
	struct spec *sp;
	const struct spec_worker *w;

	(void)state;
	sp = load(TREE("{ name = \"w\"; command = [\"/bin/true\"]; ready = \"fd\"; ready_fd = 8; fd_store_max = 2;\n"
	    " sockets = ( { listen = \"127.0.0.1:8080\"; name = \"http\"; backlog = 16; },\n"
	    "             { listen = \"[::1]:8443\"; },\n"
	    "             { listen = \"@arbor-t\"; type = \"seqpacket\"; } ); }"),
	    &errors, &warnings);
	assert_non_null(sp);
	w = &sp->root->children[0]->w;
	assert_int_equal(w->ready, READY_FD);
	assert_int_equal(w->ready_fd, 8);
	assert_int_equal(w->fd_store_max, 2);
	assert_int_equal(w->nsockets, 3);
	assert_string_equal(w->sockets[0].name, "http");
	assert_int_equal(w->sockets[0].backlog, 16);
	assert_int_equal(w->sockets[0].family, AF_INET);
	assert_int_equal(w->sockets[1].family, AF_INET6);
	assert_string_equal(w->sockets[1].name, "w");	/* the worker's */
	assert_int_equal(w->sockets[1].backlog, SOMAXCONN);
	assert_int_equal(w->sockets[2].family, AF_UNIX);
	assert_true(w->sockets[2].abstract);
	assert_int_equal(w->sockets[2].type, SOCK_SEQPACKET);
	/* A changed socket is a changed worker; the line is not. */
	{
		struct spec_node *d = spec_node_dup(sp->root->children[0]);

		assert_true(spec_worker_equal(d, sp->root->children[0]));
		d->w.sockets[1].line += 3;
		assert_true(spec_worker_equal(d, sp->root->children[0]));
		d->w.sockets[1].backlog++;
		assert_false(spec_worker_equal(d, sp->root->children[0]));
		spec_node_free(d);
	}
	spec_free(sp);
	free(errors);
	free(warnings);

	refused(TREE("{ name = \"a\"; command = [\"/bin/true\"];\n"
	    " sockets = ( { listen = \"localhost:80\"; },\n"
	    "   { listen = \"127.0.0.1:0\"; type = \"raw\"; },\n"
	    "   { listen = \"/run/arbor-t.sock\"; name = \"a:b\"; mode = \"999\"; },\n"
	    "   { listen = \"127.0.0.1:9\"; type = \"dgram\"; backlog = 5; owner = \"root\"; },\n"
	    "   { name = \"n\"; },\n"
	    "   { listen = \"@\"; } ); },\n"
	    "{ name = \"b\"; command = [\"/bin/true\"]; ready = \"fd\"; },\n"
	    "{ name = \"c\"; command = [\"/bin/true\"]; ready_fd = 4; },\n"
	    "{ name = \"d\"; command = [\"/bin/true\"]; ready = \"fd\"; ready_fd = 4; fd_store_max = 1;\n"
	    " sockets = ( { listen = \"127.0.0.1:1\"; }, { listen = \"127.0.0.1:1\"; } ); }"),
	    "F:4: root/a: sockets[0].listen: \"localhost:80\": HOST must be an IPv4 address, or [IPV6] (no name is looked up)\n"
	    "F:5: root/a: sockets[1].listen: \"127.0.0.1:0\": PORT must be a number 1-65535\n"
	    "F:5: root/a: sockets[1].type: expected \"stream\", \"dgram\" or \"seqpacket\", got \"raw\"\n"
	    "F:6: root/a: sockets[2].name: \"a:b\": 1-255 printable characters without ':' (LISTEN_FDNAMES separates names with it)\n"
	    "F:6: root/a: sockets[2].mode: expected an octal string such as \"0660\"\n"
	    "F:7: root/a: sockets[3].backlog: a dgram socket has no backlog\n"
	    "F:7: root/a: sockets[3]: owner and group are for a unix socket's file\n"
	    "F:8: root/a: sockets[4]: missing \"listen\"\n"
	    "F:9: root/a: sockets[5].listen: \"@\": an abstract socket needs a name after '@'\n"
	    "F:10: root/b: ready = \"fd\" needs ready_fd (the fd the worker writes a newline to when ready)\n"
	    "F:11: root/c: ready_fd: needs ready = \"fd\"\n"
	    "F:12: root/d: ready_fd: 4 is among the fds passed to the worker (3 to 5: its sockets and fd_store_max); take 6 or above");
	/* Two sockets of the tree on one address, whatever their workers;
	 * a unix name whatever the type; an IP port once per type. */
	refused(TREE("{ name = \"a\"; command = [\"/bin/true\"];\n"
	    " sockets = ( { listen = \"/run/arbor-t.sock\"; }, { listen = \"127.0.0.1:53\"; type = \"dgram\"; },\n"
	    "   { listen = \"127.0.0.1:53\"; } ); },\n"
	    "{ name = \"p\"; strategy = \"simple_one_for_one\"; template = { name = \"t\"; command = [\"/bin/true\"];\n"
	    " sockets = ( { listen = \"/run/arbor-t.sock\"; type = \"dgram\"; },\n"
	    "   { listen = \"127.0.0.1:0053\"; type = \"dgram\"; } ); }; }"),
	    "F:8: root/p/t: sockets: \"127.0.0.1:0053\" is also root/a's (line 4): two sockets cannot share an address\n"
	    "F:7: root/p/t: sockets: \"/run/arbor-t.sock\" is also root/a's (line 4): two sockets cannot share an address");
}

/* Only a regular file is read, and nothing blocks. */
static void
fifo_and_directory_are_refused_without_blocking(void **state)
{
	char dir[] = "/tmp/arbor-conf-dir-XXXXXX", *fifo;
	struct config_diag d;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_null(config_load(dir, &d));
	assert_int_equal(d.nerrors, 1);
	fifo = xasprintf("%s: is a directory", dir);
	assert_string_equal(d.errors[0], fifo);
	free(fifo);
	config_diag_free(&d);
	fifo = xasprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_null(config_load(fifo, &d));	/* no writer: would block */
	assert_int_equal(d.nerrors, 1);
	assert_non_null(strstr(d.errors[0], ": is a FIFO, not a regular file"));
	config_diag_free(&d);
	unlink(fifo);
	free(fifo);
	rmdir(dir);
}

/* @include is refused, with its line. */
static void
include_is_refused_with_its_line(void **state)
{
	(void)state;
	refused("# a comment @include \"x\"\n  @include \"other.conf\"\n" TREE(""),
	    "F:2: @include is not supported: put the whole configuration in one file");
}

/* A tree deeper than SPEC_MAX_DEPTH is refused at load. */
static void
tree_deeper_than_the_limit_is_refused(void **state)
{
	char *errors, *warnings, *text = xstrdup("");
	struct spec *sp;

	(void)state;
	for (int depth = SPEC_MAX_DEPTH; depth <= SPEC_MAX_DEPTH + 1; depth++) {
		char *t = xstrdup("{ name = \"w\"; command = [\"/bin/true\"]; }");

		for (int i = 1; i < depth; i++) {
			char *u = xasprintf("%s{ name = \"s\"; strategy = \"one_for_one\"; children = ( %s ); }",
			    i == depth - 1 ? "tree = " : "", t);

			free(t);
			t = u;
		}
		free(text);
		text = xasprintf("%s;\n", t);
		free(t);
		sp = load(text, &errors, &warnings);
		if (depth == SPEC_MAX_DEPTH) {
			assert_non_null(sp);
			spec_free(sp);
		} else {
			assert_null(sp);
			assert_non_null(strstr(errors, ": children: the tree is deeper than 64 levels, the most arbor takes"));
		}
		free(errors);
		free(warnings);
	}
	free(text);
}

static void
unreadable_file(void **state)
{
	struct config_diag d;

	(void)state;
	assert_null(config_load("/nonexistent/arbor.conf", &d));
	assert_int_equal(d.nerrors, 1);
	assert_string_equal(d.errors[0],
	    "/nonexistent/arbor.conf: cannot read: No such file or directory");
	config_diag_free(&d);
}

static void
tree_is_required_and_a_supervisor(void **state)
{
	(void)state;
	refused("daemon = { };\n", "F: tree: missing (the tree group is required)");
	refused("tree = 3;\n", "F:1: tree: expected a group, got an integer");
	refused("tree = { command = [\"/bin/true\"]; };\n",
	    "F:1: tree: the root must be a supervisor (give it a strategy)");
}

static void
unknown_keys_everywhere(void **state)
{
	(void)state;
	refused("color = 1;\n" TREE(""),
	    "F:1: (top level): unknown key \"color\" for the top level");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; colour = \"red\"; }"),
	    "F:3: root/w: unknown key \"colour\" for a worker");
	refused(TREE("{ name = \"s\"; strategy = \"one_for_one\"; command = [\"/bin/true\"]; }"),
	    "F:3: root/s: unknown key \"command\" for a supervisor");
	refused("daemon = { sock = \"/x\"; };\n" TREE(""),
	    "F:1: daemon: unknown key \"sock\" for daemon");
	refused("observability = { metrics = \"\"; };\n" TREE(""),
	    "F:1: observability: unknown key \"metrics\" for observability");
}

static void
wrong_types(void **state)
{
	(void)state;
	refused("tree = { strategy = \"one_for_one\"; intensity = \"3\"; };\n",
	    "F:1: root: intensity: expected an integer, got a string");
	refused(TREE("{ name = \"w\"; command = \"/bin/true\"; }"),
	    "F:3: root/w: command: expected a list of strings, got a string");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; env = (\"A=1\", 2); }"),
	    "F:3: root/w: env[1]: expected a string, got an integer");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; env_clear = 1; }"),
	    "F:3: root/w: env_clear: expected a boolean, got an integer");
	refused(TREE("\"w\""),
	    "F:2: root/children[0]: expected a group, got a string");
	refused("tree = { strategy = \"one_for_one\"; children = { }; };\n",
	    "F:1: root: children: expected a list of groups ( {...}, ... ), got a group");
}

static void
names_required_valid_and_unique(void **state)
{
	(void)state;
	refused(TREE("{ command = [\"/bin/true\"]; }"),
	    "F:3: root/children[0]: missing \"name\"");
	refused(TREE("{ name = \"a/b\"; command = [\"/bin/true\"]; }"),
	    "F:3: root/a/b: invalid name \"a/b\" (allowed: A-Z a-z 0-9 _ . -)");
	refused(TREE("{ name = \"..\"; command = [\"/bin/true\"]; }"),
	    "F:3: root/..: invalid name \"..\" (allowed: A-Z a-z 0-9 _ . -)");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; },\n{ name = \"w\"; command = [\"/bin/true\"]; }"),
	    "F:4: root: duplicate child name \"w\" (first on line 3)");
}

static void
commands_must_be_absolute_and_non_empty(void **state)
{
	(void)state;
	refused(TREE("{ name = \"w\"; }"), "F:3: root/w: missing \"command\"");
	refused(TREE("{ name = \"w\"; command = []; }"),
	    "F:3: root/w: command: must not be empty");
	refused(TREE("{ name = \"w\"; command = [\"true\"]; }"),
	    "F:3: root/w: command[0]: \"true\" is not an absolute path");
}

/* Users and groups are resolved at load, not at each spawn. */
static void
user_and_group_are_resolved_at_load(void **state)
{
	char *errors, *warnings;
	struct spec *sp = load(TREE("{ name = \"a\"; command = [\"/bin/true\"]; user = \"root\"; },\n"
	    "{ name = \"b\"; command = [\"/bin/true\"]; group = \"root\"; },\n"
	    "{ name = \"c\"; command = [\"/bin/true\"]; user = \"no-such-user-arbor\"; }"),
	    &errors, &warnings);
	const struct spec_ids *a, *b, *c;

	(void)state;
	assert_non_null(sp);
	a = &sp->root->children[0]->w.ids;
	b = &sp->root->children[1]->w.ids;
	c = &sp->root->children[2]->w.ids;
	assert_true(a->set_uid);
	assert_int_equal(a->uid, 0);
	assert_int_equal(a->gid, 0);
	assert_true(a->ngroups >= 1);
	assert_null(a->error);
	assert_false(b->set_uid);
	assert_int_equal(b->ngroups, 1);
	assert_int_equal(b->groups[0], 0);
	assert_string_equal(c->error, "unknown user \"no-such-user-arbor\"");
	free(errors);
	free(warnings);
	spec_free(sp);
}

static void
missing_executable_is_only_a_warning(void **state)
{
	char *errors, *warnings;
	struct spec *sp = load(TREE("{ name = \"w\"; command = [\"/nonexistent/x\"]; user = \"no-such-user-arbor\"; }"),
	    &errors, &warnings);

	(void)state;
	assert_non_null(sp);
	assert_string_equal(errors, "");
	assert_string_equal(warnings,
	    "F:3: root/w: warning: command[0]: \"/nonexistent/x\": No such file or directory\n"
	    "F:3: root/w: warning: user \"no-such-user-arbor\" does not exist (yet)");
	spec_free(sp);
	free(errors);
	free(warnings);
}

static void
impossible_values(void **state)
{
	(void)state;
	refused(TREE("{ name = \"web\"; command = [\"/bin/true\"]; restart = \"sometimes\"; }"),
	    "F:3: root/web: unknown restart type \"sometimes\"");
	refused("tree = { strategy = \"one_for_some\"; };\n",
	    "F:1: root: unknown strategy \"one_for_some\"");
	refused("tree = { strategy = \"one_for_one\"; auto_shutdown = \"maybe\"; };\n",
	    "F:1: root: unknown auto_shutdown \"maybe\"");
	refused("tree = { strategy = \"one_for_one\"; intensity = -1; };\n",
	    "F:1: root: intensity: -1 is out of range [0, 100000]");
	refused("tree = { strategy = \"one_for_one\"; period = 0; };\n",
	    "F:1: root: period: 0 is out of range [1, 31536000]");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; shutdown = \"soon\"; }"),
	    "F:3: root/w: shutdown: expected milliseconds or \"brutal_kill\" or \"infinity\", got \"soon\"");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; shutdown = -5; }"),
	    "F:3: root/w: shutdown: -5 is out of range [0, 4294967295]");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; stop_signal = \"SIGNOPE\"; }"),
	    "F:3: root/w: stop_signal: not a signal name or number (1-64)");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; ready = \"soon\"; }"),
	    "F:3: root/w: ready: expected \"exec\", \"notify\", \"health\" or \"fd\", got \"soon\"");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; watchdog = 1000; }"),
	    "F:3: root/w: watchdog: needs ready = \"notify\"");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; restart_delay = 500; restart_delay_max = 100; }"),
	    "F:3: root/w: restart_delay_max: 100 is less than restart_delay 500");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; success_exit_codes = [0, 300]; }"),
	    "F:3: root/w: success_exit_codes[1]: expected an exit status 0-255");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; env = [\"NOEQUALS\"]; }"),
	    "F:3: root/w: env[0]: \"NOEQUALS\" is not of the form K=V");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; cwd = \"tmp\"; }"),
	    "F:3: root/w: cwd: \"tmp\" is not an absolute path");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; umask = \"089\"; }"),
	    "F:3: root/w: umask: expected an octal string such as \"022\"");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; user = \"\"; }"),
	    "F:3: root/w: user: must not be empty");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; rlimits = { files = 10; }; }"),
	    "F:3: root/w: rlimits: unknown limit \"files\"");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; rlimits = { nofile = -1; }; }"),
	    "F:3: root/w: rlimits.nofile: expected a non-negative integer or \"unlimited\"");
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; stdout = \"file:rel\"; }"),
	    "F:3: root/w: stdout: expected \"log\", \"inherit\", \"null\" or \"file:/absolute/path\", got \"file:rel\"");
}

static void
simple_one_for_one_rules(void **state)
{
	(void)state;
	refused("tree = { strategy = \"simple_one_for_one\"; };\n",
	    "F:1: root: simple_one_for_one needs a \"template\"");
	refused("tree = { strategy = \"simple_one_for_one\"; children = (); template = { command = [\"/bin/true\"]; }; };\n",
	    "F:1: root: children: not allowed with simple_one_for_one (use template)");
	refused("tree = { strategy = \"simple_one_for_one\"; template = { strategy = \"one_for_one\"; }; };\n",
	    "F:1: root: template: must be a worker, not a supervisor");
	refused("tree = { strategy = \"one_for_one\"; max_children = 3; };\n",
	    "F:1: root: max_children: only allowed with simple_one_for_one");
	refused("tree = { strategy = \"one_for_one\"; template = { command = [\"/bin/true\"]; }; };\n",
	    "F:1: root: template: only allowed with simple_one_for_one");
	refused("tree = { strategy = \"simple_one_for_one\"; template = { command = [\"/bin/true\"]; restart = \"never\"; }; };\n",
	    "F:1: root/template: unknown restart type \"never\"");
}

static void
significant_rules(void **state)
{
	(void)state;
	refused(TREE("{ name = \"w\"; command = [\"/bin/true\"]; significant = true; restart = \"transient\"; }"),
	    "F:3: root/w: significant: the parent's auto_shutdown is \"never\"");
	refused("tree = { strategy = \"one_for_one\"; auto_shutdown = \"any_significant\"; children = (\n"
	    "{ name = \"w\"; command = [\"/bin/true\"]; significant = true; }); };\n",
	    "F:2: root/w: significant: a permanent child cannot be significant (use transient or temporary)");
	refused("tree = { strategy = \"one_for_one\"; significant = true; };\n",
	    "F:1: root: significant: the root has no parent");
}

static void
daemon_and_observability_values(void **state)
{
	(void)state;
	refused("daemon = { socket = \"rel.sock\"; };\n" TREE(""),
	    "F:1: daemon: socket: \"rel.sock\" is not an absolute path");
	refused("observability = { bpf = \"maybe\"; };\n" TREE(""),
	    "F:1: observability: bpf: expected \"auto\", \"on\" or \"off\", got \"maybe\"");
	refused("observability = { metrics_listen = \"localhost\"; };\n" TREE(""),
	    "F:1: observability: metrics_listen: expected \"HOST:PORT\" or \"\", got \"localhost\"");
	refused("observability = { console = \"yes\"; };\n" TREE(""),
	    "F:1: observability: console: expected a boolean, got a string");
	refused("observability = { histograms = \"path\"; };\n" TREE(""),
	    "F:1: observability: histograms: expected \"supervisor\" or \"worker\", got \"path\"");
	refused("observability = { event_log = \"events.log\"; };\n" TREE(""),
	    "F:1: observability: event_log: \"events.log\" is not an absolute path");
	refused("observability = { event_log_max_bytes = 10; };\n" TREE(""),
	    "F:1: observability: event_log_max_bytes: 10 is out of range [4096, 9223372036854775807]");
}

/* A group's name or gid; one that does not exist is an error, never a
 * socket left open to a group no one meant. */
static void
socket_groups_by_name_or_gid(void **state)
{
	char *errors, *warnings;
	struct spec *sp;

	(void)state;
	sp = load("daemon = { socket_group = \"root\"; read_group = 4242; };\n"
	    TREE("{ name = \"w\"; command = [\"/bin/true\"]; }"),
	    &errors, &warnings);
	assert_non_null(sp);
	assert_string_equal(errors, "");
	assert_string_equal(sp->socket_group, "root");
	assert_int_equal(sp->socket_gid, 0);
	assert_string_equal(sp->read_group, "4242");
	assert_int_equal(sp->read_gid, 4242);
	spec_free(sp);
	free(errors);
	free(warnings);

	sp = load(TREE("{ name = \"w\"; command = [\"/bin/true\"]; }"), &errors,
	    &warnings);
	assert_non_null(sp);
	assert_null(sp->socket_group);
	assert_null(sp->read_group);
	spec_free(sp);
	free(errors);
	free(warnings);

	refused("daemon = {\n socket_group = \"no-such-group-arbor\"; };\n" TREE(""),
	    "F:2: daemon.socket_group: no group \"no-such-group-arbor\"");
	refused("daemon = { read_group = \"\"; };\n" TREE(""),
	    "F:1: daemon.read_group: no group \"\"");
	refused("daemon = { read_group = -1; };\n" TREE(""),
	    "F:1: daemon.read_group: -1 is not a gid");
	refused("daemon = { socket_group = [\"adm\"]; };\n" TREE(""),
	    "F:1: daemon.socket_group: expected a group name or a gid, got a list");
}

static void
every_problem_is_listed(void **state)
{
	(void)state;
	refused(TREE("{ name = \"a\"; command = [\"rel\"]; restart = \"x\"; },\n"
	    "{ name = \"b\"; strategy = \"bogus\"; children = ({ name = \"c\"; }); }"),
	    "F:3: root/a: command[0]: \"rel\" is not an absolute path\n"
	    "F:3: root/a: unknown restart type \"x\"\n"
	    "F:4: root/b: unknown strategy \"bogus\"\n"
	    "F:4: root/b/c: missing \"command\"");
}

static void
every_key_is_read(void **state)
{
	char *errors, *warnings;
	struct spec *sp = load(
	    "daemon = { socket = \"/run/x.sock\"; };\n"
	    "observability = { bpf = \"off\"; metrics_listen = \"\"; event_log = \"/var/log/a.jsonl\";\n"
	    "  event_log_max_bytes = 8192; event_log_keep = 2; };\n"
	    "tree = { name = \"top\"; strategy = \"rest_for_one\"; intensity = 7; period = 9;\n"
	    " auto_shutdown = \"all_significant\"; children = (\n"
	    " { name = \"w\"; command = [\"/bin/true\", \"-x\"]; restart = \"transient\"; shutdown = \"brutal_kill\";\n"
	    "   stop_signal = \"HUP\"; ready = \"notify\"; ready_timeout = \"infinity\"; watchdog = 300;\n"
	    "   restart_delay = 10; restart_delay_max = 80; success_exit_codes = [0, 2]; env = [\"A=1\"];\n"
	    "   env_clear = true; cwd = \"/tmp\"; umask = \"077\"; user = \"root\"; group = \"root\";\n"
	    "   no_new_privs = true; rlimits = { nofile = 64; core = \"unlimited\"; };\n"
	    "   stdout = \"null\"; stderr = \"file:/tmp/e\"; significant = true; },\n"
	    " { name = \"pool\"; strategy = \"simple_one_for_one\"; max_children = 4; restart = \"temporary\";\n"
	    "   shutdown = 250; template = { name = \"conn\"; command = [\"/bin/true\"]; }; }\n"
	    "); };\n", &errors, &warnings);
	const struct spec_node *w, *pool;

	(void)state;
	if (!sp)
		fail_msg("%s", errors);
	assert_string_equal(sp->socket, "/run/x.sock");
	assert_int_equal(sp->bpf, BPF_OFF);
	assert_string_equal(sp->metrics_listen, "");
	assert_string_equal(sp->event_log, "/var/log/a.jsonl");
	assert_int_equal(sp->event_log_max_bytes, 8192);
	assert_int_equal(sp->event_log_keep, 2);
	assert_string_equal(sp->root->name, "top");
	assert_int_equal(sp->root->strategy, STRATEGY_REST_FOR_ONE);
	assert_int_equal(sp->root->intensity, 7);
	assert_int_equal(sp->root->period_s, 9);
	assert_int_equal(sp->root->auto_shutdown, AUTO_SHUTDOWN_ALL_SIGNIFICANT);
	w = sp->root->children[0];
	assert_int_equal(w->w.argc, 2);
	assert_string_equal(w->w.argv[1], "-x");
	assert_null(w->w.argv[2]);
	assert_int_equal(w->restart, RESTART_TRANSIENT);
	assert_int_equal(w->shutdown.kind, SHUTDOWN_BRUTAL_KILL);
	assert_int_equal(w->w.stop_signal, SIGHUP);
	assert_int_equal(w->w.ready, READY_NOTIFY);
	assert_int_equal(w->w.ready_timeout_ms, 0);
	assert_int_equal(w->w.watchdog_ms, 300);
	assert_int_equal(w->w.restart_delay_ms, 10);
	assert_int_equal(w->w.restart_delay_max_ms, 80);
	assert_int_equal(w->w.nsuccess, 2);
	assert_int_equal(w->w.success_codes[1], 2);
	assert_string_equal(w->w.env[0], "A=1");
	assert_true(w->w.env_clear);
	assert_string_equal(w->w.cwd, "/tmp");
	assert_true(w->w.has_umask);
	assert_int_equal(w->w.umask, 077);
	assert_string_equal(w->w.user, "root");
	assert_string_equal(w->w.group, "root");
	assert_true(w->w.no_new_privs);
	assert_int_equal(w->w.nrlimits, 2);
	assert_int_equal(w->w.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(w->w.rlimits[0].value, 64);
	assert_true(w->w.rlimits[1].value == UINT64_MAX);
	assert_int_equal(w->w.out.kind, STDIO_NULL);
	assert_int_equal(w->w.err.kind, STDIO_FILE);
	assert_string_equal(w->w.err.path, "/tmp/e");
	assert_true(w->significant);
	pool = sp->root->children[1];
	assert_true(pool->is_supervisor);
	assert_int_equal(pool->strategy, STRATEGY_SIMPLE_ONE_FOR_ONE);
	assert_int_equal(pool->max_children, 4);
	assert_int_equal(pool->restart, RESTART_TEMPORARY);
	assert_int_equal(pool->shutdown.kind, SHUTDOWN_TIMEOUT);
	assert_int_equal(pool->shutdown.ms, 250);
	assert_string_equal(pool->template->name, "conn");
	spec_free(sp);
	free(errors);
	free(warnings);
}

static void
defaults_match_the_spec(void **state)
{
	char *errors, *warnings;
	struct spec *sp = load(TREE("{ name = \"w\"; command = [\"/bin/true\"]; },\n"
	    "{ name = \"s\"; strategy = \"one_for_all\"; }"), &errors, &warnings);
	const struct spec_node *w, *s;

	(void)state;
	assert_non_null(sp);
	assert_null(sp->socket);
	assert_int_equal(sp->bpf, BPF_AUTO);
	assert_string_equal(sp->metrics_listen, "127.0.0.1:9725");
	assert_false(sp->histograms_per_worker);
	assert_true(sp->console);
	assert_int_equal(sp->event_log_max_bytes, 16777216);
	assert_int_equal(sp->event_log_keep, 5);
	assert_string_equal(sp->root->name, "root");
	assert_int_equal(sp->root->intensity, 3);
	assert_int_equal(sp->root->period_s, 5);
	w = sp->root->children[0];
	assert_int_equal(w->restart, RESTART_PERMANENT);
	assert_int_equal(w->shutdown.kind, SHUTDOWN_TIMEOUT);
	assert_int_equal(w->shutdown.ms, 5000);
	assert_int_equal(w->w.stop_signal, SIGTERM);
	assert_int_equal(w->w.ready, READY_EXEC);
	assert_int_equal(w->w.ready_timeout_ms, 10000);
	assert_int_equal(w->w.nsuccess, 1);
	assert_int_equal(w->w.success_codes[0], 0);
	assert_int_equal(w->w.out.kind, STDIO_LOG);
	assert_int_equal(w->w.err.kind, STDIO_LOG);
	s = sp->root->children[1];
	assert_int_equal(s->shutdown.kind, SHUTDOWN_INFINITY);
	assert_int_equal(s->auto_shutdown, AUTO_SHUTDOWN_NEVER);
	spec_free(sp);
	free(errors);
	free(warnings);
}

/* Resource keys on workers and supervisors, read as the spec keeps them. */
static void
resource_keys_are_read(void **state)
{
	char *errors, *warnings;
	struct spec *sp;
	const struct spec_resources *r, *w;

	(void)state;
	sp = load("daemon = { cgroup = \"/sys/fs/cgroup/arbor\"; };\n"
	    "tree = { strategy = \"one_for_one\"; memory_max = \"1G\"; cpu_max = \"250%\";\n"
	    " children = (\n"
	    "  { name = \"w\"; command = [\"/bin/true\"]; memory_max = 65536;"
	    " memory_high = \"48M\"; memory_swap_max = \"max\"; pids_max = 20;"
	    " cpu_max = \"20000 50000\"; cpu_weight = 1; io_weight = 10000;"
	    " oom_group = true; }\n); };\n", &errors, &warnings);
	assert_non_null(sp);
	assert_string_equal(errors, "");
	assert_int_equal(sp->cgroup, CGROUP_PATH);
	assert_string_equal(sp->cgroup_path, "/sys/fs/cgroup/arbor");
	r = &sp->root->res;
	assert_int_equal(r->set, (1U << RES_MEMORY_MAX) | (1U << RES_CPU_MAX));
	assert_int_equal(r->memory_max, 1ULL << 30);
	assert_int_equal(r->cpu_quota_us, 250000);
	assert_int_equal(r->cpu_period_us, 100000);
	w = &sp->root->children[0]->res;
	assert_int_equal(w->set, (1U << RES_NKEYS) - 1);
	assert_int_equal(w->memory_max, 65536);
	assert_int_equal(w->memory_high, 48ULL << 20);
	assert_true(w->memory_swap_max == RES_MAX);
	assert_int_equal(w->pids_max, 20);
	assert_int_equal(w->cpu_quota_us, 20000);
	assert_int_equal(w->cpu_period_us, 50000);
	assert_int_equal(w->cpu_weight, 1);
	assert_int_equal(w->io_weight, 10000);
	assert_true(w->oom_group);
	spec_free(sp);
	free(errors);
	free(warnings);
}

static void
bad_resource_values_are_refused(void **state)
{
	(void)state;
	refused(TREE("  { name = \"w\"; command = [\"/bin/true\"];\n"
	    "    memory_max = \"12Q\";\n"
	    "    cpu_weight = 0;\n"
	    "    cpu_max = \"150\";\n"
	    "    memory_high = -1;\n"
	    "    pids_max = \"lots\";\n"
	    "    io_weight = 10001;\n"
	    "    memory_swap_max = \"99999999999999999999\"; }"),
	    "F:4: root/w: memory_max: \"12Q\" is not a size (bytes, or a number with K, M, G or T, or \"max\")\n"
	    "F:7: root/w: memory_high: expected a size (bytes, or a string such as \"64M\" or \"max\"), got a negative integer\n"
	    "F:10: root/w: memory_swap_max: \"99999999999999999999\" is not a size (bytes, or a number with K, M, G or T, or \"max\")\n"
	    "F:8: root/w: pids_max: expected an integer or \"max\", got a string\n"
	    "F:6: root/w: cpu_max: \"150\" is neither a share of one CPU (\"50%\", 1-100000%) nor \"QUOTA_US PERIOD_US\" (quota at least 1000, period 1000-1000000) nor \"max\"\n"
	    "F:5: root/w: cpu_weight: 0 is out of range [1, 10000]\n"
	    "F:9: root/w: io_weight: 10001 is out of range [1, 10000]");
	refused("daemon = { cgroup = \"sys/fs/cgroup\"; };\n"
	    TREE("  { name = \"w\"; command = [\"/bin/true\"]; }"),
	    "F:1: daemon: cgroup: \"sys/fs/cgroup\" is not \"auto\", \"off\" or the absolute path of a cgroup v2 directory");
	refused("tree = { name = \"arbord\"; strategy = \"one_for_one\"; children = (\n"
	    "  { name = \"w\"; command = [\"/bin/true\"]; }\n); };\n",
	    "F:1: arbord: the root cannot be named \"arbord\": that is the name of arbord's own cgroup beside the tree");
	refused("tree = { name = \"helpers\"; strategy = \"one_for_one\"; children = (\n"
	    "  { name = \"w\"; command = [\"/bin/true\"]; }\n); };\n",
	    "F:1: helpers: the root cannot be named \"helpers\": that is the name of the helper processes' cgroup beside the tree");
}

/*
 * Names made from a key's value must fit where they go: the notify
 * socket beside the control socket, the event log's rotated files.
 */
static void
derived_names_fit(void **state)
{
	char text[1024], expected[1024], sock[128], name[300];

	(void)state;
	memset(sock, 'a', sizeof(sock));
	sock[0] = '/';
	sock[101] = '\0';	/* 101 bytes: 108 with ".notify" */
	snprintf(text, sizeof(text), "daemon = { socket = \"%s\"; };\n" TREE(""),
	    sock);
	snprintf(expected, sizeof(expected), "F:1: daemon: socket: the path is 101 bytes, longer than 100: it and its notify socket (\"%s.notify\") must fit in a socket address (107 bytes)",
	    sock);
	refused(text, expected);
	memset(name, 'e', sizeof(name));
	name[0] = '/';
	name[241] = '\0';	/* a name of 240 bytes */
	snprintf(text, sizeof(text), "observability = { event_log = \"%s\"; };\n" TREE(""),
	    name);
	snprintf(expected, sizeof(expected), "F:1: observability: event_log: \"%s\" is not a file name, or too long for its rotated files (\"%s.1000.gz.tmp\"): a name of at most 239 bytes in a path of at most 2031",
	    name, name + 1);
	refused(text, expected);
	refused("observability = { event_log = \"/var/log/\"; };\n" TREE(""),
	    "F:1: observability: event_log: \"/var/log/\" is not a file name, or too long for its rotated files (\".1000.gz.tmp\"): a name of at most 239 bytes in a path of at most 2031");
}

/* A reload's settings: each changed key once, with both values. */
static void
settings_changed_lists_each_key(void **state)
{
	char *errors, *warnings;
	struct spec *a, *b;
	struct spec_setting *v;
	size_t n;

	(void)state;
	a = load("daemon = { log_dir = \"\"; log_keep = 2; };\n" TREE(""),
	    &errors, &warnings);
	free(errors);
	free(warnings);
	b = load("daemon = { log_dir = \"\"; log_keep = 3; log_echo = \"off\"; };\n"
	    "observability = { bpf = \"off\"; };\n" TREE(""), &errors, &warnings);
	free(errors);
	free(warnings);
	assert_non_null(a);
	assert_non_null(b);
	v = spec_settings_changed(a, b, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].key, "daemon.log_keep");
	assert_string_equal(v[0].from, "2");
	assert_string_equal(v[0].to, "3");
	assert_false(v[0].restart);
	assert_string_equal(v[1].key, "daemon.log_echo");
	assert_string_equal(v[1].from, "\"auto\"");
	assert_string_equal(v[1].to, "\"off\"");
	assert_string_equal(v[2].key, "observability.bpf");
	assert_true(v[2].restart);
	spec_settings_free(v, n);
	v = spec_settings_changed(a, a, &n);
	assert_int_equal(n, 0);
	spec_settings_free(v, n);
	spec_free(a);
	spec_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syntax_error_names_the_line),
		cmocka_unit_test(output_keys_defaults_and_errors),
		cmocka_unit_test(health_keys_defaults_and_errors),
		cmocka_unit_test(socket_keys_defaults_and_errors),
		cmocka_unit_test(unreadable_file),
		cmocka_unit_test(fifo_and_directory_are_refused_without_blocking),
		cmocka_unit_test(include_is_refused_with_its_line),
		cmocka_unit_test(tree_deeper_than_the_limit_is_refused),
		cmocka_unit_test(tree_is_required_and_a_supervisor),
		cmocka_unit_test(unknown_keys_everywhere),
		cmocka_unit_test(wrong_types),
		cmocka_unit_test(names_required_valid_and_unique),
		cmocka_unit_test(commands_must_be_absolute_and_non_empty),
		cmocka_unit_test(missing_executable_is_only_a_warning),
		cmocka_unit_test(user_and_group_are_resolved_at_load),
		cmocka_unit_test(impossible_values),
		cmocka_unit_test(simple_one_for_one_rules),
		cmocka_unit_test(significant_rules),
		cmocka_unit_test(daemon_and_observability_values),
		cmocka_unit_test(socket_groups_by_name_or_gid),
		cmocka_unit_test(every_problem_is_listed),
		cmocka_unit_test(every_key_is_read),
		cmocka_unit_test(defaults_match_the_spec),
		cmocka_unit_test(resource_keys_are_read),
		cmocka_unit_test(bad_resource_values_are_refused),
		cmocka_unit_test(derived_names_fit),
		cmocka_unit_test(settings_changed_lists_each_key),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
