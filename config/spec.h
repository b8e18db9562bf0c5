/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The validated tree spec: plain structs produced by config/config.c and
 * consumed by the engine and the runtime. A spec is immutable once loaded;
 * the engine keeps a pointer to the spec it runs and a reload swaps in a new
 * one.
 */
#ifndef ARBOR_SPEC_H
#define ARBOR_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The deepest tree taken (levels, the root is 1): deep enough for any real
 * tree, and shallow enough that status stays within JSON parsers' nesting
 * limits (two per level).
 */
#define SPEC_MAX_DEPTH 64

/*
 * The longest path of a node, in bytes ("root/api/web", a pool's children
 * as "root/pool/child.4294967295"): each is a directory below log_dir and
 * a cgroup (no name longer than NAME_MAX), and the observability queue
 * carries it whole in a fixed-size message (OBSQ_PATH), so two workers
 * never share a cut one. Longer is refused in the file, with its line.
 */
#define SPEC_PATH_MAX 255
/* A pool's child is named "<template name>.<number>", the number 32-bit. */
#define SPEC_CHILD_SUFFIX_MAX 11	/* ".4294967295" */
/*
 * The longest suffix a rotated file adds to its live file's name (the
 * event log's "events.jsonl.1000.gz.tmp", log_keep and event_log_keep
 * being at most 1000), with room to spare.
 */
#define SPEC_ROTATED_SUFFIX_MAX 16
#include <sys/types.h>

enum restart_type { RESTART_PERMANENT, RESTART_TRANSIENT, RESTART_TEMPORARY };

enum strategy {
	STRATEGY_ONE_FOR_ONE,
	STRATEGY_ONE_FOR_ALL,
	STRATEGY_REST_FOR_ONE,
	STRATEGY_SIMPLE_ONE_FOR_ONE,
};

enum auto_shutdown {
	AUTO_SHUTDOWN_NEVER,
	AUTO_SHUTDOWN_ANY_SIGNIFICANT,
	AUTO_SHUTDOWN_ALL_SIGNIFICANT,
};

enum shutdown_kind { SHUTDOWN_TIMEOUT, SHUTDOWN_BRUTAL_KILL, SHUTDOWN_INFINITY };

enum ready_kind { READY_EXEC, READY_NOTIFY, READY_HEALTH, READY_FD };

/* A worker's health check (arbor.conf(5), HEALTH CHECKS). */
enum health_kind { HEALTH_NONE, HEALTH_EXEC, HEALTH_TCP, HEALTH_HTTP };

/* STDIO_LOG (the default): a pipe to arbord's log writer (arbor.conf(5),
 * OUTPUT). */
enum stdio_kind { STDIO_LOG, STDIO_INHERIT, STDIO_NULL, STDIO_FILE };

/* log_journal and log_echo. */
enum log_switch { LOG_SWITCH_AUTO, LOG_SWITCH_ON, LOG_SWITCH_OFF };

enum bpf_mode { BPF_AUTO, BPF_ON, BPF_OFF };

struct spec_shutdown {
	enum shutdown_kind kind;
	uint32_t ms; /* only for SHUTDOWN_TIMEOUT */
};

struct spec_stdio {
	enum stdio_kind kind;
	char *path; /* only for STDIO_FILE */
};

struct spec_rlimit {
	int resource;		/* RLIMIT_* */
	uint64_t value;		/* soft = hard; UINT64_MAX is unlimited */
};

/*
 * user and group as ids, looked up (NSS) when the config is loaded or
 * reloaded, never at a spawn: a slow directory (LDAP, sssd) cannot stall
 * supervision. error is set when a name did not resolve then: each start
 * of the worker fails with it until a reload finds the name.
 */
struct spec_ids {
	bool set_uid;		/* user given: uid, its gid, its groups */
	uid_t uid;
	gid_t gid;		/* the user's, or group's when given */
	gid_t *groups;		/* supplementary groups (setgroups) */
	size_t ngroups;
	char *error;		/* "unknown user \"x\"", NULL: resolved */
};

