/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ARBOR_NO_BPF
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "shape.h"

const struct probe_def probe_defs[] = {
	{ "fork", "sched_process_fork", { { "on_fork", "pp" } } },
	{ "exec", "sched_process_exec", { { "on_exec", "pip" } } },
	{ "exit", "sched_process_exit",
	    { { "on_exit", "pi" }, { "on_exit_v1", "p" } } },
	{ "signal", "signal_generate", { { "on_signal", "ippii" } } },
	{ "oom", "mark_victim",
	    { { "on_oom_victim", "pi" }, { "on_oom_victim_v1", "i" } } },
	{ "wakeup", "sched_wakeup", { { "on_wakeup", "p" } } },
	{ "wakeup_new", "sched_wakeup_new", { { "on_wakeup_new", "p" } } },
	{ "switch", "sched_switch",
	    { { "on_switch", "ippi" }, { "on_switch_v1", "ipp" } } },
};
const size_t probe_ndefs = sizeof(probe_defs) / sizeof(probe_defs[0]);

/* id with typedefs and qualifiers peeled off; NULL if none. */
static const struct btf_type *
peel(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	for (int i = 0; t && i < 32; i++) {
		if (!btf_is_typedef(t) && !btf_is_const(t) &&
		    !btf_is_volatile(t) && !btf_is_restrict(t))
			return t;
		t = btf__type_by_id(btf, t->type);
	}
	return NULL;
}

static char
kind_of(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = peel(btf, id);

	if (!t)
		return '?';
	if (btf_is_ptr(t))
		return 'p';
	if (btf_is_int(t) || btf_is_enum(t) || btf_is_enum64(t))
		return 'i';
	return '?';
}

static const char *
kind_word(char k)
{
	return k == 'p' ? "pointer" : k == 'i' ? "int" : "other";
}

/* "(pointer, int)" of the kinds in ks, n of them. */
static void
say_kinds(char *buf, size_t len, const char *ks, size_t n)
{
	size_t off = 0;

	off += (size_t)snprintf(buf, len, "(");
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    i ? ", " : "", kind_word(ks[i]));
	if (off < len)
		snprintf(buf + off, len - off, ")");
}

bool
shape_fits(const struct btf *btf, const char *tp, const char *args,
    char *why, size_t whylen)
{
	char name[128], have[16] = "", hs[96], ws[96];
	const struct btf_type *t;
	const struct btf_param *p;
	size_t want = strlen(args), n;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0) {
		snprintf(why, whylen, "the kernel has no tracepoint %s", tp);
		return false;
	}
	/* typedef void (*btf_trace_X)(void *, args...) */
	t = peel(btf, (__u32)id);
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1) {
		snprintf(why, whylen, "%s's BTF is not a function prototype", name);
		return false;
	}
	p = btf_params(t) + 1;
	n = btf_vlen(t) - 1;
	for (size_t i = 0; i < n && i < sizeof(have) - 1; i++)
		have[i] = kind_of(btf, p[i].type);
	if (n >= want && strncmp(have, args, want) == 0)
		return true;
	say_kinds(hs, sizeof(hs), have, n < sizeof(have) - 1 ? n : sizeof(have) - 1);
	say_kinds(ws, sizeof(ws), args, want);
	snprintf(why, whylen, "tracepoint %s takes %s here, not %s", tp, hs, ws);
	return false;
}

int
shape_choose(const struct btf *btf, const struct probe_def *def, char *why,
    size_t whylen)
{
	char one[160];
	size_t off = 0;

	if (why && whylen)
		why[0] = 0;
	for (int i = 0; i < PROBE_VARIANTS && def->v[i].prog; i++) {
		if (shape_fits(btf, def->tp, def->v[i].args, one, sizeof(one)))
			return i;
		/* Every variant says the same of a missing tracepoint. */
		if (i == 0 || strstr(one, "takes"))
			off += (size_t)snprintf(why + (off < whylen ? off : whylen),
			    off < whylen ? whylen - off : 0, "%s%s",
			    i ? "; " : "", one);
	}
	return -1;
}
#endif
