# SPDX-License-Identifier: BSD-2-Clause
# Kernel-observed facts through arbord, and the isolation of the
# observability thread (arbord(8)). BPF tests skip with the reason arbord
# gives where BPF cannot be loaded.

# start_obs CONF [ARGS]: arbord with an event log at $T/events.jsonl.
start_obs() {
	start_arbord "$@" || return 1
}

# needs_bpf: skips (77) unless arbord attached its probes.
needs_bpf() {
	wait_for "BPF attached or refused" grep -qE "eBPF probes attached|eBPF unavailable" "$T/log" 2>/dev/null
	if ! log_has "eBPF probes attached"; then
		grep -o "eBPF unavailable.*" "$T/log" | head -n 1
		return 77
	fi
}

ev() { jq -c "select($1)" "$T/events.jsonl"; }
# has_event FILTER: some line of the event log matches (jq -e alone would
# judge by the last line only).
has_event() { jq -se "map(select($1)) | length > 0" "$T/events.jsonl" >/dev/null 2>&1; }
metric() { ctl metrics | awk -v m="$1" '$1 == m { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

# killed_by_a_shell PATH: kills the worker from a shell of known pid and
# checks that its exit event names that shell as the killer (kill).
killed_by_a_shell() {
	local p=$(pid_of "$1") killer
	sh -c "echo \$\$ > $T/killer; exec /bin/kill -9 $p"
	killer=$(cat "$T/killer")
	wait_for "exit event" has_event ".event == \"exit\" and .pid == $p" || return 1
	assert_eq "attribution" "$killer kill" \
		"$(ev ".event == \"exit\" and .pid == $p" | jq -r '"\(.killer_pid) \(.killer_comm)"')"
}

# kill_and_restart PATH: SIGKILLs the worker, waits for its replacement and
# its exit event, and leaves that event in $T/exit.
kill_and_restart() {
	local p=$(pid_of "$1")
	kill -9 "$p"
	wait_for "restart" is_running_new "$1" "$p" || return 1
	wait_for "exit event" has_event ".event == \"exit\" and .pid == $p" || return 1
	ev ".event == \"exit\" and .pid == $p" >"$T/exit"
}

obs_conf() {
	cat >"$T/tree.conf" <<CONF
observability = { event_log = "$T/events.jsonl"; ${2:-} };
tree = { strategy = "one_for_one"; intensity = 50; period = 10; children = (
$1
); };
CONF
}

test_kill_is_attributed_to_the_killer() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	local p=$(pid_of root/w)
	sh -c "echo \$\$ > $T/killer; exec /bin/kill -9 $p"
	local killer=$(cat "$T/killer")
	wait_for "exit event" has_event ".event == \"exit\" and .pid == $p" || return 1
	assert_eq "attribution" "$killer kill false SIGKILL" \
		"$(ev ".event == \"exit\" and .pid == $p" | jq -r '"\(.killer_pid) \(.killer_comm) \(.oom) \(.signal)"')"
}

test_segfault_comes_from_the_kernel() {
	# The fault comes once the probes are there (they take a while to load
	# under a sanitizer): an exit before them has no kernel fields.
	obs_conf "{ name = \"segv\"; command = [\"/bin/sh\", \"-c\", \"while [ ! -e $T/go ]; do sleep 0.02; done; exec python3 -c 'import ctypes; ctypes.string_at(0)'\"]; restart = \"temporary\"; }"
	start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	touch "$T/go"
	wait_for "segv exited" is_state root/segv stopped || return 1
	wait_for "exit event" has_event '.event == "exit"' || return 1
	assert_eq "segv" "SIGSEGV kernel null" \
		"$(ev '.event == "exit"' | jq -r '"\(.signal) \(.killer_comm) \(.killer_pid)"')" || return 1
	# Whether a core was dumped depends on the host's core_pattern; the
	# field is there either way.
	assert_eq "core_dumped field" boolean "$(ev '.event == "exit"' | jq -r '.core_dumped | type')"
}

