/* SPDX-License-Identifier: BSD-2-Clause */
/* Events of SPEC §5 as JSON objects and as one-line text. */
#ifndef ARBOR_EVENT_H
#define ARBOR_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* RFC 3339 UTC with microseconds, from CLOCK_REALTIME ns. */
void format_ts(int64_t realtime_ns, char *buf, size_t len);
/* The exit fields of status and events: reason, status, signal (+ cause). */
void exit_info_to_json(json_t *obj, const struct exit_info *);
json_t *event_to_json(const struct event *, int64_t realtime_ns);
/* "exit root/web pid=42 reason=crash status=1", without the timestamp. */
void event_to_text(const struct event *, char *buf, size_t len);

#endif
