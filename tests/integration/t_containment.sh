# SPDX-License-Identifier: BSD-2-Clause
# Containment (arbord(8), CONTAINMENT): the cgroup subtree, what it kills,
# what it bounds and what it measures, on real processes.
# lanes: split (in the VM, under TCG, its tests take 200 s of the stage's
# some 250: in two lanes, whole, it held one lane 13 s past the other)

# proc_state PID: the state letter of PID (R, S, Z...), empty once gone.
proc_state() { sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -c1; }
gone() { local s; s=$(proc_state "$1"); [ -z "$s" ] || [ "$s" = Z ]; }
contained() { [ "$(json root .containment)" = cgroup ]; }

# A worker that leaves two descendants behind, one setsid, one double
# forked (re-parented), then waits for $T/go. Each start checks whether the
# escapees of the start before are still there, and says so in $T/seen.
escapee_tree() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "for p in \$(cat $T/esc 2>/dev/null); do s=\$(sed 's/.*) //' /proc/\$p/stat 2>/dev/null | cut -c1); [ -n \"\$s\" ] && [ \"\$s\" != Z ] && echo \$p >> $T/seen; done; : > $T/esc; setsid sleep 1000 & echo \$! >> $T/esc; (sleep 1001 & echo \$! >> $T/esc); while [ ! -e $T/go ]; do sleep 0.02; done; rm -f $T/go; exit 1"]; },
  { name = "sibling"; command = ["/bin/sleep", "1000"]; }
); };
CONF
}

test_setsid_and_double_fork_escapees_are_gone_before_the_restart() {
	need_cgroups || return $?
	escapee_tree
	start_arbord "$T/tree.conf" || return 1
	contained || fail "not contained: $(json root .containment)" || return 1
	wait_for "two escapees" eval '[ "$(wc -l < "$T/esc" 2>/dev/null)" = 2 ]' || return 1
	local esc p=$(pid_of root/w)
	esc=$(cat "$T/esc")
	for e in $esc; do
		assert_eq "escapee $e in the worker's cgroup" "0::/$(basename "$(cgbase)")/root/w" "$(grep '^0::' /proc/"$e"/cgroup)" || return 1
	done
	touch "$T/go"
	wait_for "restarted" is_running_new root/w "$p" || return 1
	wait_for "the new start's escapees" eval '[ "$(wc -l < "$T/esc" 2>/dev/null)" = 2 ]' || return 1
	[ ! -s "$T/seen" ] || fail "escapees still there when the replacement started: $(cat "$T/seen")" || return 1
	for e in $esc; do
		gone "$e" || fail "escapee $e outlived its worker" || return 1
	done
}

test_stop_leaves_the_cgroup_empty() {
	need_cgroups || return $?
	escapee_tree
	start_arbord "$T/tree.conf" || return 1
	wait_for "two escapees" eval '[ "$(wc -l < "$T/esc" 2>/dev/null)" = 2 ]' || return 1
	ctl stop root/w >/dev/null || return 1
	wait_for "stopped" is_state root/w stopped || return 1
	for e in $(cat "$T/esc"); do
		gone "$e" || fail "escapee $e outlived stop" || return 1
	done
	assert_eq "processes left in root/w" "" "$(cat "$(cgbase)/root/w/cgroup.procs")"
	stop_arbord || return 1
	for e in $(cat "$T/esc"); do gone "$e" || return 1; done
	[ ! -e "$(cgbase)" ] || fail "base left after an orderly exit: $(find "$(cgbase)" -type d)"
}

