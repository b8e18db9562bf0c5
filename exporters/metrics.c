/* SPDX-License-Identifier: BSD-2-Clause */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "../daemon/util.h"

enum mtype { T_COUNTER, T_GAUGE, T_HISTOGRAM };

static const struct family {
	const char *name;
	enum mtype type;
	const char *label;	/* first label name, or NULL */
	const char *label2;	/* second label name, or NULL */
	const char *help;
} families[M_COUNT] = {
	[M_CHILD_UP] = { "arbor_child_up", T_GAUGE, "path", NULL,
	    "1 when the child is running, else 0." },
	[M_CHILD_RESTARTS] = { "arbor_child_restarts_total", T_COUNTER, "path",
	    NULL, "Times the child was started again by its supervisor." },
	[M_CHILD_EXITS] = { "arbor_child_exits_total", T_COUNTER, "path",
	    "reason", "Exits of the child by reason (normal, shutdown, crash, oom)." },
	[M_GIVE_UPS] = { "arbor_supervisor_give_ups_total", T_COUNTER, "path",
	    NULL, "Times the supervisor exceeded its restart intensity." },
	[M_RESTART_LATENCY] = { "arbor_restart_latency_seconds", T_HISTOGRAM,
	    "path", NULL, "Kernel exit of a worker to the execve of its replacement." },
	[M_EXIT_DETECT_LATENCY] = { "arbor_exit_detect_latency_seconds",
	    T_HISTOGRAM, NULL, NULL, "Kernel exit of a worker to arbord acting on it." },
	[M_READY_LATENCY] = { "arbor_ready_latency_seconds", T_HISTOGRAM, "path",
	    NULL, "execve of a worker to it being ready." },
	[M_RUNQ_LATENCY] = { "arbor_runqueue_latency_seconds", T_HISTOGRAM,
	    "path", NULL, "Wakeup to on-CPU latency of a worker's tasks (path=arbord: arbord's own core thread)." },
	[M_OOM_KILLS] = { "arbor_oom_kills_total", T_COUNTER, "path", NULL,
	    "Processes of the worker killed by the OOM killer." },
	[M_BPF_ENABLED] = { "arbor_bpf_enabled", T_GAUGE, NULL, NULL,
	    "1 when the eBPF probes are attached." },
	[M_BPF_PROGRAMS] = { "arbor_bpf_programs", T_GAUGE, "program", "state",
	    "1 for each eBPF probe, in its state (attached or off)." },
	[M_EVENTS_DROPPED] = { "arbor_obs_events_dropped_total", T_COUNTER,
	    "source", NULL, "Events dropped on the way to the observability thread." },
	[M_OBS_RESTARTS] = { "arbor_obs_restarts_total", T_COUNTER, NULL, NULL,
	    "Restarts of the observability thread." },
	[M_HELPER_RESTARTS] = { "arbor_helper_restarts_total", T_COUNTER,
	    "helper", NULL, "Restarts of a helper process of arbord's (checks)." },
	[M_CHILD_CPU] = { "arbor_child_cpu_seconds_total", T_COUNTER, "path",
	    "mode", "CPU time of the child's cgroup (user, system)." },
	[M_CHILD_MEMORY] = { "arbor_child_memory_bytes", T_GAUGE, "path", NULL,
	    "Memory charged to the child's cgroup." },
	[M_CHILD_PIDS] = { "arbor_child_pids", T_GAUGE, "path", NULL,
	    "Processes in the child's cgroup." },
	[M_CHILD_PRESSURE] = { "arbor_child_pressure_seconds_total", T_COUNTER,
	    "path", "resource", "Time some of the child's tasks stalled on a resource (PSI some)." },
	[M_LOG_DROPPED] = { "arbor_log_lines_dropped_total", T_COUNTER, "path",
	    NULL, "Output lines of the worker its log could not take (a full or failing disk)." },
	[M_HEALTH_FAILURES] = { "arbor_child_health_failures_total", T_COUNTER,
	    "path", NULL, "Failed health checks of the worker that counted (once started, after start_period)." },
	[M_SOCKET_BACKLOG] = { "arbor_socket_backlog", T_GAUGE, "path", "name",
	    "Connections waiting to be accepted on a socket arbord holds for the worker (its pool's, for a pool)." },
};