# A memory cgroup with a 64 MiB limit: v1 where mounted, else v2.
make_memcg() {
	local v1=/sys/fs/cgroup/memory v2=/sys/fs/cgroup
	CG=
	if [ -w "$v1" ] && [ -e "$v1/memory.limit_in_bytes" ]; then
		CG=$v1/arbor-it-$$
		mkdir -p "$CG" && echo $((64 << 20)) >"$CG/memory.limit_in_bytes" || return 1
		[ -e "$CG/memory.memsw.limit_in_bytes" ] && echo $((64 << 20)) >"$CG/memory.memsw.limit_in_bytes"
	elif grep -qw memory "$v2/cgroup.controllers" 2>/dev/null && [ -w "$v2" ]; then
		CG=$v2/arbor-it-$$
		mkdir -p "$CG" && echo $((64 << 20)) >"$CG/memory.max" || return 1
		echo 0 >"$CG/memory.swap.max" 2>/dev/null
	else
		echo "no writable memory cgroup (v1 or v2) here"
		return 77
	fi
}

test_oom_kill_is_reported() {
	make_memcg || return $?
	# Whatever happens, nothing of ours stays in the host's cgroups.
	trap 'kill -9 ${ARBORD_PID:-} 2>/dev/null; wait 2>/dev/null; rmdir "$CG" 2>/dev/null' EXIT
	obs_conf "{ name = \"hog\"; restart = \"temporary\"; command = [\"/bin/sh\", \"-c\",
	  \"while [ ! -e $T/go ]; do sleep 0.02; done; echo \$\$ > $CG/cgroup.procs && exec python3 -c 'x = bytearray(512 << 20)'\"]; }"
	start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	touch "$T/go"
	wait_for "hog exited" is_state root/hog stopped || return 1
	wait_for "exit event" has_event '.event == "exit"' || return 1
	assert_eq "oom" "true SIGKILL kernel" \
		"$(ev '.event == "exit"' | jq -r '"\(.oom) \(.signal) \(.killer_comm)"')" || return 1
	# Counted as histograms are: under the supervisor by default.
	assert_eq "oom counter" 1 "$(metric 'arbor_oom_kills_total{path="root"}')" || return 1
	# The worker's own exits name it: an OOM kill is a reason of its own.
	assert_eq "exits by oom" 1 "$(metric 'arbor_child_exits_total{path="root/hog",reason="oom"}')" || return 1
	local crash
	crash=$(metric 'arbor_child_exits_total{path="root/hog",reason="crash"}')
	assert_eq "not also a crash" 0 "${crash:-0}"
}

test_restart_latency_from_kernel_timestamps() {
	obs_conf '{ name = "w"; command = ["/bin/sh", "-c", "sleep 0.2; exit 1"]; }'
	start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	wait_for "three restarts" bash -c "[ \$($ARBORCTL -s $T/sock status root/w --json | jq .restarts) -ge 3 ]" || return 1
	wait_for "latency on the exec events" bash -c "[ \$(jq -s 'map(select(.event == \"exec\" and .restart_latency_ns)) | length' $T/events.jsonl) -ge 3 ]" || return 1
	jq -se 'map(select(.event == "exec" and .restart_latency_ns)) | all(.restart_latency_ns > 0 and .restart_latency_ns < 1000000000)' "$T/events.jsonl" >/dev/null ||
		fail "implausible latencies: $(ev '.restart_latency_ns' | jq -c .restart_latency_ns)" || return 1
	# Per supervisor by default: the worker has no histogram of its own.
	[ "$(metric 'arbor_restart_latency_seconds_count{path="root"}')" -ge 3 ] || fail "histogram not fed" || return 1
	[ -z "$(metric 'arbor_restart_latency_seconds_count{path="root/w"}')" ] || fail "a worker's own histogram by default" || return 1
	[ "$(metric 'arbor_exit_detect_latency_seconds_count')" -ge 3 ] || fail "exit detection latency not fed"
}

runq_count() { metric "arbor_runqueue_latency_seconds_count{path=\"$1\"}"; }

