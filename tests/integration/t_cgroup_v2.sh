# SPDX-License-Identifier: BSD-2-Clause
# Resource keys on a pure cgroup v2 host, with the kernel's own controllers
# (arbord(8), CONTAINMENT; arbor.conf(5)): what each key does to real
# processes, the "no internal processes" rule, and the figures status shows.
# A hybrid host (memory, pids and cpu in v1) skips them, saying so: make
# check runs them in the VM stage (tests/vm/), on Debian 12's own kernel.
# timeout: 240

# need_v2 CONTROLLER...: 77 unless each is a v2 controller of the mount.
need_v2() {
	need_cgroups || return $?
	local c
	for c in "$@"; do
		grep -qw "$c" "$CGMOUNT/cgroup.controllers" 2>/dev/null ||
			{ echo "$c is not a cgroup v2 controller here (a hybrid host: the VM stage runs this)"; return 77; }
	done
}

# cg PATH FILE: a file of the node's cgroup.
cg() { cat "$CGMOUNT/$(json "$1" .cgroup)/$2"; }
# event_count PATH KEY: a count of the node's memory.events.
event_count() { awk -v k="$2" '$1 == k { print $2 }' "$CGMOUNT/$(json "$1" .cgroup)/memory.events"; }
running_since() { is_state "$1" running && [ "$(pid_of "$1")" = "$2" ]; }

