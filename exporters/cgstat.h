/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A node's figures from its cgroup files (arbord(8), CONTAINMENT): CPU
 * time, memory, processes, pressure, OOM kills. Read by the observability
 * thread only, at a scrape or a status request, never by the core; the
 * core said where the files are (struct cg_view) when the thread started.
 */
#ifndef ARBOR_CGSTAT_H
#define ARBOR_CGSTAT_H

#include <stdint.h>

#include "../daemon/cgroup.h"

enum cg_psi { PSI_CPU, PSI_MEMORY, PSI_IO, PSI_N };

/* Each figure is -1 when this host does not give it for the node. */
struct cg_fig {
	double cpu_user_s, cpu_system_s;
	int64_t memory_bytes;
	int64_t pids;
	double pressure_s[PSI_N];	/* PSI "some" total */
	int64_t oom_kills;
};

/*
 * The figures of the node at path ("root/api/web"); false: no cgroup.
 * Only files that can be there are opened (the view says which controllers
 * are where): at 10,000 workers a scrape opens each worker's few. v1
 * figures (hybrid hosts) are taken for a worker only (leaf): a v1 group of
 * a supervisor holds only those of its workers that joined it.
 */
enum { CG_FIG_BASIC = 1, CG_FIG_PRESSURE = 2, CG_FIG_OOM = 4 };
/* what: CG_FIG_BASIC (CPU, memory, processes), pressure, OOM kills. */
bool cgstat_read(const struct cg_view *, const char *path, bool leaf,
    unsigned what, struct cg_fig *);

const char *cg_psi_name(enum cg_psi);

#endif