test_runqueue_histograms_follow_workers_only() {
	command -v taskset >/dev/null || { echo "taskset not installed"; return 77; }
	obs_conf '{ name = "idle"; command = ["/bin/sleep", "1000"]; },
{ name = "busy"; command = ["/usr/bin/taskset", "-c", "0", "/bin/sh", "-c", "while [ ! -e '"$T"'/go ]; do :; done; while :; do :; done"]; }' \
		'histograms = "worker";'
	start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	local i0=$(runq_count root/idle)
	# An untracked busy process on the same CPU adds nothing to workers.
	taskset -c 0 sh -c 'end=$(($(date +%s) + 1)); while [ $(date +%s) -le $end ]; do :; done' &
	local spinner=$!
	wait "$spinner"
	assert_eq "idle worker's count" "${i0:-0}" "$(runq_count root/idle)" || return 1
	# The busy worker competes with arbord's own threads and the spinner.
	local b0=$(runq_count root/busy)
	taskset -c 0 sh -c 'end=$(($(date +%s) + 1)); while [ $(date +%s) -le $end ]; do :; done' &
	spinner=$!
	touch "$T/go"
	wait "$spinner"
	[ "$(runq_count root/busy)" -gt "${b0:-0}" ] || fail "busy worker's histogram did not fill" || return 1
	[ -n "$(runq_count arbord)" ] || fail "no histogram for arbord's core thread"
}

# The lifecycle lines of a run, pids left out.
lifecycle() {
	awk '$3 ~ /^(spawn|exec|exit|restart|stop|give_up)$/ {
		line = $3 " " $4
		for (i = 5; i <= NF; i++) if ($i !~ /^pid=/) line = line " " $i
		print line
	}' "$1"
}

# Drives one fixed scenario: a crashes three times, then an orderly stop.
scenario() {
	local fault=$1
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_all"; intensity = 10; period = 60; children = (
  { name = "a"; command = ["/bin/sh", "-c", "while [ ! -e $T/crash ]; do sleep 0.02; done; rm -f $T/crash; exit 1"]; },
  { name = "b"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	ARBOR_OBS_FAULT=$fault start_arbord "$T/tree.conf" || return 1
	if [ "$fault" = stall ] || [ "$fault" = crash ]; then
		wait_for "obs_restart with fault $fault" log_has "obs_restart arbord" || return 1
	fi
	# Each round is read in arbord's log (a and b ready once more), not in
	# status: with the helper stalled, a status waits until it is killed
	# as hung (up to 3 s, test_status_answers_while_observability_is_stalled),
	# and these rounds took 3 s a wait. Before each crash, both are up.
	ready_count() { grep -c "arbord: ready root/$1 " "$T/log"; }
	for i in 1 2 3; do
		wait_for "a and b up before crash $i" eval '[ "$(ready_count a)" -ge '$i' ] && [ "$(ready_count b)" -ge '$i' ]' || return 1
		touch "$T/crash"
		wait_for "round $i" eval '[ "$(ready_count b)" -ge '$((i + 1))' ]' || return 1
		wait_for "a back" eval '[ "$(ready_count a)" -ge '$((i + 1))' ]' || return 1
	done
	stop_arbord
	assert_eq "exit code with fault '$fault'" 0 "$?" || return 1
	lifecycle "$T/log" >"$T/lifecycle.$fault"
	cp "$T/log" "$T/log.$fault"
	assert_eq "crashes of a with fault '$fault'" 3 "$(grep -c '^exit root/a reason=crash status=1$' "$T/lifecycle.$fault")"
}

test_faults_leave_supervision_exact() {
	scenario none || return 1
	for fault in stall crash bpf; do
		scenario $fault || return 1
		diff "$T/lifecycle.none" "$T/lifecycle.$fault" >&2 ||
			fail "supervision differs under ARBOR_OBS_FAULT=$fault" || return 1
	done
	grep -q "helper observability hung: no heartbeat" "$T/log.stall" || fail "stall not detected" || return 1
	grep -q "helper observability killed by SIGSEGV" "$T/log.crash" || fail "crash not detected" || return 1
	grep -q "eBPF unavailable: injected fault" "$T/log.bpf" || fail "bpf fault not reported"
}

# A stalled observability helper (its loop stops 50 ms after each start;
# it is killed after 3 s without a heartbeat and restarted with a growing
# backoff) holds `arborctl status` up for at most those 3 s: a status
# handed to it before it missed a beat is answered, without the figures,
# by the core once the helper is killed (not by the next one, which
# stalls too), and once it has missed its beats no status goes to it.
test_status_answers_while_observability_is_stalled() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ARBOR_OBS_FAULT=stall start_obs "$T/tree.conf" || return 1
	wait_for "a first stall" log_has "helper observability hung: no heartbeat" || return 1
	local end=$(($(now_us) + 7000000)) limit=$((4 * ${ARBOR_TIME_SCALE:-1})) n=0 t0 dt max=0
	while [ "$(now_us)" -lt "$end" ]; do
		t0=$(now_us)
		timeout "$limit" "$ARBORCTL" -s "$T/sock" status --json >"$T/st" ||
			fail "status took more than $limit s (or failed) with the observability thread stalled, after $n answers" || return 1
		dt=$(($(now_us) - t0))
		[ "$dt" -gt "$max" ] && max=$dt
		jq -e '.children | length == 1' "$T/st" >/dev/null ||
			fail "status without its tree: $(head -c 300 "$T/st")" || return 1
		n=$((n + 1))
		sleep 0.1
	done
	echo "$n statuses answered in 7 s, the longest in $((max / 1000)) ms (limit $limit s)"
}