test_memory_high_throttles_and_never_kills() {
	need_v2 memory || return $?
	# 17 MiB held against a high of 16 MiB: the kernel reclaims and
	# throttles (there is nothing to swap to), and kills nothing. The
	# 17 MiB are dd's buffer, filled by one read(2) of /dev/zero: charged
	# to w whatever else is charged where. 1 MiB over, the throttle's sleeps
	# stay short (they grow with the square of the overage: 24 MiB, and
	# python touching them page by page, took 30-40 s under TCG). dd must
	# end well (an OOM kill of it would fail the wait, and show in
	# oom_kill); the worker, sh, goes on.
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; memory_high = "16M"; command = ["/bin/sh", "-c",
    "dd if=/dev/zero of=/dev/null bs=17M count=1 2>$T/dd && : > $T/held; exec sleep 1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "w running" is_state root/w running || return 1
	local p=$(pid_of root/w)
	wait_for "17 MiB touched" test -e "$T/held" || fail "dd: $(cat "$T/dd")" || return 1
	assert_eq "memory.high" $((16 << 20)) "$(cg root/w memory.high)" || return 1
	[ "$(event_count root/w high)" -gt 0 ] || fail "no memory.high event: $(cg root/w memory.events)" || return 1
	echo "report: memory.events: $(tr '\n' ' ' <"$CGMOUNT/$(json root/w .cgroup)/memory.events")"
	assert_eq "oom kills" 0 "$(event_count root/w oom_kill)" || return 1
	running_since root/w "$p" || fail "w was restarted: $(ctl status)"
}

test_memory_swap_max_and_weights_are_the_kernels() {
	need_v2 memory cpu || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sleep", "1000"]; memory_swap_max = "32M"; cpu_weight = 50; io_weight = 300; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "w running" is_state root/w running || return 1
	if [ -e "$CGMOUNT/$(json root/w .cgroup)/memory.swap.max" ]; then
		assert_eq "memory.swap.max" $((32 << 20)) "$(cg root/w memory.swap.max)" || return 1
	else
		echo "report: no swap accounting in this kernel: memory.swap.max not checked"
	fi
	assert_eq "cpu.weight" 50 "$(cg root/w cpu.weight)" || return 1
	if grep -qw io "$CGMOUNT/cgroup.controllers"; then
		assert_eq "io.weight" "default 300" "$(cg root/w io.weight)" || return 1
	else
		echo "report: no io controller: io.weight not checked"
	fi
	assert_eq "status limits" "50 300" "$(json root/w '"\(.limits.cpu_weight) \(.limits.io_weight)"')"
}

# A worker's main process (sh) waits on a child that outgrows the limit.
# Without oom_group the kernel kills the child alone and sh goes on; with
# it, the whole worker goes at once (memory.oom.group).
test_oom_group_takes_the_whole_worker() {
	need_v2 memory || return $?
	local hog="python3 -c 'x = bytearray(256 << 20); x[::4096] = b\\\"y\\\" * len(x[::4096])'"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "group"; restart = "temporary"; memory_max = "48M"; memory_swap_max = 0; oom_group = true;
    command = ["/bin/sh", "-c", "$hog; touch $T/group-survived; exit 3"]; },
  { name = "lone"; restart = "temporary"; memory_max = "48M"; memory_swap_max = 0;
    command = ["/bin/sh", "-c", "$hog; touch $T/lone-survived; exit 3"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "both stopped" bash -c "[ \"\$($ARBORCTL -s $T/sock status root/group --json | jq -r .state)\" = stopped ] && [ \"\$($ARBORCTL -s $T/sock status root/lone --json | jq -r .state)\" = stopped ]" || return 1
	assert_eq "the grouped worker's main process" "SIGKILL" "$(json root/group .last_exit.signal)" || return 1
	[ ! -e "$T/group-survived" ] || fail "sh outlived its child's OOM kill despite oom_group" || return 1
	assert_eq "the lone worker's main process exits by itself" "3" "$(json root/lone .last_exit.status)" || return 1
	[ -e "$T/lone-survived" ] || fail "without oom_group sh was killed too" || return 1
	# Its exit is an OOM kill, of the worker itself.
	wait_for "exit event with oom" sh -c "'$ARBORCTL' -s '$T/sock' events | grep '\"path\":\"root/group\"' | grep '\"event\":\"exit\"' | grep -q '\"oom\":true'" || return 1
	wait_for "counted by reason oom" sh -c "'$ARBORCTL' -s '$T/sock' metrics | grep -q '^arbor_child_exits_total{path=\"root/group\",reason=\"oom\"} 1'"
}

# cpu_max on a supervisor bounds everything below it: two spinners share
# 20% of one CPU.
test_cpu_max_on_a_supervisor_bounds_its_subtree() {
	need_v2 cpu || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "sub"; strategy = "one_for_one"; cpu_max = "20%"; children = (
    { name = "a"; command = ["/bin/sh", "-c", "while :; do :; done"]; },
    { name = "b"; command = ["/bin/sh", "-c", "while :; do :; done"]; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "spinners running" bash -c "[ \"\$($ARBORCTL -s $T/sock status root/sub/b --json | jq -r .state)\" = running ]" || return 1
	assert_eq "cpu.max" "20000 100000" "$(cg root/sub cpu.max)" || return 1
	usage() { awk '$1 == "usage_usec" { print $2 }' "$CGMOUNT/$(json root/sub .cgroup)/cpu.stat"; }
	local u0 t0 u1 t1 share
	u0=$(usage); t0=$EPOCHREALTIME
	sleep 2	# measuring a rate over a span
	u1=$(usage); t1=$EPOCHREALTIME
	share=$(awk "BEGIN { printf \"%.3f\", ($u1 - $u0) / 1e6 / ($t1 - $t0) }")
	echo "report: two spinners under cpu_max 20%: $share of a CPU"
	awk "BEGIN { exit !($share <= 0.25 && $share >= 0.1) }" || fail "the subtree used $share of a CPU (bound 0.20)" || return 1
	# A supervisor's cgroup holds no process: its workers are in leaves.
	assert_eq "processes in root/sub itself" "" "$(cg root/sub cgroup.procs)"
}

# The "no internal processes" rule: limits on supervisors enable
# controllers in their subtree_control, which a cgroup holding processes
# could not do; an exec health check runs below its worker's leaf, bounded
# by the worker's limits.
test_limits_on_supervisors_and_a_check_below_a_leaf() {
	need_v2 memory pids || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; memory_max = "512M"; pids_max = 200; children = (
  { name = "sub"; strategy = "one_for_one"; memory_max = "256M"; pids_max = 100; children = (
    { name = "w"; memory_max = "64M"; pids_max = 20; command = ["/bin/sleep", "1000"];
      health = { exec = ["/bin/sh", "-c", "cat /proc/self/cgroup > $T/check-cgroup"]; interval = 200; start_period = 0; }; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "w running" is_state root/sub/w running || return 1
	wait_for "a check ran" test -s "$T/check-cgroup" || return 1
	local leaf
	leaf=$(json root/sub/w .cgroup)
	case $(cat "$T/check-cgroup") in
	"0::$leaf/"*) ;;
	*) fail "the check ran in $(cat "$T/check-cgroup"), not below $leaf" || return 1 ;;
	esac
	assert_eq "root/sub memory.max" $((256 << 20)) "$(cg root/sub memory.max)" || return 1
	assert_eq "root/sub pids.max" 100 "$(cg root/sub pids.max)" || return 1
	assert_eq "root/sub/w memory.max" $((64 << 20)) "$(cg root/sub/w memory.max)" || return 1
	assert_eq "supervisor root holds no process" "" "$(cg root cgroup.procs)" || return 1
	assert_eq "supervisor root/sub holds no process" "" "$(cg root/sub cgroup.procs)" || return 1
	grep -qw memory "$CGMOUNT/$(json root/sub .cgroup)/cgroup.subtree_control" ||
		fail "memory not enabled below root/sub: $(cg root/sub cgroup.subtree_control)" || return 1
	! log_has "not applied" || fail "a limit was not applied: $(grep 'not applied' "$T/log")"
}

# memory_at_least PATH BYTES: status shows PATH's memory_bytes at BYTES or more.
memory_at_least() {
	local mem
	mem=$(json "$1" .memory_bytes)
	[ "$mem" != null ] && [ -n "$mem" ] && [ "$mem" -ge "$2" ]
}

# Memory and process figures come from the worker's own cgroup: shown by
# status (both forms) and the console's /api/status.
test_memory_figures_in_status_and_the_console() {
	need_v2 memory pids || return $?
	local port
	port=$(free_port)
	conf tree <<CONF
observability = { metrics_listen = "127.0.0.1:$port"; };
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/usr/bin/python3", "-c",
    "import time; x = bytearray(8 << 20); x[::4096] = b'y' * len(x[::4096]); open('$T/held', 'w').close(); time.sleep(1000)"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "8 MiB held" test -e "$T/held" || return 1
	# A status reads figures itself for its first 3 ms, then takes them
	# from the sampler, never older than a pass, its period and a second
	# (arbord(8), METRICS): under the VM's slow clock start_arbord's own
	# status can still be the one it shows, from before the 8 MiB.
	wait_for "root/w's memory_bytes at 8 MiB" memory_at_least root/w $((8 << 20)) ||
		fail "memory_bytes of root/w: $(json root/w .memory_bytes)" || return 1
	[ "$(json root/w .pids)" -ge 1 ] || fail "pids of root/w: $(json root/w .pids)" || return 1
	ctl status | awk '$1 == "w" { print $6 }' | grep -qE '^[0-9.]+[KMG]' || fail "no MEM column: $(ctl status)" || return 1
	console_cookie "$T/jar" || return 1
	wait_for "the console's status" curl -b "$T/jar" -sf -o "$T/api" "http://127.0.0.1:$port/api/status" || return 1
	jq -e '.. | objects | select(.path? == "root/w") | .memory_bytes > 0' "$T/api" >/dev/null ||
		fail "the console's status has no memory for root/w: $(head -c 400 "$T/api")"
}
