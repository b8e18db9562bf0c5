/* SPDX-License-Identifier: BSD-2-Clause */
/* arbord: options, configuration, then the core loop (arbord(8)). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/config.h"
#include "log.h"
#include "health.h"
#include "loop.h"
#include "util.h"

#ifndef ARBOR_VERSION
#define ARBOR_VERSION "0.1.0"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: arbord -c FILE [--check] [--no-bpf] [--log-format text|json]\n"
	    "              [-s SOCKET]\n"
	    "       arbord --version | --help\n"
	    "\n"
	    "  -c, --config FILE     the configuration file (required)\n"
	    "      --check           validate FILE, print its tree, exit 0 or 1\n"
	    "      --no-bpf          observability without eBPF\n"
	    "      --log-format F    text (default) or json, on stderr\n"
	    "  -s, --socket PATH     control socket (overrides the config)\n"
	    "      --version         print the version\n"
	    "      --help            print this help\n");
}

/*
 * Started with any of fds 0-2 closed (some init scripts do), the first
 * files arbord opens would take their places: its log would go into a
 * timerfd and workers would inherit it as their stdio. /dev/null holds
 * them, before anything else is opened.
 */
static void
hold_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/*
 * The command line into o; -1 to go on, or the code to exit with at once
 * (--help, --version, a usage error).
 */
static int
parse_args(int argc, char **argv, struct loop_options *o,
    const char **socket_opt, bool *check)
{
	enum { OPT_CHECK = 256, OPT_NO_BPF, OPT_LOG_FORMAT, OPT_VERSION,
	    OPT_HELP };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "no-bpf", no_argument, NULL, OPT_NO_BPF },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:s:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_file = optarg;
			break;
		case 's':
			*socket_opt = optarg;
			break;
		case OPT_CHECK:
			*check = true;
			break;
		case OPT_NO_BPF:
			o->no_bpf = true;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				o->log_format = LOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->log_format = LOG_JSON;
			else {
				fprintf(stderr, "arbord: --log-format: expected text or json, got \"%s\"\n",
				    optarg);
				return 1;
			}
			break;
		case OPT_VERSION:
			printf("arbord %s\n", ARBOR_VERSION);
			return 0;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "arbord: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}
	if (!o->config_file) {
		fprintf(stderr, "arbord: -c FILE is required\n");
		usage(stderr);
		return 1;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct loop_options o = { .log_format = LOG_TEXT };
	const char *socket_opt = NULL;
	struct config_diag diag;
	struct spec *spec;
	bool check = false;
	char *socket_path;
	int code;

	hold_stdio();
	if ((code = parse_args(argc, argv, &o, &socket_opt, &check)) >= 0)
		return code;
	spec = config_load(o.config_file, &diag);
	for (size_t i = 0; i < diag.nerrors; i++)
		fprintf(stderr, "%s\n", diag.errors[i]);
	for (size_t i = 0; i < diag.nwarnings; i++)
		fprintf(stderr, "%s\n", diag.warnings[i]);
	if (!spec) {
		fprintf(stderr, "arbord: %s: %zu error%s; nothing was started\n",
		    o.config_file, diag.nerrors, diag.nerrors == 1 ? "" : "s");
		config_diag_free(&diag);
		return 1;
	}
	config_diag_free(&diag);
	if (check) {
		config_print_tree(stdout, spec);
		config_print_access(stdout, spec);
		spec_free(spec);
		return 0;
	}

	if (socket_opt)
		socket_path = xstrdup(socket_opt);
	else if (spec->socket)
		socket_path = xstrdup(spec->socket);
	else
		socket_path = default_socket_path();
	o.socket_path = socket_path;
	log_init(o.log_format);
	code = loop_run(&spec, &o);
	log_close();
	spec_free(spec);
	free(socket_path);
	return code;
}