# A restarted observability helper is given the probes the core loaded:
# they are attached once, and a kill while no helper runs is still
# attributed (its record waited in the ring buffer the core keeps).
test_a_restarted_observability_helper_keeps_the_probes() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ARBOR_OBS_FAULT=crash start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	wait_for "two restarts of the helper" bash -c "[ \$(grep -c 'helper observability killed by SIGSEGV' $T/log) -ge 2 ]" || return 1
	local p=$(pid_of root/w)
	sh -c "echo \$\$ > $T/killer; exec /bin/kill -9 $p"
	local killer=$(cat "$T/killer")
	wait_for "the exit event" has_event ".event == \"exit\" and .pid == $p" || return 1
	assert_eq "attribution across restarts" "$killer kill" \
		"$(ev ".event == \"exit\" and .pid == $p" | jq -r '"\(.killer_pid) \(.killer_comm)"')" || return 1
	wait_for "a third restart" bash -c "[ \$(grep -c 'helper observability killed by SIGSEGV' $T/log) -ge 3 ]" || return 1
	assert_eq "probes attached once" 1 "$(grep -c 'eBPF probes attached' "$T/log")"
}

# The helper dies (a real SIGSEGV, ARBOR_HELPER_FAULT's "@held", in its
# first start only) as soon as it holds a worker's exit it has read: the
# kernel's record, taken from the ring buffer, which forgets it, the core's
# not read yet. Its next start joins them all the same: the exit event is
# written once, and names who killed the worker.
test_an_exit_the_helper_held_as_it_died_is_written_once_whole() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ARBOR_HELPER_FAULT=observability:segv@held start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	local p killer i
	died() { log_has 'helper observability killed by SIGSEGV'; }
	died_or_out() { died || has_event ".event == \"exit\" and .pid == $1"; }
	# The kernel's record comes first nearly always; the core's may.
	assert_eq "no fault before a kill" 0 "$(grep -c 'helper observability killed' "$T/log")" || return 1
	for i in 1 2 3; do
		wait_for "w running" is_state root/w running || return 1
		p=$(pid_of root/w)
		sh -c "echo \$\$ > $T/killer; exec /bin/kill -9 $p"
		killer=$(cat "$T/killer")
		wait_for "the helper's fault or the exit event" died_or_out "$p" || return 1
		died && break
		wait_for "w restarted" is_running_new root/w "$p" || return 1
	done
	died || fail "the helper held no exit in 3 kills" || return 1
	wait_for "the exit event" has_event ".event == \"exit\" and .pid == $p" || return 1
	assert_eq "written once, whole" "$killer kill" \
		"$(ev ".event == \"exit\" and .pid == $p" | jq -r '"\(.killer_pid) \(.killer_comm)"')" || return 1
	assert_eq "one fault" 1 "$(grep -c 'helper observability killed by' "$T/log")"
}

