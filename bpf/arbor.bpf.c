// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * arbor's kernel side: follows arbord's workers and their descendants, and
 * reports their exits, execs, fatal signals and OOM kills through a ring
 * buffer; run-queue latency goes into per-worker log2 histograms in a map,
 * with no per-event ring traffic. Every program checks the tracked set first
 * so that an untracked task costs one map lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "arbor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load. */
const volatile __u32 arbord_tgid = 0;
/*
 * With cgroups (base_cgid != 0): the subtree's base, its level in the v2
 * hierarchy, and beside the tree arbord's own leaf and its helper
 * processes' cgroup. A task whose cgroup is below the base, and in neither
 * of those two, is a supervised one, whatever its session or PID namespace.
 */
const volatile __u64 base_cgid = 0;
const volatile __u64 self_cgid = 0;
const volatile __u64 helpers_cgid = 0;
const volatile __u32 base_level = 0;
/*
 * The level of arbord's PID namespace, read off its core thread when that
 * forks or runs (from inside a namespace, user space cannot see how deep it
 * is): pids in records are the ones arbord sees.
 */
__u32 ns_level = 0;
/*
 * The base's level in the v2 hierarchy, read off arbord's core thread in
 * its leaf (one below the base) when that thread forks or runs: user
 * space counts base_level from its cgroup mount, which in a cgroup
 * namespace (a container's) is not the hierarchy's root. 0: not yet seen.
 */
__u32 base_level_seen = 0;
/* Set by the loader when arbord is in the initial PID namespace. */
const volatile __u32 pid_ns_init = 0;

/* Kernels before 6.1 kept ancestors' ids, not pointers. */
struct cgroup___old {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

#define TASK_RUNNING 0
#define SIGKILL 9

/*
 * tgid -> the main tgid of the worker it belongs to. LRU: user space seeds
 * workers started before the programs were attached, and a seed that races
 * with its process's exit must not hold a slot forever.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} tracked SEC(".maps");

/* tgid -> the last fatal signal generated for it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct arbor_fatal);
} fatal SEC(".maps");

/*
 * Per-task state of watched tasks (every thread of a worker, and arbord's
 * core thread), hung off the task itself: on the scheduler's hot paths an
 * unwatched task costs one pointer read, not a hash lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct arbor_task);
} tasks SEC(".maps");

/* worker main tgid (ARBOR_SELF_KEY: arbord's core thread) -> histogram. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct arbor_hist);
} runq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* tgid -> the process (its leader's start time) on_exit_v1 reported last. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} exited SEC(".maps");

/* Records the ring buffer could not take. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

static __always_inline void
count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&dropped, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The id of t's v2 cgroup's ancestor at level (itself at its own); 0 if none. */
static __always_inline __u64
cgroup_at(struct task_struct *t, __u32 level)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp), *a = 0;
	__u64 id = 0;

	if (!cg || BPF_CORE_READ(cg, level) < (int)level || level > 255)
		return 0;
	if (bpf_core_field_exists(cg->ancestors)) {
		bpf_probe_read_kernel(&a, sizeof(a), (void *)cg +
		    bpf_core_field_offset(struct cgroup, ancestors) +
		    level * sizeof(a));
		return a ? BPF_CORE_READ(a, kn, id) : 0;
	}
	bpf_probe_read_kernel(&id, sizeof(id), (void *)cg +
	    bpf_core_field_offset(struct cgroup___old, ancestor_ids) +
	    level * sizeof(id));
	return id;
}

/* arbord's core thread t: the base's level, from its leaf's. */
static __always_inline void
see_core(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	int level;

	if (!base_cgid || !cg || BPF_CORE_READ(cg, kn, id) != self_cgid)
		return;
	level = BPF_CORE_READ(cg, level);
	if (level > 0)
		base_level_seen = (__u32)level - 1;
}

/* t is in a worker's cgroup: below the base, neither in arbord's own leaf
 * nor in its helpers' cgroup. */
