/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core's side of tcp and http checks (netcheck.h). The checks under
 * way are kept by their slot (the high half of an id, dense: health.c's
 * slot of the worker), each with its request as it went to the helper, so
 * that a new helper gets them all again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../helpers/common/hmsg.h"
#include "log.h"
#include "netcheck.h"
#include "util.h"

struct pending {
	bool live;
	bool disturbed;		/* its helper died, or it never reached one */
	struct hmsg_check_begin req;
};

struct netcheck {
	struct helper *h;
	int res_fd;
	struct pending *p;	/* by slot */
	size_t np;
	struct { struct nc_result *v; size_t len, cap; } res, given;
};

static struct pending *
pending_of(const struct netcheck *nc, uint64_t id)
{
	size_t slot = (size_t)(id >> 32);

	if (slot >= nc->np || !nc->p[slot].live || nc->p[slot].req.id != id)
		return NULL;
	return &nc->p[slot];
}

static void
send_req(struct netcheck *nc, struct pending *p)
{
	if (helper_send(nc->h, &p->req, sizeof(p->req)) < 0)
		p->disturbed = true;
}

void
netcheck_begin(struct netcheck *nc, uint64_t id, const struct spec_health *sh)
{
	size_t slot = (size_t)(id >> 32);
	struct pending *p;

	if (slot >= nc->np) {
		size_t n = slot + 64;

		nc->p = xreallocarray(nc->p, n, sizeof(*nc->p));
		memset(nc->p + nc->np, 0, (n - nc->np) * sizeof(*nc->p));
		nc->np = n;
	}
	p = &nc->p[slot];
	p->live = true;
	p->disturbed = false;
	hmsg_init(&p->req, HMSG_CHECK_BEGIN, sizeof(p->req));
	p->req.id = id;
	p->req.kind = sh->kind;
	p->req.timeout_ms = sh->timeout_ms;
	p->req.family = sh->family;
	p->req.port = sh->port;
	p->req.localhost = sh->localhost;
	snprintf(p->req.ip, sizeof(p->req.ip), "%s", sh->ip);
	snprintf(p->req.target, sizeof(p->req.target), "%s", sh->target);
	send_req(nc, p);
}

void
netcheck_cancel(struct netcheck *nc, uint64_t id)
{
	struct pending *p = pending_of(nc, id);
	struct hmsg_check_cancel m;

	if (!p)
		return;
	p->live = false;
	hmsg_init(&m, HMSG_CHECK_CANCEL, sizeof(m));
	m.id = id;
	(void)helper_send(nc->h, &m, sizeof(m));
}

void
netcheck_flush(struct netcheck *nc)
{
	(void)nc;
}

bool
netcheck_disturbed(const struct netcheck *nc, uint64_t id)
{
	const struct pending *p = pending_of(nc, id);

	/* A helper that is silent now may be hung: its missing result is
	 * no more the worker's fault than a dead helper's. */
	return p && (p->disturbed || helper_silent(nc->h));
}

int
netcheck_fd(const struct netcheck *nc)
{
	return nc->res_fd;
}

size_t
netcheck_take(struct netcheck *nc, struct nc_result **v)
{
	__typeof__(nc->res) t = nc->res;

	nc->res = nc->given;
	nc->given = t;
	nc->res.len = 0;
	*v = nc->given.v;
	return nc->given.len;
}

/* ---- the helper's records ---- */

static int
on_msg(void *ctx, const void *rec, size_t len, char *why, size_t whylen)
{
	struct netcheck *nc = ctx;
	const struct hmsg_check_result *m = rec;
	struct pending *p;
	struct nc_result *r;
	uint64_t one = 1;

	if (((const struct hmsg_hdr *)rec)->type != HMSG_CHECK_RESULT) {
		snprintf(why, whylen, "a record of type %u, which the checks helper never sends",
		    ((const struct hmsg_hdr *)rec)->type);
		return -1;
	}
	(void)len;
	/* One cancelled since, or for no check at all: nothing to judge. */
	if (!(p = pending_of(nc, m->id)))
		return 0;
	p->live = false;
	if (nc->res.len == nc->res.cap) {
		nc->res.cap = nc->res.cap ? nc->res.cap * 2 : 64;
		nc->res.v = xreallocarray(nc->res.v, nc->res.cap,
		    sizeof(*nc->res.v));
	}
	r = &nc->res.v[nc->res.len++];
	r->id = m->id;
	r->ok = m->ok;
	r->err = m->err;
	snprintf(r->detail, sizeof(r->detail), "%s", m->detail);
	(void)!write(nc->res_fd, &one, sizeof(one));
	return 0;
}

/* A new helper: every check under way goes to it. */
static void
on_up(void *ctx)
{
	struct netcheck *nc = ctx;

	for (size_t i = 0; i < nc->np; i++)
		if (nc->p[i].live)
			send_req(nc, &nc->p[i]);
}

static void
on_down(void *ctx)
{
	struct netcheck *nc = ctx;

	for (size_t i = 0; i < nc->np; i++)
		if (nc->p[i].live)
			nc->p[i].disturbed = true;
}

struct netcheck *
netcheck_start(struct helpers *hs)
{
	struct netcheck *nc = xcalloc(1, sizeof(*nc));
	const struct helper_client cl = { .on_msg = on_msg, .on_up = on_up,
	    .on_down = on_down, .ctx = nc };

	if ((nc->res_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		fatal("health checks: eventfd: %s", strerror(errno));
	nc->h = helpers_get(hs, HELPER_CHECKS);
	helper_attach(nc->h, &cl);
	helper_need(nc->h);
	return nc;
}

void
netcheck_stop(struct netcheck *nc)
{
	static const struct helper_client none;

	if (!nc)
		return;
	helper_attach(nc->h, &none);
	close(nc->res_fd);
	free(nc->p);
	free(nc->res.v);
	free(nc->given.v);
	free(nc);
}
