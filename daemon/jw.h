/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A JSON text written straight into a growing buffer, for replies too big
 * to build as a jansson tree first (the status of 10,000 workers). The
 * output is compact and matches jansson's JSON_COMPACT: no spaces, keys in
 * the order written, strings escaped as jansson escapes them, text that is
 * not UTF-8 scrubbed (utf8_scrub). Allocation failure is fatal (util.h).
 */
#ifndef ARBOR_JW_H
#define ARBOR_JW_H

#include <stdbool.h>
#include <stddef.h>

struct jw {
	char *p;
	size_t len, cap;
	bool comma;	/* a value was written at this level: the next needs ',' */
};

/* Each takes the member's key, or NULL for an array's element or the top. */
void jw_obj(struct jw *, const char *key);
void jw_arr(struct jw *, const char *key);
void jw_end_obj(struct jw *);
void jw_end_arr(struct jw *);
void jw_str(struct jw *, const char *key, const char *s);	/* NULL: null */
void jw_int(struct jw *, const char *key, long long);
void jw_real(struct jw *, const char *key, double);
void jw_bool(struct jw *, const char *key, bool);
void jw_null(struct jw *, const char *key);
/* Room for n more bytes, had at once. */
void jw_reserve(struct jw *, size_t n);
/* v's decimal digits, with a '-' when negative, into buf (24 bytes, not
 * NUL-terminated); their count. */
size_t jw_digits(char *buf, long long v);
/* Bytes as they are (a JSON text made elsewhere). */
void jw_raw(struct jw *, const char *, size_t);
/* The text so far, NUL-terminated; the buffer stays the writer's. */
const char *jw_text(struct jw *);
void jw_free(struct jw *);

/*
 * Reading such a text without parsing it (arborctl's table, the console's
 * /api/status): past the string at p (at its '"'), past the value at p
 * (an object or array with all in it, a string, a number or a literal),
 * or NULL when it does not end before end.
 */
const char *jw_skip_string(const char *p, const char *end);
const char *jw_skip_value(const char *p, const char *end);

#endif
