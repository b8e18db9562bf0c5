/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Small helpers shared by every module. Out-of-memory policy: allocation
 * failure aborts the process with a message (arbord cannot supervise without
 * memory, and PR_SET_PDEATHSIG then takes the workers down with it).
 */
#ifndef ARBOR_UTIL_H
#define ARBOR_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* fds arbord holds per worker (pidfds, pipes, kept cgroup leaves) live at
 * and above this, out of the range a spawning child copies (spawn.c). */
#define SPAWN_FD_BASE 256

/* fd moved to SPAWN_FD_BASE or above (where the limit allows); the new
 * fd is close-on-exec. */
int fd_move_high(int fd);

/*
 * Fills the free fd numbers below SPAWN_FD_BASE with close-on-exec copies
 * of fd (at most cap, their numbers in held), so that what arbord opens
 * for itself until fd_unreserve_low lands above the range too: a spawning
 * child then copies and closes only the fds it needs. Nothing is filled
 * when the fd limit is under 8 * SPAWN_FD_BASE, or would leave less than
 * need (what the caller opens meanwhile) beside the fillers. Returns how
 * many.
 */
size_t fd_reserve_low(int fd, size_t need, int *held, size_t cap);
void fd_unreserve_low(int *held, size_t n);

void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list) __attribute__((format(printf, 1, 0)));
void strv_free(char **);

/*
 * Replaces every byte of s that is not part of well-formed UTF-8 (stray
 * continuation bytes, truncated or overlong sequences, surrogates, code points
 * past U+10FFFF) with '?', in place, so text from outside (a worker's STATUS=,
 * a process's comm, the echo of a malformed request) can always be put in a
 * JSON string. Returns the number of bytes replaced.
 */
size_t utf8_scrub(char *s);
/* Whether s is well-formed UTF-8 throughout. */
int utf8_valid(const char *s);
/* Whether path is top or a node below it ("root/a/b" is within "root/a"). */
bool path_within(const char *path, const char *top);
size_t strv_len(char *const *);

_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

/*
 * 0 when the directory holding the socket path may be trusted (owned by
 * arbord's user or root, writable by nobody else); -1 with why otherwise.
 */
int socket_dir_trusted(const char *path, char *why, size_t len);
/* As socket_dir_trusted, but returns an fd of the directory (O_CLOEXEC). */
int socket_dir_open(const char *path, char *why, size_t len);
/*
 * Removes a stale socket at path; anything else there (a file a typo in a
 * config names) is left, -1 with EEXIST. 0 when nothing is there now.
 */
int unlink_stale_socket(const char *path);
/* The same for name in the directory dirfd, no link followed. */
int unlink_stale_socket_at(int dirfd, const char *name);
/*
 * A small file (a /proc or cgroup file) at dirfd/path, read once into buf
 * (up to len-1 bytes, NUL-terminated); its length, or -1.
 */
ssize_t read_small(int dirfd, const char *path, char *buf, size_t len);
/* The same from an open fd, which it closes; -1 for a fd < 0. */
ssize_t read_small_fd(int fd, char *buf, size_t len);

/* Equal strings, either of which may be NULL (equal only to NULL). */
bool str_eq(const char *a, const char *b);

/* Consumes the 8-byte count an eventfd or a timerfd holds. */
void read_counter(int fd);

/* The name of v in a table indexed by an enum; "?" when it has none. */
#define NAME_OF(names, v) \
	((size_t)(v) < ARRAY_SIZE(names) && (names)[v] ? (names)[v] : "?")

/* CLOCK_MONOTONIC in ns: the one clock of arbord's logic. */
uint64_t mono_ns(void);

/* Arms timerfd fd (relative): first after ms, then every interval_ms
 * (0: once); ms = 0 disarms it. Returns timerfd_settime's result. */
int timerfd_arm(int fd, uint64_t ms, uint64_t interval_ms);
/* Arms timerfd fd to fire once at CLOCK_MONOTONIC ns at (UINT64_MAX:
 * disarms it) unless *armed says it is so already; fatal on failure. */
void timerfd_arm_at(int fd, uint64_t at, uint64_t *armed);

/* The first line of s[0..len), leading blank lines skipped, into out. */
void first_line(const char *s, size_t len, char *out, size_t outlen);

/* 32-bit FNV-1a: h for the first call, the previous result to chain. */
#define FNV1A_INIT 2166136261u
#define FNV1A_PRIME 16777619u
uint32_t fnv1a(uint32_t h, const char *s);

/* The struct of type t whose member m is at p. */
#define container_of(p, t, m) ((t *)(void *)((char *)(p) - offsetof(t, m)))

/*
 * Things by pid, for what is looked up once per event and must not walk
 * every worker (the engine's nodes, the loop's processes): each thing
 * embeds a pid_link; chained, grown to at most one a bucket on average.
 */
struct pid_link {
	int pid;
	struct pid_link *next;
};
struct pid_index {
	struct pid_link **b;
	size_t nb, n;		/* nb: a power of 2 */
};
/* l->pid is set; l is not in x. */
void pid_index_add(struct pid_index *x, struct pid_link *l);
/* l is in x, or not (then nothing happens). */
void pid_index_del(struct pid_index *x, struct pid_link *l);
/* The first of pid's bucket: follow ->next, comparing ->pid. */
struct pid_link *pid_index_bucket(const struct pid_index *x, int pid);
void pid_index_free(struct pid_index *x);

/*
 * A binary min-heap of things by a time (the engine's timers, the health
 * checks' due times): each thing embeds a heap_link; setting its key puts
 * it in or moves it, O(log n); the earliest is v[0].
 */
struct heap_link {
	uint64_t key;
	size_t at;		/* its place + 1; 0: not in the heap */
};
struct min_heap {
	struct heap_link **v;
	size_t n, cap;
};
void heap_put(struct min_heap *, struct heap_link *, uint64_t key);
/* l is in h, or not (then nothing happens). */
void heap_remove(struct min_heap *, struct heap_link *);
void heap_free(struct min_heap *);
static inline struct heap_link *
heap_top(const struct min_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

/* Saturating arithmetic, for numbers that come from outside (a worker's
 * EXTEND_TIMEOUT_USEC): never wraps to a small value. */
static inline uint64_t
sat_add_u64(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t
sat_mul_u64(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}



/*
 * The control socket when neither -s nor the config names one: $ARBOR_SOCKET,
 * else /run/arbor/arbord.sock for root, else
 * $XDG_RUNTIME_DIR/arbor/arbord.sock (/tmp/arbor-UID/arbord.sock without it).
 * Returns a new string.
 */
char *default_socket_path(void);
#endif