# Without the probes: the helper dies as soon as it holds a core's event
# read from the queue (a restart of a worker whose socket arbord holds
# waits for the peak of its backlog, past its backoff). The next one reads
# it again from the queue: the exit and the restart are written once each.
test_an_event_read_from_the_queue_by_a_helper_that_died_is_written_once() {
	local port=$(free_port) p
	obs_conf "{ name = \"w\"; command = [\"/bin/sleep\", \"1000\"]; restart_delay = 300;
	    sockets = ( { listen = \"127.0.0.1:$port\"; name = \"http\"; } ); }"
	ARBOR_HELPER_FAULT=observability:segv@held start_obs "$T/tree.conf" --no-bpf || return 1
	wait_for "w running" is_state root/w running || return 1
	p=$(pid_of root/w)
	kill -9 "$p"
	wait_for "the helper's fault" log_has 'helper observability killed by SIGSEGV' || return 1
	wait_for "w restarted" is_running_new root/w "$p" || return 1
	wait_for "the restart event" has_event '.event == "restart"' || return 1
	assert_eq "the exit written once" 1 "$(ev ".event == \"exit\" and .pid == $p" | wc -l)" || return 1
	assert_eq "the restart written once" 1 "$(ev '.event == "restart"' | wc -l)" || return 1
	assert_eq "one fault" 1 "$(grep -c 'helper observability killed by' "$T/log")"
}

# At arbord's orderly stop the workers' exits reach the event log, a
# worker's whose stderr is captured too (its exit does not wait for a tail
# the output helper would send after the observability helper is gone).
test_the_last_exits_are_written_at_a_shutdown() {
	obs_conf '{ name = "w"; command = ["/bin/sh", "-c", "echo hello >&2; exec sleep 1000"]; },
	  { name = "v"; command = ["/bin/sleep", "1000"]; }'
	echo "daemon = { log_dir = \"$T/logs\"; };" >>"$T/tree.conf"
	start_obs "$T/tree.conf" || return 1
	wait_for "w running" is_state root/w running || return 1
	wait_for "v running" is_state root/v running || return 1
	local w=$(pid_of root/w) v=$(pid_of root/v)
	sleep 0.2	# w's line read
	stop_arbord || fail "arbord's exit code" || return 1
	assert_eq "w's exit" shutdown "$(ev ".event == \"exit\" and .pid == $w" | jq -r .reason)" || return 1
	assert_eq "v's exit" shutdown "$(ev ".event == \"exit\" and .pid == $v" | jq -r .reason)"
}

# At the stop, an event held for the rest of it goes out as it is, and the
# events behind it after it: here a restart held for the peak of a held
# socket's backlog, which waits past a 3 s backoff.
test_a_restart_held_at_a_shutdown_is_written_with_the_events_after_it() {
	local port=$(free_port) p v
	obs_conf "{ name = \"web\"; command = [\"/bin/sleep\", \"1000\"]; restart_delay = 3000;
	    sockets = ( { listen = \"127.0.0.1:$port\"; name = \"http\"; } ); },
	  { name = \"v\"; command = [\"/bin/sleep\", \"1000\"]; }"
	start_obs "$T/tree.conf" || return 1
	wait_for "web running" is_state root/web running || return 1
	wait_for "v running" is_state root/v running || return 1
	p=$(pid_of root/web)
	v=$(pid_of root/v)
	kill -9 "$p"
	wait_for "web's exit seen" log_has "exit root/web pid=$p" || return 1
	stop_arbord || fail "arbord's exit code" || return 1
	assert_eq "web's exit" crash "$(ev ".event == \"exit\" and .pid == $p" | jq -r .reason)" || return 1
	assert_eq "the restart" 1 "$(ev '.event == "restart" and .path == "root/web"' | wc -l)" || return 1
	assert_eq "v's exit, behind it" shutdown "$(ev ".event == \"exit\" and .pid == $v" | jq -r .reason)"
}

test_bpf_on_failure_is_loud_never_fatal() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'bpf = "on";'
	ARBOR_OBS_FAULT=bpf start_obs "$T/tree.conf" || return 1
	wait_for "loud error" log_has 'error: eBPF unavailable (bpf = "on"): injected fault' || return 1
	assert_eq "bpf gauge" 0 "$(metric arbor_bpf_enabled)" || return 1
	is_state root/w running
}

