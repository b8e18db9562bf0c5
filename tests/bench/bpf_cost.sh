#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What arbord's eBPF probes cost the rest of the machine: perf bench sched
# pipe (two processes ping-ponging, a context switch per message) pinned to
# one CPU, with arbord's probes attached vs not, in alternating pairs.
# Prints usecs/op per run and the median ratio. Not a test: figures only.
set -euo pipefail
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-7}
LOOPS=${LOOPS:-200000}
dir=$(mktemp -d /tmp/arbor-bench.XXXXXX)
cleanup() {
	if [ -s "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT

pipe_usecs() {
	taskset -c 0 perf bench sched pipe -l "$LOOPS" 2>/dev/null |
		awk '/usecs\/op/ { print $1 }'
}

start_arbord() {
	# $1: extra tree children; $2: daemon keys (cgroup = "off": lineage only)
	cat >"$dir/tree.conf" <<CONF
daemon = { ${2:-} };
tree = { strategy = "one_for_one"; children = (
  { name = "idle"; command = ["/bin/sleep", "100000"]; }$1
); };
CONF
	"$BUILD/arbord" -c "$dir/tree.conf" -s "$dir/sock" >"$dir/log" 2>&1 &
	echo $! >"$dir/pid"
	for _ in $(seq 100); do
		grep -qE "eBPF probes attached|eBPF unavailable" "$dir/log" && break
		sleep 0.05
	done
	grep -q "eBPF probes attached" "$dir/log" || {
		echo "bpf_cost: eBPF unavailable here: $(grep -o 'eBPF unavailable.*' "$dir/log")"
		exit 0
	}
}

stop_arbord() {
	"$BUILD/arborctl" -s "$dir/sock" shutdown >/dev/null 2>&1 || true
	wait "$(cat "$dir/pid")" 2>/dev/null || true
	rm -f "$dir/pid"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

RUNQLAT=$(command -v runqlat || true)
echo "bpf_cost: perf bench sched pipe -l $LOOPS, pinned to CPU 0, $ROUNDS rounds${RUNQLAT:+ (off, arbord, libbpf-tools runqlat)}"
: >"$dir/ratios"
: >"$dir/lineage"
: >"$dir/runqlat"
for r in $(seq "$ROUNDS"); do
	off=$(pipe_usecs)
	start_arbord ""
	on=$(pipe_usecs)
	stop_arbord
	# The probes as they were before they knew cgroups: lineage only.
	start_arbord "" 'cgroup = "off";'
	lin=$(pipe_usecs)
	stop_arbord
	echo "$on $off $lin" | awk -v r="$r" '{ printf "  round %d: off %.3f us/op, arbord %.3f us/op, ratio %.3f, arbord (cgroup off) %.3f us/op, ratio %.3f", r, $2, $1, $1 / $2, $3, $3 / $2 }'
	echo "$on $off" | awk '{ print $1 / $2 }' >>"$dir/ratios"
	echo "$lin $off" | awk '{ print $1 / $2 }' >>"$dir/lineage"
	if [ -n "$RUNQLAT" ]; then
		"$RUNQLAT" 3600 1 >/dev/null 2>&1 &
		rq=$!
		sleep 1	# attached
		rql=$(pipe_usecs)
		kill -INT "$rq" 2>/dev/null; wait "$rq" 2>/dev/null
		echo "$rql $off" | awk '{ printf ", runqlat %.3f us/op, ratio %.3f", $1, $1 / $2 }'
		echo "$rql $off" | awk '{ print $1 / $2 }' >>"$dir/runqlat"
	fi
	echo
done
printf "bpf_cost: untracked processes, median ratio arbord/off: %.3f (target <= 1.10)\n" "$(median <"$dir/ratios")"
printf "bpf_cost: untracked processes, median ratio arbord (cgroup off, lineage only)/off: %.3f (the cgroup-aware probes no worse than this)\n" "$(median <"$dir/lineage")"
[ -s "$dir/runqlat" ] &&
	printf "bpf_cost: untracked processes, median ratio runqlat/off: %.3f\n" "$(median <"$dir/runqlat")"

# Worst case: the benchmark is itself a worker, every switch is measured.
: >"$dir/ratios"
for r in $(seq "$ROUNDS"); do
	off=$(pipe_usecs)
	start_arbord ",
  { name = \"bench\"; restart = \"temporary\"; stdout = \"file:$dir/bench.out\";
    command = [\"/usr/bin/taskset\", \"-c\", \"0\", \"/usr/bin/perf\", \"bench\", \"sched\", \"pipe\", \"-l\", \"$LOOPS\"]; }"
	for _ in $(seq 600); do
		grep -q "usecs/op" "$dir/bench.out" 2>/dev/null && break
		sleep 0.05
	done
	on=$(awk '/usecs\/op/ { print $1 }' "$dir/bench.out")
	rm -f "$dir/bench.out"
	stop_arbord
	echo "$on $off" | awk -v r="$r" '{ printf "  round %d: off %.3f us/op, on (as a worker) %.3f us/op, ratio %.3f\n", r, $2, $1, $1 / $2 }'
	echo "$on $off" | awk '{ print $1 / $2 }' >>"$dir/ratios"
done
printf "bpf_cost: the benchmark as an arbord worker, median ratio on/off: %.3f\n" "$(median <"$dir/ratios")"
