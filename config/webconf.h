/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * observability.web_config: TLS and basic auth for the metrics and console
 * listener, in the file format of Prometheus' exporter-toolkit
 * (arbor.conf(5), OBSERVABILITY). The file and the certificate and key it
 * names are read whole when the configuration is loaded (start, --check,
 * reload), so a bad one is a config error there, never at a connection.
 */
#ifndef ARBOR_WEBCONF_H
#define ARBOR_WEBCONF_H

#include <stdbool.h>
#include <stddef.h>

struct web_user {
	char *name;
	char *hash;		/* bcrypt: "$2b$10$..." */
};

struct web_conf {
	char *file;		/* as arbor.conf names it */
	/* PEM, NUL-terminated; NULL: no TLS (plain HTTP). */
	char *cert, *key;
	char *priorities;	/* GnuTLS's, from min_version and max_version */
	struct web_user *users;	/* empty: no basic auth */
	size_t nusers;
	char digest[17];	/* of all of it, in hex: a reload tells a change */
};

/* A problem found, "FILE:LINE: KEY: message" (the line is the caller's). */
typedef void (*web_report_fn)(void *ctx, bool warn, char *line);

/*
 * Reads and checks file (absolute); NULL when there was an error, each
 * problem reported through report.
 */
struct web_conf *webconf_load(const char *file, web_report_fn report,
    void *ctx);
struct web_conf *webconf_dup(const struct web_conf *);
/* As passed to the observability helper (malloc'd, *len bytes). */
char *webconf_pack(const struct web_conf *, size_t *len);
/* NULL when b is not what webconf_pack made. */
struct web_conf *webconf_unpack(const char *b, size_t len);
/* Frees it, the key's bytes wiped first. */
void webconf_free(struct web_conf *);

#endif