static __always_inline bool
in_tree(struct task_struct *t)
{
	__u32 level = base_level_seen;
	__u64 leaf;

	if (!base_cgid)
		return false;
	if (!level) {
		/*
		 * Not seen yet: the base may be deeper than user space
		 * counted (up to 8 levels of namespaces), and a task below
		 * it says where. Tasks that are not stop at their own level.
		 */
		for (__u32 i = 0; i < 8; i++)
			if (cgroup_at(t, base_level + i) == base_cgid) {
				level = base_level_seen = base_level + i;
				break;
			}
		if (!level)
			return false;
	}
	if (cgroup_at(t, level) != base_cgid)
		return false;
	leaf = cgroup_at(t, level + 1);
	return leaf && leaf != self_cgid && leaf != helpers_cgid;
}

/* t's process id in the PID namespace of level; 0: not there. */
static __always_inline __u32
tgid_at(struct task_struct *t, __u32 level)
{
	struct pid *p;
	struct upid u = {};

	if (!level)
		return t->tgid;
	p = BPF_CORE_READ(t, group_leader, thread_pid);
	if (!p || BPF_CORE_READ(p, level) < level || level > 63)
		return 0;
	bpf_probe_read_kernel(&u, sizeof(u), (void *)p +
	    bpf_core_field_offset(struct pid, numbers) + level * sizeof(u));
	return (__u32)u.nr;
}

/*
 * t's process id as arbord sees it. Until arbord's level is known (its
 * core thread has not run since the probes came), a task's own level
 * stands for it: a worker's is arbord's.
 */
static __always_inline __u32
vtgid(struct task_struct *t)
{
	if (pid_ns_init)
		return t->tgid;
	return tgid_at(t, ns_level ? ns_level : BPF_CORE_READ(t, thread_pid, level));
}

/*
 * The worker (its main process, as arbord sees it) process tgid belongs
 * to; 0: none. Without a lineage entry, a process in a worker's cgroup
 * (one there before the probes were) stands for itself.
 */
static __always_inline __u32
worker_of(struct task_struct *t, __u32 tgid)
{
	__u32 *w = bpf_map_lookup_elem(&tracked, &tgid);

	if (w)
		return *w;
	return base_cgid && in_tree(t) ? vtgid(t) : 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ctgid = child->tgid, key;
	bool process = child->pid == child->tgid;
	struct arbor_task *pt, *ct;

	pt = bpf_task_storage_get(&tasks, parent, 0, 0);
	if (pt && pt->key == ARBOR_SELF_KEY) {
		ns_level = BPF_CORE_READ(parent, thread_pid, level);
		see_core(parent);
	}
	if (pt && pt->key != ARBOR_SELF_KEY)
		key = pt->key;		/* a worker's descendant */
	else if (base_cgid ? in_tree(child) && !in_tree(parent) :
	    parent->tgid == arbord_tgid) {
		/*
		 * Born from arbord into a worker's leaf (with cgroups: not
		 * its guardian), or a child of arbord (lineage): a worker's
		 * main process.
		 */
		if (!process)
			return 0;	/* arbord's own threads */
		key = vtgid(child);
	} else
		return 0;
	if (process)
		bpf_map_update_elem(&tracked, &ctgid, &key, BPF_ANY);
	ct = bpf_task_storage_get(&tasks, child, 0,
	    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ct) {
		ct->key = key;
		ct->wakeup_ns = 0;
	}
	return 0;
}