test_a_stopped_supervisor_leaves_its_subtree_empty() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "sub"; strategy = "one_for_all"; children = (
    { name = "a"; command = ["/bin/sh", "-c", "setsid sleep 1000 & echo \$! > $T/a; exec sleep 1000"]; },
    { name = "b"; command = ["/bin/sh", "-c", "(sleep 1000 &); exec sleep 1000"]; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "a's escapee" test -s "$T/a" || return 1
	wait_for "b running" is_state root/sub/b running || return 1
	ctl stop root/sub >/dev/null || return 1
	wait_for "sub stopped" is_state root/sub stopped || return 1
	assert_eq "processes below root/sub" "" "$(find "$(cgbase)/root/sub" -name cgroup.procs -exec cat {} +)" || return 1
	gone "$(cat "$T/a")"
}

test_sigkilled_arbord_leaves_no_descendant() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "sleep 1000 & setsid sleep 1001 & (sleep 1002 &); exec sleep 1003"]; },
  { name = "sub"; strategy = "one_for_one"; children = (
    { name = "x"; command = ["/bin/sh", "-c", "setsid sh -c 'sleep 1004 & exec sleep 1005' & exec sleep 1006"]; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "seven processes" eval '[ "$(find "$(cgbase)/root" -name cgroup.procs -exec cat {} + | wc -l)" -ge 7 ]' || return 1
	local pids i start end
	pids=$(find "$(cgbase)/root" -name cgroup.procs -exec cat {} +)
	start=$EPOCHREALTIME
	kill -9 "$ARBORD_PID"
	for ((i = 0; i < 100 * ${ARBOR_TIME_SCALE:-1}; i++)); do
		local left=
		for p in $pids; do gone "$p" || left="$left $p"; done
		[ -z "$left" ] && break
		sleep 0.01
	done
	end=$EPOCHREALTIME
	[ -z "$left" ] || fail "left running ${ARBOR_TIME_SCALE:-1} s after arbord was SIGKILLed:$left ($(ps -o pid,cmd -p "${left# }" | tail -n +2))" || return 1
	echo "report: all $(echo $pids | wc -w) processes of the subtree gone $(awk "BEGIN { printf \"%.0f\", ($end - $start) * 1000 }") ms after SIGKILL (polled every 10 ms)"
}

test_leftover_subtree_is_killed_and_removed_at_the_next_start() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "setsid sleep 1000 & echo \$! > $T/esc; exec sleep 1001"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "escapee" test -s "$T/esc" || return 1
	local esc guardian
	esc=$(cat "$T/esc")
	# Both arbord and its guardian gone at once (the guardian stopped first,
	# or it would empty the subtree): the escapee is left behind.
	guardian=$(grep -v "^$ARBORD_PID\$" "$(cgbase)/arbord/cgroup.procs")
	[ -n "$guardian" ] || fail "no guardian in $(cgbase)/arbord" || return 1
	kill -STOP "$guardian"
	kill -9 "$ARBORD_PID"
	wait "$ARBORD_PID" 2>/dev/null
	kill -9 "$guardian"
	sleep 0.1
	alive "$esc" || fail "the escapee should have been left (nothing killed it)" || return 1
	start_arbord "$T/tree.conf" || { kill -9 "$esc"; return 1; }
	log_has "left by an arbord that did not exit in order: killing and removing it" || fail "no word of the leftover" || return 1
	wait_for "the leftover escapee killed" gone "$esc" || return 1
	wait_for "the new escapee" eval '[ "$(cat "$T/esc")" != "$esc" ]' || return 1
	is_state root/w running
}

test_memory_max_gives_a_real_oom_kill_counted_without_bpf() {
	need_cgroups || return $?
	conf tree <<CONF
observability = { bpf = "off"; histograms = "worker"; };
tree = { strategy = "one_for_one"; children = (
  { name = "hog"; command = ["/usr/bin/tail", "/dev/zero"]; restart = "temporary"; memory_max = "64M"; memory_swap_max = 0; },
  { name = "sibling"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	log_has "memory_max: not applied" && { echo "no memory controller here: $(grep 'memory_max: not applied' "$T/log")"; return 77; }
	wait_for "the hog stopped" is_state root/hog stopped || return 1
	assert_eq "exit signal" SIGKILL "$(json root/hog .last_exit.signal)" || return 1
	wait_for "exit event with oom" sh -c "'$ARBORCTL' -s '$T/sock' events | grep '\"path\":\"root/hog\"' | grep '\"event\":\"exit\"' | grep -q '\"oom\":true'" || return 1
	ctl metrics | grep -q '^arbor_oom_kills_total{path="root/hog"} [1-9]' || fail "no OOM kill counted: $(ctl metrics | grep oom)" || return 1
	is_state root/sibling running
}

test_pids_max_bounds_a_fork_bomb() {
	need_cgroups || return $?
	# Forks 200 sleepers, going on when a fork fails; says how many it got.
	cat >"$T/bomb.py" <<PY
import os, time
n = 0
for i in range(200):
    try:
        if os.fork() == 0:
            time.sleep(1000)
            os._exit(0)
        n += 1
    except OSError:
        pass
open("$T/bomb", "w").write(str(n))
time.sleep(1000)
PY
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "bomb"; command = ["/usr/bin/python3", "$T/bomb.py"]; pids_max = 20; },
  { name = "sibling"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	log_has "pids_max: not applied" && { echo "no pids controller here: $(grep 'pids_max: not applied' "$T/log")"; return 77; }
	wait_for "the bomb's loop over" test -s "$T/bomb" || return 1
	local n
	[ "$(cat "$T/bomb")" -lt 20 ] || fail "the bomb forked $(cat "$T/bomb") times (bound 20)" || return 1
	n=$(json root/bomb .pids)
	[ "$n" -le 20 ] && [ "$n" -ge 10 ] || fail "pids of the bomb: $n (bound 20)" || return 1
	assert_eq "pids_max applied" 20 "$(json root/bomb .limits.pids_max)" || return 1
	is_state root/sibling running || return 1
	ctl restart root/sibling >/dev/null || return 1
	wait_for "the sibling restarts while the bomb is at its bound" is_state root/sibling running
}

test_cpu_seconds_grow_for_a_spinner_only() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "spin"; command = ["/bin/sh", "-c", "while :; do :; done"]; },
  { name = "idle"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	cpu() { ctl metrics | awk -v p="$1" '$1 == "arbor_child_cpu_seconds_total{path=\"" p "\",mode=\"user\"}" || $1 == "arbor_child_cpu_seconds_total{path=\"" p "\",mode=\"system\"}" { s += $2 } END { print s + 0 }'; }
	spin_above() { awk "BEGIN { exit !($(cpu root/spin) > $1) }"; }
	local s1 i1 s2 i2
	wait_for "spinner on the CPU" spin_above 0.05 || return 1
	s1=$(cpu root/spin); i1=$(cpu root/idle)
	wait_for "spinner's CPU time grows" spin_above "$s1 + 0.2" || return 1
	s2=$(cpu root/spin); i2=$(cpu root/idle)
	awk "BEGIN { exit !($i2 - $i1 < 0.01) }" || fail "the idle worker's CPU time grew: $i1 -> $i2" || return 1
	local st
	st=$(json root/spin .cpu_seconds)
	awk "BEGIN { exit !($st >= $s2) }" || fail "status cpu_seconds $st below the metric's $s2" || return 1
	ctl status | grep -q '^ *spin .* [0-9.]*s ' || fail "no CPU column: $(ctl status)"
}

# A request reads figures itself for its first 3 ms, then takes those a
# sampler keeps (at 10,000 workers a status cannot read every worker's
# files). With no budget at all, every figure after the first comes from the
# cache, and still follows the workers.
test_figures_from_the_cache_follow_the_workers() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "forker"; command = ["/bin/sh", "-c", "while [ ! -e $T/go ]; do sleep 0.02; done; for i in 1 2 3 4; do sleep 1000 & done; wait"]; },
  { name = "spin"; command = ["/bin/sh", "-c", "while :; do :; done"]; }
); };
CONF
	ARBOR_FIG_BUDGET_MS=0 start_arbord "$T/tree.conf" || return 1
	# A worker's first figures are read within a cold budget of 15 ms,
	# or by the sampler after it: a loaded machine (the VM) may answer
	# the first statuses without them.
	read_yet() { [ "$(json "$1" "$2")" != null ]; }
	wait_for "forker's first figures" read_yet root/forker .pids || return 1
	wait_for "spin's first figures" read_yet root/spin .cpu_seconds || return 1
	local n=$(json root/forker .pids) s1
	[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "forker's pids before: $n" || return 1
	s1=$(json root/spin .cpu_seconds)
	touch "$T/go"
	wait_for "status says 5 pids" bash -c "[ \$($ARBORCTL -s $T/sock status root/forker --json | jq .pids) = 5 ]" || return 1
	wait_for "the metric says 5 pids" bash -c "$ARBORCTL -s $T/sock metrics | grep -qx 'arbor_child_pids{path=\"root/forker\"} 5'" || return 1
	grown() { awk "BEGIN { exit !($(json root/spin .cpu_seconds) > $s1 + 0.2) }"; }
	wait_for "the spinner's CPU time grows" grown
}

# Figures never read (a worker just added) are read by a request for its
# first 15 ms only; past that it answers without them and the sampler reads
# them (a status of 10,000 just started would otherwise read 20,000 files).
# With no time for them at all, a status after the reload has the cached
# workers' figures and none for the new one; a later one has its too. A
# scrape is not held to it.
test_a_status_answers_without_figures_it_has_no_time_for_and_the_next_has_them() {
	need_cgroups || return $?
	write() {
		conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "a"; command = ["/bin/sleep", "1000"]; },
  { name = "b"; command = ["/bin/sleep", "1000"]; }$1
); };
CONF
	}
	write ""
	ARBOR_FIG_COLD_MS=0 start_arbord "$T/tree.conf" || return 1
	have() {	# have N PATH...: N of the named workers have figures
		local n=$1
		shift
		[ "$(ctl status --json | jq --arg n "$*" '[.children[] | select(.path as $x | $n | split(" ") | index($x)) | select(.pids == 1 and (.cpu_seconds | type) == "number")] | length')" = "$n" ]
	}
	wait_for "a's and b's figures, read in the background" have 2 root/a root/b || return 1
	write ', { name = "c"; command = ["/bin/sleep", "1000"]; }'
	ctl reload >/dev/null || return 1
	# Not by a status: that would ask for c's figures first.
	wait_for "c started" log_has "exec root/c " || return 1
	local st
	st=$(ctl status --json) || fail "status failed" || return 1
	assert_eq "c's figures at the first status after it started" "null null" \
	    "$(jq -r '.children[] | select(.path == "root/c") | "\(.pids) \(.cpu_seconds)"' <<<"$st")" || return 1
	assert_eq "a's and b's figures in the same status" 2 \
	    "$(jq '[.children[] | select(.pids == 1 and (.cpu_seconds | type) == "number")] | length' <<<"$st")" || return 1
	wait_for "c's figures, read in the background" have 1 root/c || return 1
	# A scrape reads what it finds missing, however long that takes: a
	# series left out would keep exporting its last value.
	write ', { name = "c"; command = ["/bin/sleep", "1000"]; }, { name = "d"; command = ["/bin/sleep", "1000"]; }'
	ctl reload >/dev/null || return 1
	wait_for "d started" log_has "exec root/d " || return 1
	ctl metrics | grep -qx 'arbor_child_pids{path="root/d"} 1' ||
	    fail "the first scrape after d started has no pids of d: $(ctl metrics | grep 'arbor_child_pids')"
}