/*
 * tcp and http checks connect to an address taken apart at load: an IP
 * literal or "localhost" (127.0.0.1), never a name to look up.
 */
struct spec_health {
	enum health_kind kind;	/* HEALTH_NONE: no check */
	char **argv;		/* HEALTH_EXEC, NULL-terminated */
	size_t argc;
	char *target;		/* HEALTH_TCP "HOST:PORT", HEALTH_HTTP the URL */
	char ip[48];		/* tcp, http: the numeric address */
	int family;		/* AF_INET, AF_INET6 */
	uint16_t port;
	bool localhost;		/* http: the URL says "localhost" */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t failures;
	uint32_t start_period_ms;
};

/*
 * A socket arbord binds and holds for a worker (arbor.conf(5), SOCKETS),
 * passed at each start as systemd's socket activation passes them. The
 * address is taken apart at load; binding happens in the core.
 */
#define SPEC_FDNAME_MAX 255	/* systemd's limit on a name in FDNAME= */
#define SPEC_SOCKETS_MAX 64	/* sockets a worker may hold */
#define SPEC_FD_STORE_MAX 1024	/* fd_store_max's ceiling */

struct spec_socket {
	char *listen;		/* as written: "127.0.0.1:8080", "/run/a.sock" */
	char *name;		/* LISTEN_FDNAMES: given, or the worker's name */
	int line;
	int family;		/* AF_INET, AF_INET6, AF_UNIX */
	int type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	unsigned char addr[128];	/* a struct sockaddr_* */
	uint32_t addrlen;
	bool abstract;		/* "@name": AF_UNIX, no file */
	int backlog;		/* listen(2); stream and seqpacket */
	mode_t mode;		/* a path's mode (default 0666) */
	char *owner, *group;	/* a path's, as written; NULL: root's */
	uid_t uid;		/* resolved at load; (uid_t)-1: unchanged */
	gid_t gid;
};

struct spec_worker {
	char **argv;		/* NULL-terminated */
	size_t argc;
	int stop_signal;
	enum ready_kind ready;
	uint32_t ready_timeout_ms;
	uint32_t watchdog_ms;
	uint32_t restart_delay_ms;
	uint32_t restart_delay_max_ms;
	double restart_delay_jitter;	/* 0-1: spread of each delay, at random */
	int *success_codes;
	size_t nsuccess;
	char **env;		/* "K=V", NULL-terminated */
	size_t nenv;
	bool env_clear;
	char *cwd;		/* NULL: arbord's */
	bool has_umask;
	mode_t umask;
	char *user;		/* NULL: arbord's */
	char *group;
	struct spec_ids ids;	/* user and group, resolved at load */
	bool no_new_privs;
	struct spec_rlimit *rlimits;
	size_t nrlimits;
	struct spec_stdio out;
	struct spec_stdio err;
	struct spec_health health;
	struct spec_socket *sockets;	/* held by arbord, fds 3... */
	size_t nsockets;
	uint32_t fd_store_max;	/* sd_notify FDSTORE=1; 0: none kept */
	int ready_fd;		/* READY_FD: the fd it writes a newline to */
};

/*
 * Resource bounds of a worker or a supervisor (the whole subtree), applied
 * to its cgroup (arbor.conf(5), RESOURCES). set says which keys were given;
 * RES_MAX is "max", no limit.
 */
enum res_key {
	RES_MEMORY_MAX, RES_MEMORY_HIGH, RES_MEMORY_SWAP_MAX, RES_OOM_GROUP,
	RES_PIDS_MAX, RES_CPU_MAX, RES_CPU_WEIGHT, RES_IO_WEIGHT,
	RES_NKEYS,
};
#define RES_MAX UINT64_MAX

struct spec_resources {
	unsigned set;		/* 1 << enum res_key for each key given */
	uint64_t memory_max, memory_high, memory_swap_max;	/* bytes */
	uint64_t pids_max;
	uint64_t cpu_quota_us;	/* RES_MAX: no quota */
	uint64_t cpu_period_us;
	uint32_t cpu_weight, io_weight;	/* 1-10000 */
	bool oom_group;
};