/* Bucket bounds in seconds: 1 us to 60 s. */
static const double bounds[] = {
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
	2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
#define NBOUNDS ARRAY_SIZE(bounds)
#define LOG2_SLOTS 32
#define NSLOTS_MAX (LOG2_SLOTS > NBOUNDS ? LOG2_SLOTS : NBOUNDS)

struct series {
	char *label;
	char *reason;
	double value;		/* counter, gauge; histogram: sum */
	uint64_t count;		/* histogram */
	bool log2;		/* buckets are log2 ns slots */
	uint64_t *buckets;	/* histograms only: most series are not */
	enum metric m;
	uint32_t hash;
	struct series *next;	/* same family, in the order of rendering */
	struct series *hnext;	/* same hash bucket */
};

/*
 * Series by family for rendering, and in a hash on (family, label, reason)
 * for updates: every event updates a few series, and a tree may have
 * 10,000 paths.
 */
struct registry {
	struct series *series[M_COUNT];
	struct series **index;
	size_t nindex;		/* buckets, a power of 2 */
	size_t count;
};

struct registry *
registry_new(void)
{
	struct registry *r = xcalloc(1, sizeof(struct registry));

	r->nindex = 64;
	r->index = xcalloc(r->nindex, sizeof(*r->index));
	return r;
}

/* FNV-1a of s and an end mark (NULL differs from ""). */
static uint32_t
hash_part(uint32_t h, const char *s)
{
	if (!s)
		return h * FNV1A_PRIME;
	return (fnv1a(h, s) ^ 0xff) * FNV1A_PRIME;
}

static uint32_t
series_hash(enum metric m, const char *label, const char *reason)
{
	return hash_part(hash_part(FNV1A_INIT ^ (uint32_t)m, label), reason);
}

static void
index_grow(struct registry *r)
{
	size_t n = r->nindex * 2;
	struct series **ix = xcalloc(n, sizeof(*ix));

	for (size_t b = 0; b < r->nindex; b++)
		for (struct series *s = r->index[b], *next; s; s = next) {
			next = s->hnext;
			s->hnext = ix[s->hash & (n - 1)];
			ix[s->hash & (n - 1)] = s;
		}
	free(r->index);
	r->index = ix;
	r->nindex = n;
}

static void
index_remove(struct registry *r, struct series *dead)
{
	for (struct series **p = &r->index[dead->hash & (r->nindex - 1)]; *p;
	    p = &(*p)->hnext)
		if (*p == dead) {
			*p = dead->hnext;
			r->count--;
			return;
		}
}

/* A histogram's buckets, allocated on first use. */
static uint64_t *
buckets(struct series *s)
{
	if (!s->buckets)
		s->buckets = xcalloc(NSLOTS_MAX, sizeof(*s->buckets));
	return s->buckets;
}

static void
series_free(struct series *s)
{
	free(s->buckets);
	free(s->label);
	free(s->reason);
	free(s);
}

void
registry_free(struct registry *r)
{
	if (!r)
		return;
	for (int m = 0; m < M_COUNT; m++)
		for (struct series *s = r->series[m], *n; s; s = n) {
			n = s->next;
			series_free(s);
		}
	free(r->index);
	free(r);
}

static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static struct series *
find(struct registry *r, enum metric m, const char *label, const char *reason)
{
	uint32_t h = series_hash(m, label, reason);
	struct series *s;

	for (s = r->index[h & (r->nindex - 1)]; s; s = s->hnext)
		if (s->hash == h && s->m == m && same(s->label, label) &&
		    same(s->reason, reason))
			return s;
	s = xcalloc(1, sizeof(*s));
	s->label = label ? xstrdup(label) : NULL;
	s->reason = reason ? xstrdup(reason) : NULL;
	s->m = m;
	s->hash = h;
	s->next = r->series[m];
	r->series[m] = s;
	if (++r->count > r->nindex)
		index_grow(r);
	s->hnext = r->index[h & (r->nindex - 1)];
	r->index[h & (r->nindex - 1)] = s;
	return s;
}

void
reg_add(struct registry *r, enum metric m, const char *label,
    const char *reason, double v)
{
	find(r, m, label, reason)->value += v;
}

void
reg_set(struct registry *r, enum metric m, const char *label,
    const char *reason, double v)
{
	find(r, m, label, reason)->value = v;
}

void
reg_observe(struct registry *r, enum metric m, const char *label,
    double seconds)
{
	struct series *s = find(r, m, label, NULL);

	s->count++;
	s->value += seconds;
	for (size_t i = 0; i < NBOUNDS; i++)
		if (seconds <= bounds[i])
			buckets(s)[i]++;
}

void
reg_set_log2(struct registry *r, enum metric m, const char *label,
    const uint64_t *slots, int nslots)
{
	struct series *s = find(r, m, label, NULL);

	s->count = 0;
	s->value = 0;
	if (s->buckets)
		memset(s->buckets, 0, sizeof(*s->buckets) * NSLOTS_MAX);
	reg_add_log2(r, m, label, slots, nslots);
}

void
reg_add_log2(struct registry *r, enum metric m, const char *label,
    const uint64_t *slots, int nslots)
{
	struct series *s = find(r, m, label, NULL);

	s->log2 = true;
	for (int k = 0; k < nslots && k < LOG2_SLOTS; k++) {
		buckets(s)[k] += slots[k];
		s->count += slots[k];
		s->value += (double)slots[k] * 1.5 * ldexp(1, k) / 1e9;
	}
}

void
reg_clear(struct registry *r, enum metric m)
{
	for (struct series *s = r->series[m]; s; s = s->next) {
		s->count = 0;
		s->value = 0;
		if (s->buckets)
			memset(s->buckets, 0, NSLOTS_MAX * sizeof(*s->buckets));
	}
}

void
reg_forget(struct registry *r, const char *path)
{
	for (int m = 0; m < M_COUNT; m++)
		for (struct series **p = &r->series[m]; *p;) {
			if ((*p)->label && families[m].label &&
			    strcmp(families[m].label, "path") == 0 &&
			    path_within((*p)->label, path)) {
				struct series *dead = *p;

				*p = dead->next;
				index_remove(r, dead);
				series_free(dead);
			} else
				p = &(*p)->next;
		}
}

/* A label value escaped per the text format: \\, \" and \n. */
static void
put_label_value(FILE *f, const char *v)
{
	if (!strpbrk(v, "\\\"\n")) {	/* a path: nothing to escape */
		fputs(v, f);
		return;
	}
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void
put_labels(FILE *f, const struct family *fam, const struct series *s,
    const char *le)
{
	bool any = false;

	if (!s->label && !s->reason && !le)
		return;
	fputc('{', f);
	if (fam->label && s->label) {
		fprintf(f, "%s=\"", fam->label);
		put_label_value(f, s->label);
		fputc('"', f);
		any = true;
	}
	if (fam->label2 && s->reason) {
		fprintf(f, "%s%s=\"", any ? "," : "", fam->label2);
		put_label_value(f, s->reason);
		fputc('"', f);
		any = true;
	}
	if (le)
		fprintf(f, "%sle=\"%s\"", any ? "," : "", le);
	fputc('}', f);
}

/*
 * The shortest of 15 or 17 digits that reads back as the same double:
 * 0.003325 rather than 0.0033249999999999998, a tenth of a sample's bytes
 * at 10,000 workers, and still exact.
 */
static void
put_value(FILE *f, double v)
{
	char s[40];

	/* Counts, pids, bytes: whole numbers, printed as such (cheaper). */
	if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
	    v == (double)(long long)v) {
		fprintf(f, " %lld\n", (long long)v);
		return;
	}
	snprintf(s, sizeof(s), "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof(s), "%.17g", v);
	fprintf(f, " %s\n", s);
}

static void
put_histogram(FILE *f, const struct family *fam, struct series *s)
{
	uint64_t cum = 0;
	char le[32];

	buckets(s);
	if (s->log2) {
		for (int k = 0; k < LOG2_SLOTS; k++) {
			cum += s->buckets[k];
			snprintf(le, sizeof(le), "%.9g", ldexp(1, k + 1) / 1e9);
			fprintf(f, "%s_bucket", fam->name);
			put_labels(f, fam, s, le);
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
	} else {
		for (size_t i = 0; i < NBOUNDS; i++) {
			snprintf(le, sizeof(le), "%g", bounds[i]);
			fprintf(f, "%s_bucket", fam->name);
			put_labels(f, fam, s, le);
			fprintf(f, " %llu\n", (unsigned long long)s->buckets[i]);
		}
	}
	fprintf(f, "%s_bucket", fam->name);
	put_labels(f, fam, s, "+Inf");
	fprintf(f, " %llu\n", (unsigned long long)s->count);
	fprintf(f, "%s_sum", fam->name);
	put_labels(f, fam, s, NULL);
	fprintf(f, " %.9g\n", s->value);
	fprintf(f, "%s_count", fam->name);
	put_labels(f, fam, s, NULL);
	fprintf(f, " %llu\n", (unsigned long long)s->count);
}

static int fds_seen;	/* process_metrics' last count, and when */
static uint64_t fds_at;

static void
process_metrics(FILE *f)
{
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long utime = 0, stime = 0;
	unsigned long long start = 0;
	long rss = 0, size = 0;
	double boot = 0;
	FILE *p;
	DIR *d;
	int fds = 0;

	if ((p = fopen("/proc/self/stat", "re"))) {
		/* Fields 14, 15 and 22; comm (2) has no spaces for arbord. */
		if (fscanf(p, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu",
		    &utime, &stime, &start) != 3)
			utime = stime = 0;
		fclose(p);
	}
	if ((p = fopen("/proc/self/statm", "re"))) {
		if (fscanf(p, "%ld %ld", &size, &rss) != 2)
			rss = 0;
		fclose(p);
	}
	if ((p = fopen("/proc/stat", "re"))) {
		char line[256];

		while (fgets(line, sizeof(line), p))
			if (sscanf(line, "btime %lf", &boot) == 1)
				break;
		fclose(p);
	}
	/* Counted at most once a second: /proc/self/fd of 10,000 workers'
	 * pidfds is a tenth of a scrape's time to read. */
	if (fds_at && mono_ns() - fds_at < NSEC_PER_SEC)
		fds = fds_seen;
	else if ((d = opendir("/proc/self/fd"))) {
		while (readdir(d))
			fds++;
		closedir(d);
		fds -= 3;	/* ".", ".." and the directory's own fd */
		fds_seen = fds;
		fds_at = mono_ns();
	}
	fprintf(f, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)tck);
	fprintf(f, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %ld\n", rss * page);
	fprintf(f, "# HELP process_open_fds Number of open file descriptors.\n"
	    "# TYPE process_open_fds gauge\n"
	    "process_open_fds %d\n", fds);
	fprintf(f, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.2f\n", boot + (double)start / (double)tck);
}

void
registry_format(struct registry *r, FILE *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	for (int m = 0; m < M_COUNT; m++) {
		const struct family *fam = &families[m];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
		    fam->name, types[fam->type]);
		for (struct series *s = r->series[m]; s; s = s->next) {
			if (fam->type == T_HISTOGRAM) {
				put_histogram(f, fam, s);
				continue;
			}
			fputs(fam->name, f);
			put_labels(f, fam, s, NULL);
			put_value(f, s->value);
		}
	}
	process_metrics(f);
}