test_cgroup_off_keeps_process_groups() {
	conf tree <<CONF
daemon = { cgroup = "off"; };
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "setsid sleep 1000 & echo \$! > $T/escapee; while [ ! -e $T/go ]; do sleep 0.02; done; rm -f $T/go; exit 1"]; memory_max = "64M"; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	log_has 'containment: process groups (daemon.cgroup = "off")' || fail "fallback not said" || return 1
	log_has 'root/w: memory_max: not applied: containment is process groups' || fail "no warning for the limit" || return 1
	assert_eq "containment" pgroup "$(json root/w .containment)" || return 1
	assert_eq "no cgroup" null "$(json root/w .cgroup)" || return 1
	wait_for "escapee started" test -s "$T/escapee" || return 1
	local esc=$(cat "$T/escapee") p=$(pid_of root/w)
	touch "$T/go"
	wait_for "restarted" is_running_new root/w "$p" || return 1
	# Process groups' limit: it left the group, so the group kill missed it.
	alive "$esc" || fail "expected the setsid escapee to survive a restart with process groups" || return 1
	stop_arbord
	# It was re-parented to arbord (a subreaper), which kills it on exit.
	wait_for "escapee killed at arbord's exit" dead "$esc"
}

test_unprivileged_arbord_falls_back_to_process_groups() {
	[ "$(id -u)" = 0 ] || { echo "needs root to become another user"; return 77; }
	command -v setpriv >/dev/null || { echo "no setpriv"; return 77; }
	ensure_test_user || return 1
	chmod 755 "$T"
	mkdir -m 0755 "$T/u" && chown arbor-it "$T/u"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	setpriv --reuid arbor-it --regid arbor-it --clear-groups \
	    "$ARBORD" -c "$T/tree.conf" -s "$T/u/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" "$ARBORCTL" -s "$T/u/sock" status || return 1
	log_has "containment: process groups, not cgroups: " || fail "the fallback was not said" || return 1
	assert_eq "containment" pgroup "$("$ARBORCTL" -s "$T/u/sock" status root/w --json | jq -r .containment)"
}

