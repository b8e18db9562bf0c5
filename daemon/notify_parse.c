/* SPDX-License-Identifier: BSD-2-Clause */
/* The sd_notify message parser: pure, so it is unit-tested on its own. */
#include <string.h>

#include "notify.h"
#include "util.h"

static bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
key_is(const char *line, size_t keylen, const char *key)
{
	return keylen == strlen(key) && memcmp(line, key, keylen) == 0;
}

int
notify_parse(const char *buf, size_t len, struct notify_msg *m,
    const char **why)
{
	size_t pos = 0;

	memset(m, 0, sizeof(*m));
	if (memchr(buf, '\0', len)) {
		*why = "NUL byte in the message";
		return -1;
	}
	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		const char *eq = memchr(line, '=', llen);
		const char *val;
		size_t klen, vlen;

		pos += llen + 1;
		if (llen == 0)
			continue;
		if (!eq || eq == line) {
			*why = "a line is not KEY=VALUE";
			return -1;
		}
		klen = (size_t)(eq - line);
		val = eq + 1;
		vlen = llen - klen - 1;
		if (key_is(line, klen, "READY"))
			m->ready = vlen == 1 && val[0] == '1';
		else if (key_is(line, klen, "STOPPING"))
			m->stopping = vlen == 1 && val[0] == '1';
		else if (key_is(line, klen, "WATCHDOG")) {
			if (vlen == 1 && val[0] == '1')
				m->watchdog = true;
			else if (vlen == 7 && memcmp(val, "trigger", 7) == 0)
				m->watchdog_trigger = true;
		} else if (key_is(line, klen, "STATUS")) {
			size_t n = vlen < NOTIFY_MAX_STATUS - 1 ? vlen
			    : NOTIFY_MAX_STATUS - 1;

			/* Cut at a character boundary, and make the text
			 * UTF-8: it goes into status and events as JSON. */
			if (n < vlen)
				while (n > 0 && ((unsigned char)val[n] & 0xc0) == 0x80)
					n--;
			memcpy(m->status, val, n);
			m->status[n] = '\0';
			utf8_scrub(m->status);
			m->has_status = true;
		} else if (key_is(line, klen, "EXTEND_TIMEOUT_USEC")) {
			if (!parse_u64(val, vlen, &m->extend_usec)) {
				*why = "EXTEND_TIMEOUT_USEC is not a number";
				return -1;
			}
			m->has_extend = true;
		} else if (key_is(line, klen, "FDSTORE"))
			m->fdstore = vlen == 1 && val[0] == '1';
		else if (key_is(line, klen, "FDSTOREREMOVE"))
			m->fdstore_remove = vlen == 1 && val[0] == '1';
		else if (key_is(line, klen, "FDPOLL"))
			m->fdpoll_off = vlen == 1 && val[0] == '0';
		else if (key_is(line, klen, "FDNAME")) {
			/* systemd's rule: 1-255 printable characters, no ':'
			 * (LISTEN_FDNAMES separates names with it). */
			if (vlen == 0 || vlen >= sizeof(m->fdname)) {
				*why = "FDNAME must be 1-255 characters";
				return -1;
			}
			for (size_t i = 0; i < vlen; i++)
				if ((unsigned char)val[i] < ' ' ||
				    (unsigned char)val[i] >= 0x7f || val[i] == ':') {
					*why = "FDNAME holds a ':' or a character that is not printable ASCII";
					return -1;
				}
			memcpy(m->fdname, val, vlen);
			m->fdname[vlen] = '\0';
			m->has_fdname = true;
		}
	}
	if (!m->has_fdname)
		strcpy(m->fdname, "stored");
	return 0;
}