static __always_inline void
fill_comm(char *dst, struct task_struct *t)
{
	bpf_probe_read_kernel_str(dst, ARBOR_COMM_LEN, t->comm);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid,
    struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	__u32 *worker = bpf_map_lookup_elem(&tracked, &tgid);
	struct arbor_rec *r;

	if (!worker)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->kind = ARBOR_REC_EXEC;
	r->tgid = vtgid(p);
	r->worker = *worker;
	r->ts = bpf_ktime_get_ns();
	fill_comm(r->comm, p);
	/*
	 * No wake-up: user space only joins a main process's exec with the
	 * core's exec event, whose arrival wakes the observability thread
	 * anyway; waking it here would put it on a CPU in the middle of a
	 * restart.
	 */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/*
 * A process's last thread exits: its record, with the fatal signal kept for
 * it. The tracepoint's shape differs between kernels (see probes_open), so
 * the programs below take what their kernel passes and share this.
 */
static __always_inline int
process_exit(struct task_struct *p)
{
	__u32 tgid = p->tgid, worker;
	struct arbor_fatal *f;
	struct arbor_rec *r;

	if (!(worker = worker_of(p, tgid)))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		__builtin_memset(r, 0, sizeof(*r));
		r->kind = ARBOR_REC_EXIT;
		r->tgid = vtgid(p);
		r->worker = worker;
		r->exit_code = p->exit_code;
		r->ts = bpf_ktime_get_ns();
		fill_comm(r->comm, p);
		f = bpf_map_lookup_elem(&fatal, &tgid);
		if (f) {
			r->has_fatal = 1;
			r->fatal = *f;
		}
		/* A main process's exit is followed by the core's exit
		 * event (see on_exec); a descendant's may be an OOM kill
		 * that nothing else announces. */
		bpf_ringbuf_submit(r, r->tgid == worker ? BPF_RB_NO_WAKEUP : 0);
	} else
		count_drop();
	bpf_map_delete_elem(&fatal, &tgid);
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/* Newer kernels (6.18) say whether the thread group is dead. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
	if (!group_dead)
		return 0;	/* a thread; the process lives on */
	return process_exit(p);
}

/*
 * Older kernels pass the task alone. do_exit drops signal->live before the
 * tracepoint, so the last thread out sees 0. (Two threads exiting at once
 * may both see it: the first claims the process in exited.)
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_v1, struct task_struct *p)
{
	__u64 born, *seen;
	__u32 tgid = p->tgid;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (!worker_of(p, tgid))
		return 0;
	/* The first of them claims the process, named by its leader's start
	 * time, which a later process of the same tgid does not share. */
	born = BPF_CORE_READ(p, group_leader, start_time);
	if (bpf_map_update_elem(&exited, &tgid, &born, BPF_NOEXIST) != 0) {
		seen = bpf_map_lookup_elem(&exited, &tgid);
		if (seen && *seen == born)
			return 0;
		bpf_map_update_elem(&exited, &tgid, &born, BPF_ANY);
	}
	return process_exit(p);
}

/* Signals whose default action ends the process. */
static __always_inline int
default_fatal(int sig)
{
	switch (sig) {
	case 17: case 18: case 19: case 20: case 21: case 22: case 23: case 28:
		return 0;	/* CHLD CONT STOP TSTP TTIN TTOU URG WINCH */
	default:
		return sig >= 1 && sig <= 31;
	}
}

SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal, int sig, struct kernel_siginfo *info,
    struct task_struct *task, int group, int result)
{
	__u32 tgid = task->tgid;
	struct arbor_fatal f = {};
	struct task_struct *cur;
	void *handler = 0;
	int code = 0;

	if (result != 0 || !default_fatal(sig))
		return 0;	/* not delivered, or not fatal by default */
	if (!worker_of(task, tgid))
		return 0;
	if (sig != SIGKILL) {
		struct sighand_struct *sh = task->sighand;
		unsigned int idx = (unsigned int)(sig - 1) & 63;

		bpf_probe_read_kernel(&handler, sizeof(handler),
		    &sh->action[idx].sa.sa_handler);
		if (handler)
			return 0;	/* handled or ignored: not fatal */
	}
	/* SEND_SIG_NOINFO (0) is a user's kill; SEND_SIG_PRIV (1) the kernel. */
	if ((unsigned long)info == 1)
		code = 0x80;
	else if (info)
		bpf_probe_read_kernel(&code, sizeof(code), &info->si_code);
	f.ts = bpf_ktime_get_ns();
	f.sig = sig;
	f.kernel = code > 0;
	if (!f.kernel) {
		cur = bpf_get_current_task_btf();
		f.sender_pid = vtgid(cur);
		fill_comm(f.sender_comm, cur);
	}
	bpf_map_update_elem(&fatal, &tgid, &f, BPF_ANY);
	return 0;
}