test_explicit_cgroup_path_that_is_not_cgroup2_is_an_error() {
	conf tree <<CONF
daemon = { cgroup = "$T/notcg"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	mkdir "$T/notcg"
	expect_exit 1 "$T/tree.conf" || return 1
	log_has "daemon.cgroup = \"$T/notcg\": $T/notcg is not on a cgroup v2 mount; nothing was started" || fail "no clear error: $(cat "$T/log")"
}

test_explicit_cgroup_path_is_used_and_removed() {
	need_cgroups || return $?
	local base="$CGMOUNT/arbor-it-$(basename "$T")"
	conf tree <<CONF
daemon = { cgroup = "$base"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	assert_eq "the worker's cgroup" "0::/arbor-it-$(basename "$T")/root/w" "$(grep '^0::' /proc/"$(pid_of root/w)"/cgroup)" || return 1
	stop_arbord || return 1
	[ ! -e "$base" ] || { find "$base" -depth -type d -exec rmdir {} +; fail "$base left behind"; }
}

test_reload_applies_new_limits_and_keeps_unchanged_workers() {
	need_cgroups || return $?
	write() {
		conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "sub"; strategy = "one_for_one"; pids_max = $1; children = (
    { name = "a"; command = ["/bin/sleep", "1000"]; pids_max = $2; },
    { name = "b"; command = ["/bin/sleep", "1001"]; }
  ); }
); };
CONF
	}
	write 100 10
	start_arbord "$T/tree.conf" || return 1
	log_has "pids_max: not applied" && { echo "no pids controller here"; return 77; }
	wait_for "b running" is_state root/sub/b running || return 1
	local pa pb cb
	pa=$(pid_of root/sub/a); pb=$(pid_of root/sub/b)
	cb=$(json root/sub/b .cgroup)
	write 50 5
	ctl reload >/dev/null || return 1
	wait_for "a restarted with its new limit" is_running_new root/sub/a "$pa" || return 1
	assert_eq "a's limit" 5 "$(json root/sub/a .limits.pids_max)" || return 1
	assert_eq "the supervisor's limit, in place" 50 "$(json root/sub .limits.pids_max)" || return 1
	assert_eq "b kept its pid" "$pb" "$(pid_of root/sub/b)" || return 1
	assert_eq "b kept its cgroup" "$cb" "$(json root/sub/b .cgroup)" || return 1
	assert_eq "b still in it" "0::$cb" "$(grep '^0::' /proc/"$pb"/cgroup)" || return 1
	local f
	f=$(v1dir pids)/root/sub/pids.max
	[ -e "$f" ] || f=$(cgbase)/root/sub/pids.max
	assert_eq "pids.max of root/sub" 50 "$(cat "$f")"
}

test_notify_from_a_setsid_descendant_is_accepted() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "n"; command = ["/bin/sh", "-c", "setsid python3 $HELPERS/notifier.py --ready & exec sleep 1000"]; ready = "notify"; ready_timeout = $((5000 * ${ARBOR_TIME_SCALE:-1})); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "ready through a process of another session" is_state root/n running
}

test_bad_resource_values_name_the_place() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/true"];
    memory_max = "12Q";
    cpu_weight = 0;
    cpu_max = "150"; }
); };
CONF
	expect_exit 1 "$T/tree.conf" || return 1
	log_has "tree.conf:3: root/w: memory_max: \"12Q\" is not a size" || fail "memory_max: $(cat "$T/log")" || return 1
	log_has "tree.conf:4: root/w: cpu_weight: 0 is out of range \[1, 10000\]" || fail "cpu_weight: $(cat "$T/log")" || return 1
	log_has "tree.conf:5: root/w: cpu_max: \"150\" is neither" || fail "cpu_max: $(cat "$T/log")"
}

