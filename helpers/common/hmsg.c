/* SPDX-License-Identifier: BSD-2-Clause */
/* The records between the core and its helpers (hmsg.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hmsg.h"

/* Per type: its exact size, and who may send it. */
static const struct {
	size_t len;
	bool from_helper;
} types[HMSG_NTYPES] = {
	[HMSG_CHECK_BEGIN] = { sizeof(struct hmsg_check_begin), false },
	[HMSG_CHECK_CANCEL] = { sizeof(struct hmsg_check_cancel), false },
	[HMSG_CHECK_RESULT] = { sizeof(struct hmsg_check_result), true },
	[HMSG_OUT_CONF] = { sizeof(struct hmsg_out_conf), false },
	[HMSG_OUT_ADD] = { sizeof(struct hmsg_out_add), false },
	[HMSG_OUT_SPAWNED] = { sizeof(struct hmsg_out_pid), false },
	[HMSG_OUT_EXITED] = { sizeof(struct hmsg_out_exited), false },
	[HMSG_OUT_REMOVE] = { sizeof(struct hmsg_out_pid), false },
	[HMSG_OUT_LOGS] = { sizeof(struct hmsg_out_logs), false },
	[HMSG_OUT_STOP] = { sizeof(struct hmsg_out_stop), false },
	[HMSG_OUT_NOTE] = { sizeof(struct hmsg_out_note), true },
	[HMSG_OBS_CONF] = { sizeof(struct hmsg_obs_conf), false },
	[HMSG_OBS_PROBES] = { sizeof(struct hmsg_obs_probes), false },
	[HMSG_OBS_WEB] = { sizeof(struct hmsg_obs_web), false },
	[HMSG_OBS_CLIENT] = { sizeof(struct hmsg_obs_client), false },
	[HMSG_OBS_NOTE] = { sizeof(struct hmsg_obs_note), false },
	[HMSG_OBS_EVLOG] = { sizeof(struct hmsg_obs_evlog), false },
	[HMSG_OBS_CONN] = { sizeof(struct hmsg_obs_conn), false },
	[HMSG_OBS_DIAL] = { sizeof(struct hmsg_obs_dial), true },
	[HMSG_OBS_EVLOG_ASK] = { sizeof(struct hmsg_obs_evlog_ask), true },
	[HMSG_OBS_DONE] = { sizeof(struct hmsg_obs_done), true },
	[HMSG_OBS_LISTEN] = { sizeof(struct hmsg_obs_listen), false },
};

void
hmsg_init(void *rec, enum hmsg_type t, size_t len)
{
	struct hmsg_hdr *h = rec;

	memset(rec, 0, len);
	h->type = t;
	h->len = (uint32_t)len;
}