test_no_bpf_option() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_obs "$T/tree.conf" --no-bpf || return 1
	assert_eq "bpf gauge" 0 "$(metric arbor_bpf_enabled)" || return 1
	log_has "eBPF probes attached" && fail "probes attached despite --no-bpf"
	kill_and_restart root/w || return 1
	assert_eq "no kernel fields" null "$(jq -c .killer_pid "$T/exit")"
}

# A kernel that refuses a probe's programs (here both of switch's, made to
# read an argument their tracepoint lacks, as 6.1 refused
# sched_process_exit's group_dead): that probe is off and said once, the
# others run.
test_a_refused_probe_leaves_the_others_on() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ARBOR_BPF_REFUSE=on_switch,on_switch_v1 start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	assert_eq "warned once" 1 "$(grep -c 'warning: eBPF probe switch off: the kernel refused on_switch_v1' "$T/log")" || return 1
	ctl daemon >"$T/daemon" || return 1
	grep -q '^bpf_probe switch off: the kernel refused on_switch_v1' "$T/daemon" || fail "daemon: $(cat "$T/daemon")" || return 1
	assert_eq "others attached" 7 "$(grep -c '^bpf_probe .* attached ' "$T/daemon")" || return 1
	wait_for "gauge: switch off" metric_is 'arbor_bpf_programs{program="switch",state="off"}' 1 || return 1
	wait_for "gauge: exit attached" metric_is 'arbor_bpf_programs{program="exit",state="attached"}' 1 || return 1
	# The exit and signal probes still say who killed the worker.
	killed_by_a_shell root/w
}

# Without the kernel's BTF (hidden here in a mount namespace of arbord's
# own) the probes are off, said once, and supervision is as it was.
test_a_kernel_without_btf_supervises_unchanged() {
	[ -e /sys/kernel/btf/vmlinux ] || { echo "this kernel has no BTF to hide"; return 77; }
	command -v unshare >/dev/null || { echo "no unshare"; return 77; }
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	unshare -m sh -c "mount -t tmpfs none /sys/kernel/btf && exec $ARBORD -c $T/tree.conf -s $T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	wait_for "said" log_has "eBPF unavailable: the kernel has no BTF" || return 1
	assert_eq "said once" 1 "$(grep -c 'eBPF unavailable' "$T/log")" || return 1
	assert_eq "bpf gauge" 0 "$(metric arbor_bpf_enabled)" || return 1
	kill_and_restart root/w || return 1
	assert_eq "exit by signal" SIGKILL "$(jq -r .signal "$T/exit")"
}

# Every probe runs on this kernel, each with the program its tracepoints
# fit (on 6.1.192: on_exit_v1, the newest of the others; on 6.18 the
# newest of each).
test_every_probe_runs_on_this_kernel() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	ctl daemon >"$T/daemon" || return 1
	echo "report: $(uname -r): $(awk '$1 == "bpf_probe" { printf "%s=%s ", $2, $4 }' "$T/daemon")"
	assert_eq "probes attached" 8 "$(grep -c '^bpf_probe .* attached ' "$T/daemon")" || return 1
	! log_has "eBPF probe .* off" || fail "a probe is off: $(grep 'eBPF probe' "$T/log")"
}

# A kernel that refuses the newest program of a probe whose older one fits
# too (a backport that changed a tracepoint halfway): the older one runs.
test_a_refused_program_falls_back_to_one_that_fits() {
	obs_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ARBOR_BPF_REFUSE=on_exit start_obs "$T/tree.conf" || return 1
	needs_bpf || return $?
	ctl daemon >"$T/daemon" || return 1
	case $(grep '^bpf_probe exit ' "$T/daemon") in
	"bpf_probe exit attached on_exit_v1") ;;
	"bpf_probe exit off: "*"has no tracepoint"*) echo "no sched_process_exit here"; return 77 ;;
	*) fail "exit probe: $(grep '^bpf_probe exit ' "$T/daemon")" || return 1 ;;
	esac
	killed_by_a_shell root/w
}