# The probes know the workers by their cgroup: inside a PID namespace
# (where arbord's pids are not the kernel's) exits still carry the kernel's
# account, and pids are those arbord sees.
test_probes_see_workers_inside_a_pid_namespace() {
	need_cgroups || return $?
	command -v unshare >/dev/null || { echo "no unshare"; return 77; }
	conf tree <<CONF
observability = { bpf = "on"; };
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "setsid sleep 1000 & exec sleep 1001"]; }
); };
CONF
	unshare --pid --fork --mount-proc "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	wait_for "probes attached or refused" grep -qE "eBPF probes attached|eBPF unavailable|eBPF: " "$T/log" || return 1
	log_has "eBPF probes attached" || { echo "no BPF here: $(grep -m 1 eBPF "$T/log")"; return 77; }
	local p host
	p=$(pid_of root/w)
	host=$(grep -l "^0::$(json root/w .cgroup)\$" /proc/[0-9]*/cgroup 2>/dev/null | while read -r f; do d=${f%/cgroup}; [ "$(cat "$d/comm")" = sleep ] && grep -q 1001 "$d/cmdline" && echo "${d#/proc/}"; done | head -n 1)
	[ -n "$host" ] || fail "the worker's process not found from the host" || return 1
	[ "$host" != "$p" ] || fail "pid $p is the same in the namespace: not inside one?" || return 1
	kill -9 "$host"
	wait_for "restarted" is_running_new root/w "$p" || return 1
	wait_for "the exit joined with the kernel's" sh -c "'$ARBORCTL' -s '$T/sock' events | grep '\"event\":\"exit\"' | grep '\"pid\":$p,' | grep -q '\"killer_comm\"'" || return 1
	ctl events | grep '"event":"exit"' | grep "\"pid\":$p," | grep -q '"signal":"SIGKILL"'
}

# In a cgroup namespace of its own (a container's), arbord counts its
# base's depth from a cgroup2 mount whose root is not the hierarchy's; the
# probes find the real depth and still follow the workers (a kill is
# attributed to its sender).
test_probes_see_workers_inside_a_cgroup_namespace() {
	need_cgroups || return $?
	command -v unshare >/dev/null || { echo "no unshare"; return 77; }
	# Named as run.sh finds what a test left (killed and removed after it).
	local name="arbor-$(echo "${T#/}" | tr / -)-ns" outer p
	outer=$CGMOUNT/$name
	conf tree <<CONF
observability = { bpf = "on"; };
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sleep", "1001"]; }
); };
CONF
	mkdir "$outer" || return 1
	# Moved into outer, then a cgroup namespace rooted there, its own
	# cgroup2 mount showing outer as the root.
	sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare --cgroup --mount sh -c \
	    "umount -l \"\$1\" && mount -t cgroup2 cgroup2 \"\$1\" && exec \"\$2\" -c \"\$3\" -s \"\$4\"" \
	    sh "$2" "$3" "$4" "$5"' sh "$outer" "$CGMOUNT" "$ARBORD" "$T/tree.conf" "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	wait_for "probes attached or refused" grep -qE "eBPF probes attached|eBPF unavailable" "$T/log" || return 1
	log_has "eBPF probes attached" || { echo "no BPF here: $(grep -m 1 eBPF "$T/log")"; return 77; }
	# A process born after the probes came (one there before is given to
	# them by pid, not found by its cgroup).
	p=$(pid_of root/w)
	ctl restart root/w >/dev/null || return 1
	wait_for "a new w" is_running_new root/w "$p" || return 1
	p=$(pid_of root/w)
	grep -q "^0::/$name/" "/proc/$p/cgroup" || fail "the worker is not below $outer: $(cat "/proc/$p/cgroup")" || return 1
	kill -9 "$p"
	wait_for "restarted" is_running_new root/w "$p" || return 1
	wait_for "the exit joined with the kernel's" sh -c "'$ARBORCTL' -s '$T/sock' events | grep '\"event\":\"exit\"' | grep '\"pid\":$p,' | grep -q '\"killer_comm\"'" || return 1
	stop_arbord || fail "arbord's exit: $?"
	rmdir "$outer" || fail "$outer left behind: $(ls "$outer")"
}