static bool
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static int
check(const void *rec, size_t len, bool from_helper, char *why, size_t whylen)
{
	struct hmsg_hdr h;

	if (len < sizeof(h)) {
		snprintf(why, whylen, "a record of %zu bytes, shorter than a header",
		    len);
		return -1;
	}
	memcpy(&h, rec, sizeof(h));
	if (h.type == 0 || h.type >= HMSG_NTYPES ||
	    types[h.type].from_helper != from_helper) {
		snprintf(why, whylen, "a record of type %u, which %s never sends",
		    h.type, from_helper ? "a helper" : "the core");
		return -1;
	}
	if (h.len != len || len != types[h.type].len) {
		snprintf(why, whylen, "a record of type %u of %zu bytes (header says %u, the type has %zu)",
		    h.type, len, h.len, types[h.type].len);
		return -1;
	}
	switch (h.type) {
	case HMSG_CHECK_RESULT: {
		const struct hmsg_check_result *r = rec;

		if (r->ok > 1 || r->err < 0 || r->err > 4095 ||
		    !terminated(r->detail, sizeof(r->detail))) {
			snprintf(why, whylen, "a check result with a bad field");
			return -1;
		}
		break;
	}
	case HMSG_CHECK_BEGIN: {
		const struct hmsg_check_begin *b = rec;

		if (!terminated(b->ip, sizeof(b->ip)) ||
		    !terminated(b->target, sizeof(b->target))) {
			snprintf(why, whylen, "a check request with a bad field");
			return -1;
		}
		break;
	}
	case HMSG_OUT_NOTE: {
		const struct hmsg_out_note *o = rec;

		if (o->src >= HMSG_OUT_SRC_MAX || o->exited > 1 ||
		    o->has_tail > 1 || o->pid < 0 ||
		    !terminated(o->tail, sizeof(o->tail))) {
			snprintf(why, whylen, "an output note with a bad field");
			return -1;
		}
		break;
	}
	case HMSG_OUT_CONF: {
		const struct hmsg_out_conf *o = rec;

		if (!terminated(o->dir, sizeof(o->dir)) || o->journal > 1 ||
		    o->echo > 1 || o->has_dir > 1) {
			snprintf(why, whylen, "an output configuration with a bad field");
			return -1;
		}
		break;
	}
	case HMSG_OUT_ADD: {
		const struct hmsg_out_add *o = rec;

		if (o->src >= HMSG_OUT_SRC_MAX || o->has[0] > 1 ||
		    o->has[1] > 1 || !terminated(o->path, sizeof(o->path)) ||
		    !terminated(o->name, sizeof(o->name))) {
			snprintf(why, whylen, "an output source with a bad field");
			return -1;
		}
		break;
	}
	case HMSG_OUT_SPAWNED:
	case HMSG_OUT_REMOVE:
	case HMSG_OUT_EXITED:
	case HMSG_OUT_LOGS: {
		uint32_t src;

		memcpy(&src, (const char *)rec + sizeof(struct hmsg_hdr),
		    sizeof(src));
		if (src >= HMSG_OUT_SRC_MAX) {
			snprintf(why, whylen, "an output record with a bad source");
			return -1;
		}
		break;
	}
	case HMSG_OBS_EVLOG_ASK:
		if (((const struct hmsg_obs_evlog_ask *)rec)->full > 1) {
			snprintf(why, whylen, "an event log request with a bad field");
			return -1;
		}
		break;
	case HMSG_OBS_NOTE: {
		const struct hmsg_obs_note *o = rec;

		if (!terminated(o->path, sizeof(o->path)) ||
		    !terminated(o->tail, sizeof(o->tail))) {
			snprintf(why, whylen, "an observability note with a bad field");
			return -1;
		}
		break;
	}
	default:
		break;
	}
	return 0;
}

int
hmsg_check_from_helper(const void *rec, size_t len, char *why, size_t whylen)
{
	return check(rec, len, true, why, whylen);
}

int
hmsg_check_from_core(const void *rec, size_t len, char *why, size_t whylen)
{
	return check(rec, len, false, why, whylen);
}

ssize_t
hmsg_recv_fds(int fd, void *buf, size_t cap, int *fds, int *nfds)
{
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(HMSG_FDS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		    i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (*nfds < HMSG_FDS_MAX)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n > cap) {
		while (*nfds > 0)
			close(fds[--*nfds]);
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

ssize_t
hmsg_recv(int fd, void *buf, size_t cap)
{
	int fds[HMSG_FDS_MAX], nfds;
	ssize_t n = hmsg_recv_fds(fd, buf, cap, fds, &nfds);

	/* Descriptors where none may come: closed, the record refused. */
	if (n >= 0 && nfds > 0) {
		while (nfds > 0)
			close(fds[--nfds]);
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

int
hmsg_send_fds(int fd, const void *rec, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(HMSG_FDS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)rec,
	    .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds <= 0)
		return hmsg_send(fd, rec, len);
	if (nfds > HMSG_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&ctl, 0, sizeof(ctl));
	m.msg_control = &ctl;
	m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	ctl.c.cmsg_level = SOL_SOCKET;
	ctl.c.cmsg_type = SCM_RIGHTS;
	ctl.c.cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(&ctl.c), fds, (size_t)nfds * sizeof(int));
	n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return -1;
	return (size_t)n == len ? 0 : (errno = EMSGSIZE, -1);
}

int
hmsg_send(int fd, const void *rec, size_t len)
{
	ssize_t n = send(fd, rec, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return -1;
	return (size_t)n == len ? 0 : (errno = EMSGSIZE, -1);
}
