/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backlog.h"
#include "../daemon/util.h"

#define TCP_LISTEN_STATE 10	/* the kernel's TCP_LISTEN */

struct backlog {
	const struct obs_sockets *shared;
	uint64_t seq;		/* of the copy; 0: none yet */
	uint32_t n;
	struct obs_socket *v;	/* the copy */
	int64_t *depth;
	int nl;			/* NETLINK_SOCK_DIAG; -1: not yet */
};

struct backlog *
backlog_new(const struct obs_sockets *shared)
{
	struct backlog *b = xcalloc(1, sizeof(*b));

	b->shared = shared;
	b->nl = -1;
	b->v = xcalloc(OBS_SOCKETS_MAX, sizeof(*b->v));
	b->depth = xcalloc(OBS_SOCKETS_MAX, sizeof(*b->depth));
	return b;
}

void
backlog_free(struct backlog *b)
{
	if (!b)
		return;
	if (b->nl >= 0)
		close(b->nl);
	free(b->v);
	free(b->depth);
	free(b);
}

/*
 * The core's table, copied when it changed: a copy made while the core
 * wrote (the count odd, or moved meanwhile) is taken again. The core is
 * trusted no further than that: strings are cut to their arrays.
 */
static void
refresh(struct backlog *b)
{
	const struct obs_sockets *t = b->shared;

	if (!t)
		return;
	for (int tries = 0; tries < 4; tries++) {
		uint64_t s1 = atomic_load(&t->seq), s2;
		uint32_t n;

		if (s1 == b->seq && s1 != 0)
			return;
		if (s1 & 1)
			continue;
		n = t->n < OBS_SOCKETS_MAX ? t->n : OBS_SOCKETS_MAX;
		memcpy(b->v, t->v, n * sizeof(*b->v));
		s2 = atomic_load(&t->seq);
		if (s1 != s2)
			continue;
		for (uint32_t i = 0; i < n; i++) {
			b->v[i].owner[sizeof(b->v[i].owner) - 1] = '\0';
			b->v[i].name[sizeof(b->v[i].name) - 1] = '\0';
		}
		b->n = n;
		b->seq = s1;
		return;
	}
}

bool
backlog_has(struct backlog *b, const char *owner)
{
	refresh(b);
	for (uint32_t i = 0; i < b->n; i++)
		if (strcmp(b->v[i].owner, owner) == 0)
			return true;
	return false;
}

static void
found(struct backlog *b, uint64_t inode, uint64_t queue)
{
	for (uint32_t i = 0; i < b->n; i++)
		if (b->v[i].inode == inode)
			b->depth[i] = (int64_t)queue;
}

/* One dump request; its answers through found(). -1 on failure. */
static int
dump(struct backlog *b, void *req, size_t len, int family)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (sendto(b->nl, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	for (;;) {
		ssize_t r = recv(b->nl, buf, sizeof(buf), 0);
		int left;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		left = (int)r;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		    NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			if (family != AF_UNIX) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);

				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*m)))
					found(b, m->idiag_inode, m->idiag_rqueue);
				continue;
			}
			{
				struct unix_diag_msg *m = NLMSG_DATA(h);
				struct rtattr *a;
				int alen;

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
					continue;
				alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
				for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
				    a = RTA_NEXT(a, alen))
					if (a->rta_type == UNIX_DIAG_RQLEN &&
					    RTA_PAYLOAD(a) >= (int)sizeof(struct unix_diag_rqlen))
						found(b, m->udiag_ino,
						    ((struct unix_diag_rqlen *)
						    RTA_DATA(a))->udiag_rqueue);
			}
		}
	}
}

static int
dump_inet(struct backlog *b, int family)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} q = {
		.h = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = (uint8_t)family,
		    .sdiag_protocol = IPPROTO_TCP,
		    .idiag_states = 1U << TCP_LISTEN_STATE },
	};

	return dump(b, &q, sizeof(q), family);
}

static int
dump_unix(struct backlog *b)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} q = {
		.h = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX,
		    .udiag_states = 1U << TCP_LISTEN_STATE,
		    .udiag_show = UDIAG_SHOW_RQLEN },
	};

	return dump(b, &q, sizeof(q), AF_UNIX);
}

bool
backlog_sample(struct backlog *b,
    void (*fn)(void *, const char *, const char *, int64_t), void *arg)
{
	bool want[3] = { false, false, false }, ok = true;

	refresh(b);
	if (!b->n)
		return false;
	if (b->nl < 0 && (b->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0)
		return false;
	for (uint32_t i = 0; i < b->n; i++) {
		b->depth[i] = -1;
		want[b->v[i].family == AF_INET ? 0 :
		    b->v[i].family == AF_INET6 ? 1 : 2] = true;
	}
	if (want[0] && dump_inet(b, AF_INET) < 0)
		ok = false;
	if (want[1] && dump_inet(b, AF_INET6) < 0)
		ok = false;
	if (want[2] && dump_unix(b) < 0)
		ok = false;
	if (!ok) {
		/* Out of step with the kernel's answers: a fresh socket. */
		close(b->nl);
		b->nl = -1;
	}
	for (uint32_t i = 0; i < b->n; i++)
		fn(arg, b->v[i].owner, b->v[i].name, b->depth[i]);
	return true;
}