# arborctl pause freezes a worker's cgroup (cgroup.freeze), its health
# checks held; resume thaws it; a stop of a paused worker resumes it first,
# so that it takes its SIGTERM and stops at once.
test_pause_freezes_a_worker_until_resumed_or_stopped() {
	need_cgroups || return $?	# 5.14+: cgroup.freeze came in 5.2
	# Check timeouts and the paused span scale with a slow machine (TCG):
	# the span must outlast slow's timeout for a counted check to show.
	local s=${ARBOR_TIME_SCALE:-1}
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do date +%s%N > $T/tick; sleep 0.02; done"];
    shutdown = 60000;
    health = { exec = ["/bin/true"]; interval = 50; timeout = $((300 * s)); failures = 1; start_period = 0; }; },
  { name = "slow"; command = ["/bin/sleep", "1000"];
    health = { exec = ["/bin/sleep", "0.3"]; interval = 100; timeout = $((600 * s)); failures = 1; start_period = 0; }; },
  { name = "sup"; strategy = "one_for_one"; children = ( { name = "x"; command = ["/bin/sleep", "1000"]; } ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "w ticking" test -s "$T/tick" || return 1
	local p=$(pid_of root/w) ps=$(pid_of root/slow) t1 t2
	# slow's check runs nearly all the time: the pause freezes one midway,
	# which must not count as a failure (failures count once a check passed).
	wait_for "slow's check passed" bash -c "[ \"\$($ARBORCTL -s $T/sock status root/slow --json | jq -r .health.ok)\" = true ]" || return 1
	ctl pause root/w && ctl pause root/slow || return 1
	frozen() { grep -qx 'frozen 1' "$CGMOUNT/$(json "$1" .cgroup)/cgroup.events"; }
	wait_for "w frozen" frozen root/w || return 1
	wait_for "slow frozen" frozen root/slow || return 1
	assert_eq "status" "true" "$(json root/w .paused)" || return 1
	ctl status | grep -q '^  w  *paused ' || fail "not paused in status: $(ctl status)" || return 1
	t1=$(cat "$T/tick")
	sleep "$s"	# an absence: past slow's check timeout, fifty ticks
	t2=$(cat "$T/tick")
	assert_eq "no tick while paused" "$t1" "$t2" || return 1
	assert_eq "checks held: no restart" "$p 0" "$(json root/w '"\(.pid) \(.restarts)"')" || return 1
	assert_eq "a check frozen midway is not a failure" "$ps 0 0" "$(json root/slow '"\(.pid) \(.restarts) \(.health.failures)"')" || return 1
	ctl resume root/w || return 1
	wait_for "ticking again" bash -c "[ \"\$(cat $T/tick)\" != '$t2' ]" || return 1
	[ "$(json root/w .paused)" = null ] || fail "still paused in status" || return 1
	# Paused, then stopped: SIGTERM reaches it (shutdown is 60 s: a SIGKILL
	# would mean it had not).
	ctl pause root/w || return 1
	ctl stop root/w || return 1
	wait_for "stopped" is_state root/w stopped || return 1
	assert_eq "stopped by its SIGTERM" "shutdown 0 null" "$(json root/w '"\(.last_exit.reason) \(.last_exit.status) \(.last_exit.signal)"')" || return 1
	# What cannot be paused says why; the connection goes on.
	printf '%s\n' '{"cmd":"pause","path":"root/w"}' '{"cmd":"pause","path":"root/sup"}' '{"cmd":"status","path":"root/sup/x"}' |
		python3 "$HELPERS/rawclient.py" send "$T/sock" 3 >"$T/replies" || return 1
	grep -q 'root/w: not running (stopped)' "$T/replies" || fail "pause of a stopped worker: $(cat "$T/replies")" || return 1
	grep -q 'root/sup: a supervisor cannot be paused' "$T/replies" || fail "pause of a supervisor: $(cat "$T/replies")" || return 1
	grep -q '"state": *"running"' "$T/replies" || grep -q '"state":"running"' "$T/replies" || fail "the connection did not go on: $(cat "$T/replies")" || return 1
	# A restart of a paused worker starts a replacement that runs.
	ctl start root/w || return 1
	wait_for "w running" is_state root/w running || return 1
	ctl pause root/w && ctl restart root/w || return 1
	rm -f "$T/tick"
	wait_for "the replacement ticks" test -s "$T/tick"
}

# nested_worker NAME: $T/NAME.sh, a worker that, at its first start, makes
# cgroups of its own below its leaf (found from /proc/self/cgroup) as a
# container runtime or a nested supervisor does: a/b/c, and e with an
# empty chain 40 deep below it; a sleep moved into a and one into a/b/c,
# one left in the leaf, and whatever $T/NAME.extra says; then it waits for $T/go and exits 1. Later
# starts say so in $T/NAME.starts (the leaf each was born in) and sleep.
nested_worker() {
	cat >"$T/$1.sh" <<SH
cg=$CGMOUNT\$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ -e "$T/$1.leaf" ]; then echo "\$cg" >> "$T/$1.starts"; exec sleep 1000; fi
mkdir -p "\$cg/a/b/c" "\$cg/e$(printf '/d%.0s' $(seq 40))" || exit 2
sleep 1001 & echo \$! > "\$cg/a/cgroup.procs" && echo \$! >> "$T/$1.esc"
sleep 1002 & echo \$! > "\$cg/a/b/c/cgroup.procs" && echo \$! >> "$T/$1.esc"
sleep 1003 & echo \$! >> "$T/$1.esc"
[ -e "$T/$1.extra" ] && . "$T/$1.extra"
echo "\$cg" > "$T/$1.leaf"
while [ ! -e "$T/go" ]; do sleep 0.02; done
exit 1
SH
}

