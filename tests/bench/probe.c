/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The benchmark's worker: appends "start NS" (CLOCK_MONOTONIC) to its log,
 * lives LIFE_MS, appends "exit NS" just before exiting 1. The log is
 * argv[1] unless that is a directory, else ./probe.log (supervisors that
 * run ./run give no argument, or the service directory).
 * If fd 3 is open it writes a newline there: s6's notification-fd. With
 * PROBE_LIFE_MS=0 it exits at once (the crash-loop benchmark).
 * PROBE_JITTER_MS=J adds to each life a whole number of milliseconds drawn
 * anew at each start, from 0 to J: systems restarting probes at once
 * (restart.py's paired steps) then meet each other at a new phase at every
 * restart, instead of at one phase that drifts only a little in a run.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
stamp(int fd, const char *what)
{
	struct timespec ts;
	char line[64];
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%s %lld\n", what,
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	if (write(fd, line, (size_t)n) != n)
		_exit(2);
}

int
main(int argc, char **argv)
{
	const char *life = getenv("PROBE_LIFE_MS");
	const char *jitter = getenv("PROBE_JITTER_MS");
	long ms = life ? atol(life) : 1200, most = jitter ? atol(jitter) : 0;
	/* Before opening anything, or the log itself would be fd 3. */
	bool notify = fcntl(3, F_GETFD) >= 0;
	struct stat st;
	/* s6-supervise gives ./run its service directory: log in the cwd. */
	const char *log = argc > 1 && !(stat(argv[1], &st) == 0 &&
	    S_ISDIR(st.st_mode)) ? argv[1] : "probe.log";
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct timespec d;

	if (fd < 0)
		return 2;
	stamp(fd, "start");
	if (most > 0 && ms > 0) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		srandom((unsigned)now.tv_nsec ^ (unsigned)getpid());
		ms += random() % (most + 1);
	}
	d.tv_sec = ms / 1000;
	d.tv_nsec = (ms % 1000) * 1000000L;
	if (notify)
		(void)!write(3, "\n", 1);
	if (ms > 0)
		nanosleep(&d, NULL);
	stamp(fd, "exit");
	return 1;
}
