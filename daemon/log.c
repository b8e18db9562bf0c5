/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arbord's log on stderr. Whoever reads stderr (a terminal, journald, a pipe
 * into a log shipper) may stall, and a blocking write in the core thread would
 * stall supervision with it. So, once log_init has run, lines go into a
 * bounded ring and a writer thread of their own does the blocking writes: the
 * core only copies bytes under a mutex nobody holds for long. When the ring is
 * full, lines are dropped and counted, and the writer says how many once it
 * catches up. Before log_init (arbord --check, the fuzzers) lines are written
 * directly.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "util.h"

#define LOG_RING_BYTES (256u * 1024)
#define LOG_CLOSE_WAIT_NS (2 * NSEC_PER_SEC)

static enum log_format log_format = LOG_TEXT;
/* log_before_lines: the loop's thread's own. */
static __thread void (*before_fn)(void *);
static __thread void *before_ctx;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t head, tail;	/* free-running byte counters */
	uint64_t dropped;	/* lines, not yet reported */
	bool running, closing, done;
	pthread_t thread;
} ring = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

/* Blocking write of all of it; gives up on an error other than EINTR. */
static void
write_out(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* stderr gone (EPIPE, EIO): nothing to do */
		p += w;
		n -= (size_t)w;
	}
}

static void *
writer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ring.mu);
	for (;;) {
		size_t tail = ring.tail, head = ring.head;
		uint64_t dropped = ring.dropped;

		if (head == tail && !dropped) {
			if (ring.closing)
				break;
			pthread_cond_wait(&ring.cv, &ring.mu);
			continue;
		}
		ring.dropped = 0;
		pthread_mutex_unlock(&ring.mu);
		/* Producers only write past head, so [tail, head) is ours. */
		while (tail != head) {
			size_t off = tail % LOG_RING_BYTES;
			size_t n = head - tail;

			if (n > LOG_RING_BYTES - off)
				n = LOG_RING_BYTES - off;
			write_out(ring.buf + off, n);
			tail += n;
		}
		if (dropped) {
			char msg[160];
			int len = snprintf(msg, sizeof(msg), "arbord: warning: "
			    "%llu log line%s dropped: stderr was not read fast "
			    "enough\n", (unsigned long long)dropped,
			    dropped == 1 ? "" : "s");

			write_out(msg, (size_t)len);
		}
		pthread_mutex_lock(&ring.mu);
		ring.tail = tail;
	}
	ring.done = true;
	pthread_cond_broadcast(&ring.cv);
	pthread_mutex_unlock(&ring.mu);
	return NULL;
}

void
log_init(enum log_format f)
{
	sigset_t all, old;
	int err;

	log_format = f;
	ring.buf = xcalloc(LOG_RING_BYTES, 1);
	/* The writer takes no signal: they are the core's, via signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ring.thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		/* Not fatal: the log is written directly, as before log_init. */
		fprintf(stderr, "arbord: warning: log writer thread: %s; "
		    "stderr is written directly\n", strerror(err));
		free(ring.buf);
		ring.buf = NULL;
		return;
	}
	pthread_setname_np(ring.thread, "arbord-log");
	ring.running = true;
}

void
log_close(void)
{
	struct timespec until;
	bool done;

	if (!ring.running)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += LOG_CLOSE_WAIT_NS / NSEC_PER_SEC;
	pthread_mutex_lock(&ring.mu);
	ring.closing = true;
	pthread_cond_broadcast(&ring.cv);
	while (!ring.done)
		if (pthread_cond_timedwait(&ring.cv, &ring.mu, &until) ==
		    ETIMEDOUT)
			break;
	done = ring.done;
	ring.running = false;
	pthread_mutex_unlock(&ring.mu);
	/* A writer stuck on a stalled stderr is left to exit with us. */
	if (done) {
		pthread_join(ring.thread, NULL);
		free(ring.buf);
		ring.buf = NULL;
	}
}

/* Queues one line (without its newline, which is added). */
static void
put_line(const char *s, size_t n, bool kick)
{
	size_t off, first;

	pthread_mutex_lock(&ring.mu);
	if (!ring.running) {
		pthread_mutex_unlock(&ring.mu);
		fwrite(s, 1, n, stderr);
		fputc('\n', stderr);
		fflush(stderr);
		return;
	}
	if (LOG_RING_BYTES - (ring.head - ring.tail) < n + 1) {
		ring.dropped++;
	} else {
		off = ring.head % LOG_RING_BYTES;
		first = n < LOG_RING_BYTES - off ? n : LOG_RING_BYTES - off;
		memcpy(ring.buf + off, s, first);
		memcpy(ring.buf, s + first, n - first);
		ring.buf[(off + n) % LOG_RING_BYTES] = '\n';
		ring.head += n + 1;
	}
	/* Events wait for log_flush, once per loop batch (or its hand-off:
	 * loop.c), unless the ring is half full. */
	if (kick || ring.head - ring.tail > LOG_RING_BYTES / 2)
		pthread_cond_signal(&ring.cv);
	pthread_mutex_unlock(&ring.mu);
}

void
log_echo(const char *buf, size_t n)
{
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	put_line(buf, n, true);
}

void
log_flush(void)
{
	pthread_mutex_lock(&ring.mu);
	if (ring.running && (ring.head != ring.tail || ring.dropped))
		pthread_cond_signal(&ring.cv);
	pthread_mutex_unlock(&ring.mu);
}

/*
 * A text line holds what workers and checks wrote too (a health check's
 * detail, a command that failed, a path asked for): its control
 * characters go out as \xHH, never as commands to a terminal. A new string.
 */
static char *
escape_controls(const char *s)
{
	char *out = xcalloc(strlen(s) * 4 + 1, 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	return out;
}

void
log_event(const struct obs_msg *m)
{
	if (before_fn)
		before_fn(before_ctx);
	if (log_format == LOG_JSON) {
		json_t *o = msg_to_json(m);
		char *s = json_dumps(o, JSON_COMPACT);

		json_decref(o);
		if (s)
			put_line(s, strlen(s), false);
		free(s);
	} else {
		/* Room for every field whole: two paths, a text, numbers. */
		char ts[48], text[2 * OBSQ_PATH + OBSQ_TEXT + 512];
		char *safe, *line;

		format_ts(m->real_ns, ts, sizeof(ts));
		msg_to_text(m, text, sizeof(text));
		safe = escape_controls(text);
		line = xasprintf("%s arbord: %s", ts, safe);
		put_line(line, strlen(line), false);
		free(line);
		free(safe);
	}
}

void
log_before_lines(void (*fn)(void *), void *ctx)
{
	before_fn = fn;
	before_ctx = ctx;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "info", "warning", "error" };
	int64_t now = realtime_ns();
	char ts[48];
	va_list ap;
	char *msg, *line;

	if (before_fn)
		before_fn(before_ctx);
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	format_ts(now, ts, sizeof(ts));
	if (log_format == LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:o}", "ts", ts, "level",
		    names[level], "msg", json_text(msg));

		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!line)
			line = xasprintf("{\"level\":\"%s\",\"msg\":\"(not "
			    "encodable)\"}", names[level]);
	} else {
		char *safe = escape_controls(msg);

		line = xasprintf("%s arbord: %s: %s", ts, names[level], safe);
		free(safe);
	}
	put_line(line, strlen(line), true);
	free(line);
	free(msg);
}
