/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The metrics listener, bound by the core (a port below 1024 needs root)
 * and passed to the observability helper (arbord(8), FAULT DOMAINS).
 */
#ifndef ARBOR_LISTEN_H
#define ARBOR_LISTEN_H

#include <stddef.h>

/* A non-blocking listening TCP socket on "HOST:PORT" ("[::1]:PORT" for
 * IPv6, numeric); -1 with err set. */
int tcp_listen(const char *listen, char *err, size_t errlen);

#endif
