/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ARBOR_CONTROL_H
#define ARBOR_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "engine.h"
#include "obswatch.h"
#include "reactor.h"

struct control;
struct jw;

/* What the control socket asks of arbord beyond the engine. */
struct control_ops {
	/* As loop.c's reload: 0, or -1 with *errors (a JSON array). */
	int (*reload)(void *ctx, const char *why, json_t **errors,
	    json_t **summary);
	void (*shutdown)(void *ctx, const char *why);
	/*
	 * Adds the runtime's own fields to a node of status (containment,
	 * cgroup, limits); true when the observability thread should add
	 * the cgroup figures. NULL: none.
	 */
	bool (*node_status)(void *ctx, const struct enode *, struct jw *node);
	/*
	 * `logs`: takes fd (the client) and replies on it, or returns -1
	 * with *why (the client stays the caller's). NULL: not served.
	 */
	int (*logs)(void *ctx, struct enode *, int fd, unsigned lines,
	    bool follow, const char **why);
	/* `pause` (on) and `resume`: 0, or -1 with why. NULL: not served. */
	int (*pause)(void *ctx, struct enode *, bool on, char *why, size_t len);
	/* `stop` of n has been ordered: what n and those below hold for
	 * their next start (fd stores) goes. NULL: nothing. */
	void (*stopped)(void *ctx, struct enode *);
	/* Adds the runtime's fields to `daemon` (its helpers). NULL: none. */
	void (*daemon_status)(void *ctx, json_t *d);
	void *ctx;
};

/*
 * Who may use the socket besides root and arbord's own user (arbor.conf(5),
 * daemon.socket_group and read_group): members of control_gid run every
 * command, members of read_gid only those that read. CONTROL_NO_GROUP (and
 * a NULL name) where a key is not given.
 */
#define CONTROL_NO_GROUP ((gid_t)-1)
struct control_access {
	gid_t control_gid, read_gid;
	const char *control_name, *read_name;	/* as the config writes them */
};

/*
 * Listens on path, its mode and group as access says (NULL: none, mode
 * 0600); NULL with err set when it cannot.
 */
struct control *control_open(struct reactor *, struct engine *,
    struct obswatch *, const struct control_ops *,
    const struct control_access *, const char *path, char *err,
    size_t errlen);
/*
 * New groups (a reload): clients that connect from now on are judged by
 * them, those connected keep their access; then the socket file's mode
 * and group follow. -1 with err when the file could not be changed (the
 * new groups decide all the same).
 */
int control_set_access(struct control *, const struct control_access *,
    char *err, size_t errlen);
/* Closes every client and removes the socket file. */
void control_close(struct control *);

struct client;
/*
 * A new client on a connected fd (what accept gives), allowed every
 * command: the caller has judged its peer. NULL on failure.
 */
struct client *control_adopt(struct control *, int fd);
/* Serves bytes as if read from the client; false once it was closed. */
bool control_input(struct client *, const char *buf, size_t len);
/* Closes a client as if it had hung up. */
void control_drop(struct client *);

#endif
