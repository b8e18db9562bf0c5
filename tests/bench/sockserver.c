/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sockets benchmark's server (tests/bench/sockets.py): a TCP server
 * that answers each connection with a line and crashes (a write through
 * a null pointer) CRASH_AFTER_MS after it starts serving, between two
 * connections. It takes its socket from LISTEN_FDS when arbord passes
 * one, else binds 127.0.0.1:PORT itself (argv[2]). Appends to its log
 * (argv[1]) "start NS" first thing, "listening NS" once it accepts and
 * "crash NS" just before the fault (CLOCK_MONOTONIC).
 */
#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
stamp(int fd, const char *what)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %lld\n", what, now_ns());

	if (write(fd, line, (size_t)n) != n)
		_exit(2);
}

int
main(int argc, char **argv)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *after = getenv("CRASH_AFTER_MS");
	long long crash_at;
	int log, s, one = 1;

	if (argc < 3)
		return 2;
	if ((log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) < 0)
		return 2;
	stamp(log, "start");
	if (pid && fds && atol(pid) == (long)getpid() && atoi(fds) >= 1)
		s = 3;
	else {
		struct sockaddr_in sa = { .sin_family = AF_INET,
		    .sin_port = htons((unsigned short)atoi(argv[2])),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) < 0 ||
		    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(s, 4096) < 0)
			return 3;
	}
	stamp(log, "listening");
	crash_at = now_ns() + (after ? atol(after) : 200) * 1000000LL;
	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		long long left = crash_at - now_ns();
		int c;

		if (left <= 0) {
			stamp(log, "crash");
			*(volatile int *)(uintptr_t)0 = 1;
		}
		if (poll(&p, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		if ((c = accept4(s, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		(void)!write(c, "pong\n", 5);
		close(c);
	}
}