test_nested_cgroups_of_a_worker_go_with_it_and_it_restarts() {
	need_cgroups || return $?
	nested_worker nest
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "nest"; command = ["/bin/sh", "$T/nest.sh"]; },
  { name = "steady"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "nested cgroups made" test -s "$T/nest.leaf" || return 1
	local p steady leaf e
	p=$(pid_of root/nest) steady=$(pid_of root/steady) leaf=$(cat "$T/nest.leaf")
	assert_eq "the worker's leaf" "$(cgbase)/root/nest" "$leaf" || return 1
	assert_eq "where the three sleeps are" "$leaf/a $leaf/a/b/c $leaf" \
	    "$(for e in $(cat "$T/nest.esc"); do echo "$CGMOUNT$(sed -n 's/^0:://p' /proc/"$e"/cgroup)"; done | xargs)" || return 1
	touch "$T/go"
	wait_for "a restart, or the tree giving up" eval "test -s $T/nest.starts || ! kill -0 $ARBORD_PID" || return 1
	alive "$ARBORD_PID" || fail "arbord exited (the tree gave up)" || return 1
	wait_for "root/nest running again" is_running_new root/nest "$p" || return 1
	for e in $(cat "$T/nest.esc"); do
		gone "$e" || fail "sleep $e of the nested cgroups outlived its worker" || return 1
	done
	for e in a a/b/c e; do
		[ ! -e "$leaf/$e" ] || fail "$leaf/$e left after the worker's exit" || return 1
	done
	assert_eq "the new start's leaf" "$leaf" "$(cat "$T/nest.starts")" || return 1
	assert_eq "root/steady's pid" "$steady" "$(pid_of root/steady)" || return 1
	! log_has "rmdir" || fail "a cgroup was not removed: $(grep rmdir "$T/log")" || return 1
	stop_arbord || fail "arbord's exit status: $?" || return 1
	[ ! -e "$(cgbase)" ] || fail "base left after an orderly exit: $(find "$(cgbase)" -type d)"
}

# A mount on a nested cgroup (a root worker may do that) makes its rmdir
# fail: nothing may start in the killed leaf; it is a failed start, said,
# with the usual backoff, and the next start once the mount is gone works.
test_nested_cgroup_that_cannot_be_removed_is_a_failed_start() {
	need_cgroups || return $?
	nested_worker stuck
	echo "mkdir \"\$cg/m\" && mount -t tmpfs arbor-test \"\$cg/m\" && mkdir \"\$cg/m/keep\"" >"$T/stuck.extra"
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 1000; children = (
  { name = "stuck"; command = ["/bin/sh", "$T/stuck.sh"]; restart_delay = 100; },
  { name = "steady"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "nested cgroups made" test -s "$T/stuck.leaf" || return 1
	local p steady leaf rc=0
	p=$(pid_of root/stuck) steady=$(pid_of root/steady) leaf=$(cat "$T/stuck.leaf")
	mountpoint -q "$leaf/m" || fail "no mount on $leaf/m" || return 1
	touch "$T/go"
	{
		wait_for "the failed start said" log_has "root/stuck: cannot start: .*$leaf.*m.*busy" &&
		wait_for "a second failed start" eval '[ "$(grep -c "root/stuck: cannot start" "$T/log")" -ge 2 ]' &&
		{ [ ! -e "$T/stuck.starts" ] || fail "started in the killed leaf: $(cat "$T/stuck.starts")"; } &&
		{ [ -d "$leaf/m/keep" ] || fail "arbord went into the mount on $leaf/m"; } &&
		{ alive "$ARBORD_PID" || fail "arbord exited"; } &&
		assert_eq "root/steady's pid" "$steady" "$(pid_of root/steady)"
	} || rc=1
	umount "$leaf/m" 2>/dev/null
	[ $rc = 0 ] || return 1
	wait_for "root/stuck running once the mount is gone" is_running_new root/stuck "$p" || return 1
	assert_eq "its start's leaf" "$leaf" "$(cat "$T/stuck.starts")" || return 1
	[ ! -e "$leaf/a" ] || fail "$leaf/a left" || return 1
	stop_arbord
}

# Nothing left running, so nothing to kill: the worker's own cgroups go
# all the same, and its replacement's leaf holds none of them.
test_nested_cgroups_of_a_worker_that_left_nothing_running_go_too() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "cg=$CGMOUNT\$(sed -n 's/^0:://p' /proc/self/cgroup); if [ -s $T/leaf ]; then ls \$cg/x > $T/seen 2>&1; exec sleep 1000; fi; mkdir -p \$cg/x/y/z && echo \$cg > $T/leaf; exit 1"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "the restart" test -s "$T/seen" || return 1
	wait_for "root/w running" is_state root/w running || return 1
	[ ! -e "$(cat "$T/leaf")/x" ] || fail "$(cat "$T/leaf")/x left after the worker's exit" || return 1
	grep -q "No such file" "$T/seen" || fail "the replacement saw x in its leaf: $(cat "$T/seen")"
}

# From its second exit on, a worker's drain reads its leaf through the fds
# kept open since its last exit: what it made below the leaf is still seen
# there and removed, and the replacement starts in a leaf without it.
test_nested_cgroups_made_after_a_restart_go_too() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "cg=$CGMOUNT\$(sed -n 's/^0:://p' /proc/self/cgroup); echo \$cg >> $T/starts; n=\$(wc -l < $T/starts); if [ \$n -ge 3 ]; then ls \$cg/x > $T/seen 2>&1; exec sleep 1000; fi; [ \$n -eq 2 ] && mkdir -p \$cg/x/y; exit 1"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "the third start" test -s "$T/seen" || return 1
	wait_for "root/w running" is_state root/w running || return 1
	assert_eq "one leaf for the three starts" 1 "$(sort -u "$T/starts" | wc -l)" || return 1
	grep -q "No such file" "$T/seen" || fail "the third start saw x in its leaf: $(cat "$T/seen")"
}

