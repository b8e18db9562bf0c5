/* SPDX-License-Identifier: BSD-2-Clause */
/* A JSON text written straight into a buffer (jw.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "util.h"

static void
room(struct jw *w, size_t n)
{
	if (w->len + n + 1 <= w->cap)
		return;
	while (w->len + n + 1 > w->cap)
		w->cap = w->cap ? w->cap * 2 : 4096;
	w->p = xreallocarray(w->p, w->cap, 1);
}

void
jw_reserve(struct jw *w, size_t n)
{
	if (w->len + n + 1 > w->cap) {
		w->cap = w->len + n + 1;
		w->p = xreallocarray(w->p, w->cap, 1);
	}
}

void
jw_raw(struct jw *w, const char *s, size_t n)
{
	room(w, n);
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void
put(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* n bytes, the commonest write: inline, one check for room. */
static inline void
put_n(struct jw *w, const char *s, size_t n)
{
	if (w->len + n + 1 > w->cap)
		room(w, n);
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

/* How many of s's first bytes need no escape and no UTF-8 check: printable
 * ASCII but '"' and '\\' (keys, paths, states: nearly all of a status). */
static size_t
plain_span(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
		p++;
	return (size_t)(p - (const unsigned char *)s);
}

/* s, n bytes of plain_span's, with its quotes and then tail (0-2 bytes). */
static void
put_plain(struct jw *w, const char *s, size_t n, const char *tail,
    size_t tn)
{
	char *o;

	if (w->len + n + tn + 3 > w->cap)
		room(w, n + tn + 2);
	o = w->p + w->len;
	*o++ = '"';
	memcpy(o, s, n);
	o += n;
	*o++ = '"';
	memcpy(o, tail, tn);
	w->len += n + tn + 2;
	w->p[w->len] = '\0';
}

/* The escaped string with its quotes, as jansson writes it. */
static void
quoted(struct jw *w, const char *s)
{
	const char *run = s;
	char esc[8];

	put_n(w, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		put_n(w, run, (size_t)(s - run));
		run = s + 1;
		switch (ch) {
		case '"': put(w, "\\\""); break;
		case '\\': put(w, "\\\\"); break;
		case '\b': put(w, "\\b"); break;
		case '\f': put(w, "\\f"); break;
		case '\n': put(w, "\\n"); break;
		case '\r': put(w, "\\r"); break;
		case '\t': put(w, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", ch);
			put(w, esc);
		}
	}
	put_n(w, run, (size_t)(s - run));
	put_n(w, "\"", 1);
}

/* The separator before a value, and its key. */
static void
member(struct jw *w, const char *key)
{
	size_t n;

	if (w->comma)
		put_n(w, ",", 1);
	w->comma = true;
	if (!key)
		return;
	if (!key[n = plain_span(key)])
		put_plain(w, key, n, ":", 1);
	else {
		quoted(w, key);
		put_n(w, ":", 1);
	}
}

void
jw_obj(struct jw *w, const char *key)
{
	member(w, key);
	put_n(w, "{", 1);
	w->comma = false;
}

void
jw_arr(struct jw *w, const char *key)
{
	member(w, key);
	put_n(w, "[", 1);
	w->comma = false;
}

void
jw_end_obj(struct jw *w)
{
	put_n(w, "}", 1);
	w->comma = true;
}

void
jw_end_arr(struct jw *w)
{
	put_n(w, "]", 1);
	w->comma = true;
}

void
jw_str(struct jw *w, const char *key, const char *s)
{
	char *copy;
	size_t n;

	if (!s) {
		jw_null(w, key);
		return;
	}
	member(w, key);
	if (!s[n = plain_span(s)]) {
		put_plain(w, s, n, "", 0);
		return;
	}
	if (utf8_valid(s)) {
		quoted(w, s);
		return;
	}
	copy = xstrdup(s);
	utf8_scrub(copy);
	quoted(w, copy);
	free(copy);
}

size_t
jw_digits(char *buf, long long v)
{
	char tmp[24];
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;
	size_t n = 0, k = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		buf[k++] = '-';
	while (n > 0)
		buf[k++] = tmp[--n];
	return k;
}

void
jw_int(struct jw *w, const char *key, long long v)
{
	char buf[24];

	member(w, key);
	put_n(w, buf, jw_digits(buf, v));
}

/*
 * v as "%.15g" prints it, without printf, when v is n / 10^6 for a whole
 * n below 10^15 as the division rounds it (uptimes in milliseconds, CPU
 * time in microseconds, as seconds): %.15g of such a double is n's digits
 * exactly (half an ulp is far below the 15th digit), with the point put
 * in and the zeros after it dropped. Its length, or 0 when v is not so
 * (then printf's formatting is needed) or would take an exponent.
 */
static size_t
short_real(char *buf, double v)
{
	long long n;
	size_t len, point;
	char d[24];

	if ((!(v >= 1e-4 && v < 1e9) && v != 0) || signbit(v))
		return 0;
	n = (long long)(v * 1e6 + 0.5);
	if ((double)n / 1e6 != v)
		return 0;
	len = jw_digits(d, n);
	if (len <= 6) {		/* 0.000123: zeros before the digits */
		memmove(d + 7 - len, d, len);
		memset(d, '0', 7 - len);
		len = 7;
	}
	point = len - 6;
	memcpy(buf, d, point);
	buf[point] = '.';
	memcpy(buf + point + 1, d + point, 6);
	len = point + 7;
	while (buf[len - 1] == '0' && buf[len - 2] != '.')
		len--;
	return len;
}

/*
 * As jansson's JSON_REAL_PRECISION(15): "%.15g", ".0" on a whole one, and
 * an exponent without its '+' and leading zeros ("1e-7").
 */
void
jw_real(struct jw *w, const char *key, double v)
{
	char buf[40], *d;
	size_t n;

	member(w, key);
	if ((n = short_real(buf, v)) > 0) {
		put_n(w, buf, n);
		return;
	}
	snprintf(buf, sizeof(buf) - 2, "%.15g", v);
	if ((d = strchr(buf, 'e'))) {
		d++;
		if (*d == '+')
			memmove(d, d + 1, strlen(d));
		if (*d == '-')
			d++;
		while (*d == '0' && d[1])
			memmove(d, d + 1, strlen(d));
	} else if (!strpbrk(buf, ".n"))	/* n: nan, inf (never asked) */
		strcat(buf, ".0");
	put(w, buf);
}

void
jw_bool(struct jw *w, const char *key, bool v)
{
	member(w, key);
	put(w, v ? "true" : "false");
}

void
jw_null(struct jw *w, const char *key)
{
	member(w, key);
	put(w, "null");
}

const char *
jw_text(struct jw *w)
{
	room(w, 0);
	w->p[w->len] = '\0';
	return w->p;
}

void
jw_free(struct jw *w)
{
	free(w->p);
	*w = (struct jw){ 0 };
}

const char *
jw_skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	return NULL;
}

const char *
jw_skip_value(const char *p, const char *end)
{
	int depth = 0;

	if (p < end && *p != '{' && *p != '[' && *p != '"') {
		while (p < end && *p != ',' && *p != '}' && *p != ']')
			p++;
		return p < end ? p : NULL;
	}
	while (p < end) {
		if (*p == '"') {
			if (!(p = jw_skip_string(p, end)))
				return NULL;
		} else {
			if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']')
				depth--;
			p++;
		}
		if (depth == 0)
			return p;
	}
	return NULL;
}