struct spec_node {
	char *name;
	int line;		/* line in the config file, 0 if none */
	bool is_supervisor;
	enum restart_type restart;
	bool significant;
	struct spec_shutdown shutdown;

	/* supervisor */
	enum strategy strategy;
	uint32_t intensity;
	uint32_t period_s;
	enum auto_shutdown auto_shutdown;
	uint32_t max_children;	/* 0: unlimited */
	struct spec_node **children;
	size_t nchildren;
	struct spec_node *template;	/* simple_one_for_one only */

	/* worker */
	struct spec_worker w;

	struct spec_resources res;
};

struct web_conf;

enum cgroup_mode { CGROUP_AUTO, CGROUP_OFF, CGROUP_PATH };

struct spec {
	char *file;
	char *socket;		/* NULL: the default in arbor.conf(5), DAEMON */
	/*
	 * daemon.socket_group and read_group: as the file writes them (NULL:
	 * not given) and their gids, looked up at load ((gid_t)-1: none).
	 */
	char *socket_group, *read_group;
	gid_t socket_gid, read_gid;
	enum cgroup_mode cgroup;
	/* Helper processes (arbord(8), FAULT DOMAINS): NULL, the default
	 * ("arbor" if it exists, else "nobody"); helper_memory_max, bytes. */
	char *helper_user;
	uint64_t helper_memory_max;
	char *cgroup_path;	/* CGROUP_PATH only */
	/* Worker output (arbor.conf(5), OUTPUT). log_dir "": memory only. */
	char *log_dir;
	bool log_dir_default;	/* not given: a failure to create it warns */
	uint64_t log_max_bytes;
	uint32_t log_keep;
	enum log_switch log_journal;
	enum log_switch log_echo;
	enum bpf_mode bpf;
	char *metrics_listen;
	bool histograms_per_worker;	/* observability.histograms = "worker" */
	bool console;		/* observability.console (default true) */
	bool console_auth_none;	/* observability.console_auth = "none" */
	char **console_hosts;	/* observability.console_hosts; NULL: none */
	char *event_log;
	uint64_t event_log_max_bytes;
	uint32_t event_log_keep;
	/* observability.web_config (webconf.h): NULL, none; its contents as
	 * read at load */
	char *web_config;
	struct web_conf *web;
	struct spec_node *root;
};

/*
 * A daemon or observability key a reload changes: its values as the file
 * writes them, and whether it applies only at arbord's next start.
 */
struct spec_setting {
	const char *key;	/* "daemon.log_dir" (static) */
	char *from, *to;
	bool restart;
};

/* The keys whose values differ, in arbor.conf(5)'s order; *n of them. */
struct spec_setting *spec_settings_changed(const struct spec *old,
    const struct spec *new, size_t *n);
void spec_settings_free(struct spec_setting *, size_t n);

void spec_free(struct spec *);
void spec_node_free(struct spec_node *);
/* A deep copy of a node and its subtree. */
struct spec_node *spec_node_dup(const struct spec_node *);
/* Two workers identical in every key (reload keeps such a worker running). */
bool spec_worker_equal(const struct spec_node *, const struct spec_node *);
/* Two sockets bound alike: a reload keeps such a socket open. */
bool spec_socket_equal(const struct spec_socket *, const struct spec_socket *);
/* Two supervisors identical in their own keys, children aside. */
bool spec_supervisor_equal(const struct spec_node *, const struct spec_node *);

/* The config key of a resource ("memory_max"). */
const char *res_key_name(enum res_key);
/* The value of a size-like key (memory_*, pids_max); RES_MAX: "max". */
uint64_t res_size(const struct spec_resources *, enum res_key);

const char *restart_type_name(enum restart_type);
/* "exec", "tcp", "http"; "none" for HEALTH_NONE. */
const char *health_kind_name(enum health_kind);
const char *strategy_name(enum strategy);
const char *auto_shutdown_name(enum auto_shutdown);

/* Signal names without the SIG prefix: "TERM" for SIGTERM. */
int signal_from_name(const char *);
const char *signal_name(int);

#endif