# A leaf removed by someone else while its worker waits out its restart
# delay: the restart never goes into the removed cgroup through an fd kept
# from before; the leaf is made again and the worker runs there.
test_a_leaf_removed_during_the_restart_delay_is_made_again() {
	need_cgroups || return $?
	# The delay outlasts the test's own steps (8 times slower in the VM).
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; restart_delay = $((1000 * ${ARBOR_TIME_SCALE:-1})); command = ["/bin/sh", "-c", "sed -n 's/^0:://p' /proc/self/cgroup >> $T/starts; while [ ! -e $T/go ]; do sleep 0.02; done; rm -f $T/go; exit 1"]; }
); };
CONF
	local leaf
	start_arbord "$T/tree.conf" || return 1
	wait_for "the first start" test -s "$T/starts" || return 1
	leaf=$CGMOUNT$(head -n 1 "$T/starts")
	touch "$T/go"
	wait_for "root/w waiting to restart" is_state root/w backoff || return 1
	rmdir "$leaf" || fail "the leaf of an exited worker could not be removed" || return 1
	wait_for "root/w running again" eval '[ "$(wc -l < "$T/starts")" -ge 2 ] && is_state root/w running' || return 1
	assert_eq "the leaf of the start after" "${leaf#"$CGMOUNT"}" "$(tail -n 1 "$T/starts")" || return 1
	[ -d "$leaf" ] || fail "$leaf was not made again"
}

# The fds arbord keeps per worker live at 256 and above, out of the range
# every spawning child copies: the leaves kept open from one exit to the
# next go there once their restart is done.
test_kept_leaves_are_held_above_the_spawn_range() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 100; children = (
  { name = "w"; command = ["/bin/sh", "-c", "echo >> $T/starts; [ \$(wc -l < $T/starts) -ge 3 ] && exec sleep 1000; exit 1"]; }
); };
CONF
	local fd n=0 leaf
	start_arbord "$T/tree.conf" || return 1
	wait_for "the third start" eval '[ "$(wc -l < "$T/starts")" -ge 3 ] && is_state root/w running' || return 1
	leaf=$(cgbase)/root/w
	for fd in /proc/"$ARBORD_PID"/fd/*; do
		case $(readlink "$fd") in
		"$leaf" | "$leaf"/*)
			n=$((n + 1))
			[ "${fd##*/}" -ge 256 ] || fail "fd ${fd##*/} on $(readlink "$fd") is below 256" || return 1 ;;
		esac
	done
	assert_eq "fds on root/w's leaf (its directory and cgroup.events)" 2 "$n"
}

# A start of many in steps of 32 spawns, its leaves made by name in their
# parent's directory, kept open for the step: every worker is born into its
# own leaf, under the right parent, when steps and parents change within a
# step (40 in a, 40 in b, then one beside them).
test_each_worker_of_a_start_of_many_is_born_in_its_own_leaf() {
	need_cgroups || return $?
	local i a="" b=""
	for ((i = 0; i < 40; i++)); do
		a+="{ name = \"a$i\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; },"
		b+="{ name = \"b$i\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; },"
	done
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "pa"; strategy = "one_for_one"; children = ( ${a%,} ); },
  { name = "pb"; strategy = "one_for_one"; children = ( ${b%,} ); },
  { name = "w"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "81 workers running" eval '[ "$(ctl status --json | jq "[.. | objects | select(.state? == \"running\" and .pid? != null)] | length")" = 81 ]' || return 1
	local base path pid bad=""
	base=$(basename "$(cgbase)")
	while read -r path pid; do
		[ "$(grep '^0::' /proc/"$pid"/cgroup)" = "0::/$base/$path" ] ||
		    bad+=" $path (pid $pid in $(grep '^0::' /proc/"$pid"/cgroup))"
	done < <(ctl status --json | jq -r '.. | objects | select(.pid? != null) | "\(.path) \(.pid)"')
	[ -z "$bad" ] || fail "not in their own leaves:$bad"
}

# A root worker that mounts over its own leaf's path and leaves a process
# behind: the drain reads the leaf through the fds kept since the last exit
# and kills what is left through them, whatever the path leads to now.
test_a_leftover_is_killed_through_the_kept_leaf_when_its_path_is_mounted_over() {
	need_cgroups || return $?
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 1000; children = (
  { name = "w"; restart_delay = 200; command = ["/bin/sh", "-c", "cg=$CGMOUNT\$(sed -n 's/^0:://p' /proc/self/cgroup); echo \$cg >> $T/starts; [ \$(wc -l < $T/starts) -eq 2 ] || exec sleep 1000; setsid sleep 1000 & echo \$! > $T/left; mount -t tmpfs arbor-test \$cg && echo \$cg > $T/mounted; exit 1"]; }
); };
CONF
	local leaf left rc=0
	start_arbord "$T/tree.conf" || return 1
	wait_for "root/w running" is_state root/w running || return 1
	ctl restart root/w >/dev/null || fail "restart refused" || return 1
	wait_for "the mount over the leaf" test -s "$T/mounted" || return 1
	leaf=$(cat "$T/mounted") left=$(cat "$T/left")
	wait_for "the leftover killed" gone "$left" || rc=1
	umount "$leaf" 2>/dev/null
	[ $rc = 0 ] || { kill -9 "$left" 2>/dev/null; return 1; }
	wait_for "root/w running again" eval '[ "$(wc -l < "$T/starts")" -ge 3 ] && is_state root/w running' || return 1
	stop_arbord
}