/* Newer kernels (6.18, and Debian 12's 6.1.192) pass the victim and its owner. */
SEC("tp_btf/mark_victim")
int BPF_PROG(on_oom_victim, struct task_struct *task, uid_t uid)
{
	__u32 tgid = task->tgid;
	struct arbor_fatal f = {}, *old;

	if (!worker_of(task, tgid))
		return 0;
	old = bpf_map_lookup_elem(&fatal, &tgid);
	if (old)
		f = *old;
	f.ts = bpf_ktime_get_ns();
	f.sig = SIGKILL;
	f.kernel = 1;
	f.oom = 1;
	f.sender_pid = 0;
	f.sender_comm[0] = 0;
	bpf_map_update_elem(&fatal, &tgid, &f, BPF_ANY);
	return 0;
}

/*
 * Older kernels pass the victim's pid alone. The OOM killer sends its
 * SIGKILL before it marks the victim, so a watched victim (its main
 * thread, the one the killer names) already has its fatal entry, from the
 * kernel: that entry is marked.
 */
SEC("tp_btf/mark_victim")
int BPF_PROG(on_oom_victim_v1, int pid)
{
	__u32 tgid = (__u32)pid;
	struct arbor_fatal *f = bpf_map_lookup_elem(&fatal, &tgid);

	if (f && f->kernel && f->sig == SIGKILL) {
		f->oom = 1;
		f->sender_pid = 0;
		f->sender_comm[0] = 0;
	}
	return 0;
}

static __always_inline void
mark_wakeup(struct task_struct *t)
{
	struct arbor_task *ts = bpf_task_storage_get(&tasks, t, 0, 0);

	if (ts)
		ts->wakeup_ns = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	mark_wakeup(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	mark_wakeup(p);
	return 0;
}

static __always_inline __u32
log2_slot(__u64 v)
{
	__u32 slot = 0;

	/* Bounded for the verifier: 64 halvings at most. */
	for (int i = 0; i < 64 && v > 1; i++) {
		v >>= 1;
		slot++;
	}
	return slot < ARBOR_HIST_SLOTS ? slot : ARBOR_HIST_SLOTS - 1;
}

/* The task switched in: how long it waited since it became runnable. */
static __always_inline void
switch_in(struct task_struct *next)
{
	struct arbor_hist *h, zero = {};
	struct arbor_task *ts;
	__u64 delta;
	__u32 key;

	ts = bpf_task_storage_get(&tasks, next, 0, 0);
	if (!ts)
		return;
	if (ts->key == ARBOR_SELF_KEY) {
		ns_level = BPF_CORE_READ(next, thread_pid, level);
		see_core(next);
	}
	if (!ts->wakeup_ns)
		return;
	delta = bpf_ktime_get_ns() - ts->wakeup_ns;
	ts->wakeup_ns = 0;
	key = ts->key;
	h = bpf_map_lookup_elem(&runq, &key);
	if (!h) {
		bpf_map_update_elem(&runq, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&runq, &key);
		if (!h)
			return;
	}
	__sync_fetch_and_add(&h->slots[log2_slot(delta)], 1);
}

/* Kernels since 5.18 pass the previous task's state. */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev,
    struct task_struct *next, unsigned int prev_state)
{
	/* A watched task preempted while runnable waits in the queue again. */
	if (prev_state == TASK_RUNNING)
		mark_wakeup(prev);
	switch_in(next);
	return 0;
}

/* Before 5.18 the state is read off the task (state became __state in 5.14). */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch_v1, bool preempt, struct task_struct *prev,
    struct task_struct *next)
{
	long state;

	if (bpf_core_field_exists(prev->__state))
		state = BPF_CORE_READ(prev, __state);
	else
		state = BPF_CORE_READ((struct task_struct___old *)prev, state);
	if (state == TASK_RUNNING)
		mark_wakeup(prev);
	switch_in(next);
	return 0;
}
