/* SPDX-License-Identifier: BSD-2-Clause */
/* arbord's own log on stderr: one line per event or message, never
 * blocking the caller (see log.c). */
#ifndef ARBOR_LOG_H
#define ARBOR_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "obsq.h"

enum log_format { LOG_TEXT, LOG_JSON };
enum log_level { LOG_INFO, LOG_WARN, LOG_ERROR };

/* Starts the writer thread; from then on no log call blocks on stderr. */
void log_init(enum log_format);
/* Writes out what is queued (waiting at most 2 s for a stalled stderr). */
void log_close(void);
void log_event(const struct obs_msg *);
/* Writes out buffered event lines (the loop calls it after each batch). */
void log_flush(void);
/* Worker lines echoed (log_echo): buf holds whole lines, newline-ended. */
void log_echo(const char *buf, size_t n);
void log_msg(enum log_level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * fn(ctx) is called before each line (log_msg, log_event) made on the
 * calling thread (the loop's: the events it holds back go first); NULL to
 * stop.
 */
void log_before_lines(void (*fn)(void *), void *ctx);

#endif
