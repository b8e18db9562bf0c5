/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The events of the event log and `arborctl events` (arborctl(8)). An engine event becomes an obs_msg (a plain copy, paths
 * included) once; the stderr log and the observability thread both format
 * from that copy.
 */
#ifndef ARBOR_EVENT_H
#define ARBOR_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "obsq.h"

/*
 * json_string() for text that came from outside and may not be UTF-8 (jansson
 * refuses such text and returns NULL): invalid bytes become '?'. Never NULL
 * but on memory exhaustion.
 */
json_t *json_text(const char *);
/* RFC 3339 UTC with microseconds, from CLOCK_REALTIME ns. */
void format_ts(int64_t realtime_ns, char *buf, size_t len);
int64_t realtime_ns(void);
/* The exit fields of status and events: reason, status, signal (+ cause). */
void exit_info_to_json(json_t *obj, const struct exit_info *);
struct jw;
void exit_info_write(struct jw *, const struct exit_info *);
const char *exit_cause_name(enum exit_cause);
/* Copies ev into m, stamped with the wall clock now. */
void event_to_msg(const struct event *ev, struct obs_msg *m);
json_t *msg_to_json(const struct obs_msg *);
/* "exit root/web pid=42 reason=crash status=1", without the timestamp. */
void msg_to_text(const struct obs_msg *, char *buf, size_t len);

#endif
