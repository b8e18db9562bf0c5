/* SPDX-License-Identifier: BSD-2-Clause */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgstat.h"
#include "../daemon/cglimits.h"
#include "../daemon/util.h"

/* dir/path/file into buf; the length, or -1. */
static ssize_t
slurp(const char *dir, const char *path, const char *file, char *buf,
    size_t len)
{
	char name[4096];

	if (!dir)
		return -1;
	snprintf(name, sizeof(name), "%s/%s/%s", dir, path, file);
	return read_small(AT_FDCWD, name, buf, len);
}

/* The number after "key " (at a line's start) in text; -1 when absent. */
static int64_t
keyed(const char *text, const char *key)
{
	size_t k = strlen(key);

	for (const char *p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, k) == 0 && p[k] == ' ')
			return strtoll(p + k + 1, NULL, 10);
	}
	return -1;
}

static int64_t
single(const char *dir, const char *path, const char *file)
{
	char buf[64];

	if (slurp(dir, path, file, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

const char *
cg_psi_name(enum cg_psi p)
{
	static const char *const names[] = { [PSI_CPU] = "cpu",
	    [PSI_MEMORY] = "memory", [PSI_IO] = "io" };

	return names[p];
}

/*
 * Processes of a leaf with no pids controller: its cgroup.procs lines,
 * counted to the end however many there are (read in pieces).
 */
static int64_t
members(const char *dir, const char *path)
{
	char name[4096], buf[4096];
	int64_t n = 0;
	ssize_t r;
	int fd;

	if (!dir)
		return -1;
	snprintf(name, sizeof(name), "%s/%s/cgroup.procs", dir, path);
	if ((fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return r < 0 ? -1 : n;
}

bool
cgstat_read(const struct cg_view *v, const char *path, bool leaf,
    unsigned what, struct cg_fig *f)
{
	bool mem2 = v->v2_ctrls & (1U << CTRL_MEMORY);
	bool pids2 = v->v2_ctrls & (1U << CTRL_PIDS);
	const char *v1mem = leaf && !mem2 ? v->v1_base[CTRL_MEMORY] : NULL;
	const char *v1pids = leaf && !pids2 ? v->v1_base[CTRL_PIDS] : NULL;
	char buf[4096];
	int64_t x;

	f->cpu_user_s = f->cpu_system_s = -1;
	f->memory_bytes = f->pids = f->oom_kills = -1;
	for (int p = 0; p < PSI_N; p++)
		f->pressure_s[p] = -1;
	if (!v->v2_base || slurp(v->v2_base, path, "cpu.stat", buf,
	    sizeof(buf)) < 0)
		return false;
	if ((x = keyed(buf, "user_usec")) >= 0)
		f->cpu_user_s = (double)x / 1e6;
	if ((x = keyed(buf, "system_usec")) >= 0)
		f->cpu_system_s = (double)x / 1e6;
	if (what & CG_FIG_BASIC) {
		f->memory_bytes = mem2 ? single(v->v2_base, path,
		    "memory.current") : single(v1mem, path,
		    "memory.usage_in_bytes");
		f->pids = pids2 ? single(v->v2_base, path, "pids.current") :
		    v1pids ? single(v1pids, path, "pids.current") : -1;
		if (f->pids < 0 && leaf && !pids2)
			f->pids = members(v->v2_base, path);
	}
	for (int p = 0; p < PSI_N && (what & CG_FIG_PRESSURE); p++) {
		char file[32];
		const char *t;

		snprintf(file, sizeof(file), "%s.pressure", cg_psi_name(p));
		if (slurp(v->v2_base, path, file, buf, sizeof(buf)) > 0 &&
		    strncmp(buf, "some ", 5) == 0 && (t = strstr(buf, "total=")))
			f->pressure_s[p] = (double)strtoll(t + 6, NULL, 10) / 1e6;
	}
	if ((what & CG_FIG_OOM) &&
	    (mem2 ? slurp(v->v2_base, path, "memory.events", buf, sizeof(buf))
	    : slurp(v1mem, path, "memory.oom_control", buf, sizeof(buf))) > 0)
		f->oom_kills = keyed(buf, "oom_kill");
	return true;
}
