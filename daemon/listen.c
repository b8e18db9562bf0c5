/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

/* The backlog, and how long a connection may say nothing before it is
 * accepted anyway (TCP_DEFER_ACCEPT; exporters/http.c serves it). */
#define LISTEN_BACKLOG 1024
#define LISTEN_DEFER_S 5

int
tcp_listen(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	    .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *colon = strrchr(spec, ':'), *host0 = spec;
	int one = 1, defer = LISTEN_DEFER_S, fd, rc;
	char host[256], port[16];
	size_t hl;

	if (!colon || colon == spec) {
		snprintf(err, errlen, "not HOST:PORT: %s", spec);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && colon[-1] == ']') {
		host0++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "host too long");
		return -1;
	}
	memcpy(host, host0, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec,
		    strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	/*
	 * A connection is accepted once its first bytes are in (or after
	 * LISTEN_DEFER_S): one that says nothing waits in the kernel, never
	 * in a slot of the helper's. Without it (an old kernel) all still
	 * works.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer,
	    sizeof(defer));
	return fd;
}
