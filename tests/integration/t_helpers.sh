# SPDX-License-Identifier: BSD-2-Clause
# Fault domains (arbord(8), FAULT DOMAINS): tcp and http checks run in the
# helper process arbor-checks, which arbord supervises like a child. Real
# faults (ARBOR_HELPER_FAULT: a write through a null pointer, abort(), an
# OOM kill, a hang, seccomp kills, hostile records, SIGKILL from outside)
# must leave the tree untouched.
# lanes: alone for ^t_helpers:test_(a_helper_(out_of_memory|that_(segfaults|aborts|hangs|exits)|killed_from_outside)|an_observability_helper_(out_of_memory|that_aborts)|a_hung_|output_helper_crash_looping|events_while|exits_while)
# (Those need the machine: at its memory limit a helper reclaiming beside a
# busy lane is killed as hung before the OOM killer comes; and in the
# lanes, its helpers back within 1 s came back in 1.19 s, and t_health's
# checks helper beside it was restarted as hung. The rest, sandboxes,
# seccomp and hostile records, judge no time and run in the lanes.)

SERVER=$HELPERS/checkserver.py

# helpers_conf NAME PORT FAILURES [DAEMON_KEYS]: api (an http check) and db
# (a tcp check) on the test's loopback server, and crash, a worker that
# crashes every 0.2 s. A check's timeout (1 s) is above the helper's hang
# limit (500 ms): a hung helper is killed before a check it holds is due,
# so that the check ends without a result whatever the machine's load.
helpers_conf() {
	conf "$1" <<CONF
daemon = { log_dir = ""; helper_memory_max = "64M"; $4 };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1000; period = 10;
  children = (
    { name = "api"; command = ["/bin/sleep", "1000"];
      health = { http = "http://127.0.0.1:$2/healthz"; interval = 200; timeout = 1000; failures = $3; }; },
    { name = "db"; command = ["/bin/sleep", "1000"];
      health = { tcp = "127.0.0.1:$2"; interval = 200; timeout = 1000; failures = $3; }; },
    { name = "crash"; command = ["/bin/sh", "-c", "sleep 0.2; exit 3"]; }
  ); };
CONF
}

helper_field() { ctl daemon | awk -v h=checks -v f="$1" '$1 == "helper" && $2 == h { print $f }'; }
helper_restarts() { helper_field 7; }
restarts_at_least() { [ "$(helper_restarts)" -ge "$1" ]; }
helper_running_not() { [ "$(helper_field 3)" = running ] && [ -n "$(helper_pid checks)" ] && [ "$(helper_pid checks)" != "$1" ]; }
detail_is() { [ "$(json "$1" .health.detail)" = "$2" ]; }
# worker_events PATH: its events other than health results, one a line.
worker_events() { ctl events | jq -r --arg p "$1" 'select(.path == $p and .event != "health") | .event' | tr '\n' ' '; }
log_count() { grep -c -- "$1" "$T/log"; }
# untouched PATH: no event of the worker's but its start (else its story
# and the helper's, from arbord's log, are shown).
untouched() {
	local got
	got=$(worker_events "$1")
	[ "$got" = "spawn exec ready " ] && return 0
	fail "$1's events: expected 'spawn exec ready ', got '$got'; its lines and the helper's:
$(grep -E "$1 |helper" "$T/log" | head -n 30)"
}
checks_pass() { detail_is root/api "HTTP 200" && detail_is root/db "connected to 127.0.0.1:$PORT"; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# start_tree FAILURES [DAEMON_KEYS]: the check server (up before arbord, so
# that a first check never fails while python starts on a loaded machine),
# then arbord on helpers_conf, both checks passing (when the helper can run
# them).
start_tree() {
	PORT=$(free_port)
	python3 "$SERVER" http "$PORT" "$T/fail" >"$T/server.log" 2>&1 &
	wait_for "the check server" listening || fail "its output: $(cat "$T/server.log")" || return 1
	helpers_conf a "$PORT" "$1" "${2:-}"
	start_arbord "$T/a.conf"
	wait_for "api running" is_state root/api running || return 1
	wait_for "crash restarted once" eval '[ "$(json root/crash .restarts)" -ge 1 ]' || return 1
}

# fault_case KIND CAUSE SECONDS: the helper faults by KIND after each
# start; its death is logged with CAUSE, it is started again within 1 s,
# and for SECONDS of that crash loop no worker is touched while crash keeps
# being restarted; arbord exits 0.
fault_case() {
	local kind=$1 cause=$2 secs=$3 api db c0 t0 t1
	export ARBOR_HELPER_FAULT="checks:$kind,output:segv"
	start_tree 1 || return 1
	unset ARBOR_HELPER_FAULT
	api=$(pid_of root/api)
	db=$(pid_of root/db)
	# The first death restarts in 10 ms; an OOM kill may come after a
	# hang (a helper stuck reclaiming at its limit on a loaded machine is
	# killed as hung first), so its backoff may have grown by then.
	local first="10 ms"
	[ "$kind" = oom ] && first="[0-9]* ms"
	wait_for "the first fault" log_has "helper checks $cause, restarting in $first" || return 1
	t0=$(now_us)
	wait_for "the helper started again and faulted again" restarts_at_least 2 || return 1
	t1=$(now_us)
	# The second death proves the second start; its fault comes 50 ms
	# (hang: 550 ms, oom: the allocations) after that start.
	[ $((t1 - t0)) -lt $((1500000 * ${ARBOR_TIME_SCALE:-1})) ] ||
	    fail "restarted $(((t1 - t0) / 1000)) ms after its first death" || return 1
	c0=$(json root/crash .restarts)
	sleep "$secs"
	assert_eq "api's pid" "$api" "$(pid_of root/api)" || return 1
	assert_eq "db's pid" "$db" "$(pid_of root/db)" || return 1
	untouched root/api || return 1
	untouched root/db || return 1
	[ "$(json root/crash .restarts)" -ge $((c0 + 3)) ] ||
	    fail "crash restarted $(($(json root/crash .restarts) - c0)) times in ${secs} s" || return 1
	grep -q "helper checks.*restarting in [0-9]* ms" "$T/log" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

test_a_helper_that_segfaults_is_restarted_and_healthy_workers_are_not() {
	fault_case segv "killed by SIGSEGV" 2
}

test_a_helper_that_aborts_is_restarted() {
	fault_case abort "killed by SIGABRT" 1
}

# helper_bound CONTROLLER V2_FILE V1_FILE: the checks helper's bound, read
# from the v1 group of CONTROLLER when it has one, else from its v2 leaf.
helper_bound() {
	local hp cg
	hp=$(helper_pid checks) && [ -n "$hp" ] || return 1
	if cg=$(sed -n "s/^[0-9]*:$1:\(.*\)\$/\1/p" "/proc/$hp/cgroup") && [ -n "$cg" ]; then
		cat "/sys/fs/cgroup/$1$cg/$3"
	else
		cg=$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$hp/cgroup") && cat "/sys/fs/cgroup$cg/$2"
	fi
}

# helper_oom_kills [HELPER]: the OOM kills counted in the helper's (checks
# by default) memory cgroup (v1: memory.oom_control, v2: memory.events),
# read while a helper of the crash loop is alive to say where its cgroup is.
helper_oom_kills() {
	local hp cg
	hp=$(helper_pid "${1:-checks}") && [ -n "$hp" ] || return 1
	if cg=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' "/proc/$hp/cgroup") && [ -n "$cg" ]; then
		awk '$1 == "oom_kill" { print $2 }' "/sys/fs/cgroup/memory$cg/memory.oom_control"
	else
		cg=$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$hp/cgroup") &&
		    awk '$1 == "oom_kill" { print $2 }' "/sys/fs/cgroup$cg/memory.events"
	fi
}

test_a_helper_out_of_memory_is_killed_in_its_own_cgroup() {
	local rss0 rss1 kills
	[ -n "$(ls /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory 2>/dev/null)" ] ||
	    [ -e /sys/fs/cgroup/cgroup.controllers ] || return 77
	fault_case oom "killed by SIGKILL" 1 || return 1
	# fault_case stopped arbord: again, to read the cgroup and arbord's RSS
	# while the helper allocates without end at every start
	export ARBOR_HELPER_FAULT=checks:oom
	start_tree 1 || return 1
	unset ARBOR_HELPER_FAULT
	rss0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$ARBORD_PID/status")
	wait_for "an OOM kill in the helper's own cgroup" eval \
	    'kills=$(helper_oom_kills 2>/dev/null) && [ "${kills:-0}" -ge 1 ]' || return 1
	wait_for "a second helper's OOM kill" eval \
	    'kills=$(helper_oom_kills 2>/dev/null) && [ "${kills:-0}" -ge 2 ]' || return 1
	rss1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$ARBORD_PID/status")
	echo "report: helper OOM-killed $kills times in its own cgroup; arbord's RSS $rss0 -> $rss1 KiB"
	sanitized || [ $((rss1 - rss0)) -lt 2048 ] ||
	    fail "arbord's RSS grew from $rss0 to $rss1 KiB" || return 1
	untouched root/api || return 1
	untouched root/db || return 1
	stop_arbord || fail "arbord's exit: $?"
}

test_a_helper_that_hangs_is_killed_after_500_ms_without_heartbeat() {
	fault_case hang "hung: no heartbeat for 500 ms" 1
}

test_a_helper_that_exits_is_restarted() {
	fault_case exit "exited with status 1" 1
}

test_seccomp_kills_a_helper_that_tries_execve() {
	fault_case execve "killed by SIGSYS" 1
}

test_seccomp_kills_a_helper_that_tries_ptrace() {
	fault_case ptrace "killed by SIGSYS" 1
}

# hostile KIND WHAT: the core rejects the record, says why, kills the helper.
hostile() {
	fault_case "$1" "killed by SIGKILL" 1 || return 1
	log_has "helper checks: malformed message: $2" ||
	    fail "no rejection of: $2" || return 1
}

test_a_helper_that_writes_garbage_is_killed() {
	hostile garbage "a record of type [0-9]*, which a helper never sends"
}

test_a_helper_that_writes_an_oversize_record_is_killed() {
	hostile oversize "a record longer than 8192 bytes"
}

test_a_helper_that_forges_a_core_request_is_killed() {
	hostile forge "a record of type 1, which a helper never sends"
}

test_a_helper_killed_from_outside_is_back_within_1s_with_its_checks() {
	local hp api db t0
	start_tree 100 || return 1
	wait_for "both checks passing" checks_pass || return 1
	hp=$(helper_pid checks)
	api=$(pid_of root/api)
	db=$(pid_of root/db)
	t0=$(now_us)
	kill -KILL "$hp"
	wait_for "a new helper" helper_running_not "$hp" || return 1
	[ $(($(now_us) - t0)) -lt $((1000000 * ${ARBOR_TIME_SCALE:-1})) ] ||
	    fail "the helper came back after $((($(now_us) - t0) / 1000)) ms" || return 1
	wait_for "the cause in the log" log_has "helper checks killed by SIGKILL, restarting in 10 ms" || return 1
	# Its checks work again: results change with the server's answers.
	touch "$T/fail"
	wait_for "api failing through the new helper" detail_is root/api "HTTP 500: broken" || return 1
	rm -f "$T/fail"
	wait_for "api passing again" detail_is root/api "HTTP 200" || return 1
	assert_eq "restart counter" 'arbor_helper_restarts_total{helper="checks"} 1' \
	    "$(ctl metrics | grep '^arbor_helper_restarts_total{helper="checks"}')" || return 1
	assert_eq "api's pid" "$api" "$(pid_of root/api)" || return 1
	assert_eq "db's pid" "$db" "$(pid_of root/db)" || return 1
	untouched root/api || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# sandboxed HELPER CAPS: the helper runs as the helpers' user, with
# no_new_privs, seccomp, CapEff and CapPrm CAPS, in a leaf of its own;
# sets hp to its pid.
sandboxed() {
	local st uid
	wait_for "the $1 helper" helper_pid "$1" || return 1
	hp=$(helper_pid "$1")
	st=/proc/$hp/status
	uid=$(id -u arbor 2>/dev/null || id -u nobody)
	assert_eq "$1: Uid" "$uid $uid $uid $uid" "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "$st")" || return 1
	assert_eq "$1: NoNewPrivs" 1 "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")" || return 1
	assert_eq "$1: Seccomp" 2 "$(awk '$1 == "Seccomp:" { print $2 }' "$st")" || return 1
	assert_eq "$1: CapEff" "$2" "$(awk '$1 == "CapEff:" { print $2 }' "$st")" || return 1
	assert_eq "$1: CapPrm" "$2" "$(awk '$1 == "CapPrm:" { print $2 }' "$st")" || return 1
	grep -q "/helpers/$1$" "/proc/$hp/cgroup" || fail "$1: not in a leaf of its own: $(cat "/proc/$hp/cgroup")"
}

# low_helper_fds: arbord's fds below 256 that it holds for its helpers
# (their pidfds, sockets and binaries), one a line; every spawning child
# copies that range (arbord(8), FILES), so none may stay there.
low_helper_fds() {
	local fd to
	for fd in /proc/"$ARBORD_PID"/fd/*; do
		to=$(readlink "$fd") || continue
		[ "${fd##*/}" -lt 256 ] || continue
		case $to in
		"anon_inode:[pidfd]" | socket:* | */arbor-checks | */arbor-output | */arbor-obs)
			echo "${fd##*/} $to" ;;
		esac
	done
}
no_low_helper_fds() { [ -z "$(low_helper_fds)" ]; }
helper_restarted() { local p; p=$(helper_pid "$1") && [ "$p" != "$2" ]; }

# The checks helper starts after arbord's own start; both it and the
# observability helper are killed (SIGKILL) and started again: what arbord
# holds for each, from its first start and from its restart, is at 256
# or above. (Before, a helper started after arbord's start, or restarted,
# left its pidfd, its socket and its binary below 256.)
test_what_arbord_holds_for_its_helpers_stays_above_the_spawn_range() {
	local hc ho
	conf fds <<CONF
daemon = { log_dir = ""; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sleep", "1000"]; stdout = "null"; stderr = "null";
    health = { tcp = "127.0.0.1:9"; interval = 200; timeout = 1000; failures = 1000000; }; } ); };
CONF
	start_arbord "$T/fds.conf" || return 1
	wait_for "the checks helper" helper_pid checks || return 1
	wait_for "the observability helper" helper_pid observability || return 1
	wait_for "no helper fd below 256 after the helpers' start" no_low_helper_fds ||
	    fail "below 256: $(low_helper_fds | tr '\n' ';')" || return 1
	hc=$(helper_pid checks) && ho=$(helper_pid observability) || return 1
	kill -KILL "$hc" "$ho"
	wait_for "the checks helper started again" helper_restarted checks "$hc" || return 1
	wait_for "the observability helper started again" helper_restarted observability "$ho" || return 1
	wait_for "no helper fd below 256 after their restart" no_low_helper_fds ||
	    fail "below 256: $(low_helper_fds | tr '\n' ';')" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

test_the_helper_runs_unprivileged_and_arbord_links_no_libcurl() {
	local hp
	start_tree 100 || return 1
	sandboxed checks 0000000000000000 || return 1
	assert_eq "Groups" "" "$(awk '$1 == "Groups:" { print $2 }' "/proc/$hp/status")" || return 1
	# Its bounds (helper_memory_max 64M, pids.max 64), v1 or v2
	assert_eq "memory bound" 67108864 "$(helper_bound memory memory.max memory.limit_in_bytes)" || return 1
	assert_eq "pids bound" 64 "$(helper_bound pids pids.max pids.max)" || return 1
	grep -q libcurl "/proc/$hp/maps" || fail "the helper has no libcurl" || return 1
	! grep -q libcurl "/proc/$ARBORD_PID/maps" || fail "arbord maps libcurl" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

test_an_unknown_helper_user_is_a_warning_and_nobody() {
	local hp
	start_tree 100 'helper_user = "no-such-user-28";' || return 1
	wait_for "the checks helper" helper_pid checks || return 1
	hp=$(helper_pid checks)
	log_has 'daemon.helper_user = "no-such-user-28": no such user; helpers run as nobody' ||
	    fail "no warning" || return 1
	assert_eq "Uid" "$(id -u nobody)" "$(awk '$1 == "Uid:" { print $2 }' "/proc/$hp/status")" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

test_bad_helper_keys_are_errors_with_their_line() {
	conf bad <<'CONF'
daemon = { helper_memory_max = "lots";
  helper_user = "a b"; };
tree = { name = "root"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
	"$ARBORD" -c "$T/bad.conf" --check >"$T/out" 2>&1 && fail "accepted" && return 1
	grep -q "bad.conf:1: daemon: helper_memory_max: \"lots\" is not a size" "$T/out" ||
	    fail "$(cat "$T/out")" || return 1
	grep -q "bad.conf:2: daemon: helper_user: \"a b\" is not a user name" "$T/out" ||
	    fail "$(cat "$T/out")" || return 1
}

test_a_missing_helper_binary_is_said_once_and_the_tree_runs() {
	local api
	# arbord in a directory with its observability helper alone (the
	# test reads events): no arbor-checks beside it, and none installed
	# under the libexec directory it was built with.
	mkdir -p "$T/bin"
	cp "$ARBORD" "$T/bin/arbord"
	cp "$(dirname "$ARBORD")/arbor-obs" "$T/bin/arbor-obs"
	[ -e /usr/local/libexec/arbor/arbor-checks ] && return 77
	ARBORD=$T/bin/arbord start_tree 1 || return 1
	api=$(pid_of root/api)
	wait_for "the helper said missing" log_has "helper checks: .*arbor-checks: No such file or directory; running without it" || return 1
	sleep 1.5
	assert_eq "said once" 1 "$(log_count "helper checks: .*running without it")" || return 1
	assert_eq "state" missing "$(helper_field 3)" || return 1
	assert_eq "api's pid" "$api" "$(pid_of root/api)" || return 1
	untouched root/api || return 1
	# Installed now where the log said: found at a later try (its
	# backoff is at most 10 s).
	mkdir -p "$T/libexec/arbor"
	cp "$(dirname "$ARBORD")/arbor-checks" "$T/libexec/arbor/arbor-checks"
	wait_for "the helper running once installed" helper_running_not 0 || return 1
	assert_eq "api's pid" "$api" "$(pid_of root/api)" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# A package upgrade replaces a helper's binary beside a running core, whose
# records the new one may not speak: each restart runs the file arbord
# found at its start, until arbord itself is restarted.
test_a_helper_replaced_on_disk_restarts_from_the_file_it_was_started_with() {
	local api old
	mkdir -p "$T/bin"
	cp "$ARBORD" "$T/bin/arbord"
	cp "$(dirname "$ARBORD")/arbor-obs" "$(dirname "$ARBORD")/arbor-checks" "$T/bin/"
	ARBORD=$T/bin/arbord start_tree 1 || return 1
	api=$(pid_of root/api)
	wait_for "the checks helper" helper_running_not 0 || return 1
	old=$(helper_pid checks)
	# The new file, put in place as dpkg does (a rename over the old).
	printf '#!/bin/sh\ntouch "%s/upgraded"\nexit 1\n' "$T" >"$T/bin/arbor-checks.new"
	chmod 755 "$T/bin/arbor-checks.new"
	mv "$T/bin/arbor-checks.new" "$T/bin/arbor-checks"
	kill -SEGV "$old"
	wait_for "the helper restarted" helper_running_not "$old" || return 1
	[ ! -e "$T/upgraded" ] || fail "the restart ran the replaced file" || return 1
	assert_eq "api's pid" "$api" "$(pid_of root/api)" || return 1
	untouched root/api || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# The output helper (arbor-output): worker output is read, stamped and
# written by an unprivileged process of its own; the core keeps both ends
# of every pipe, so what a worker writes while the helper is down waits in
# its pipe for the next one.
out_helper_field() { ctl daemon | awk -v f="$1" '$1 == "helper" && $2 == "output" { print $f }'; }
lines_in() { [ "$(grep -c " out line-" "$T/logs/root/w/current" 2>/dev/null)" = "$1" ]; }

# 1,000 numbered lines written over some 3 s while the helper faults by a
# write through a null pointer 50 ms after each of its starts (down 10 ms,
# 20, 40 ... 1 s between): every line reaches the file, once, in order,
# and the writer is never touched.
test_output_helper_crash_looping_loses_no_line() {
	conf a <<CONF
daemon = { log_dir = "$T/logs"; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "i=1; while [ \$i -le 1000 ]; do echo line-\$i; i=\$((i + 1)); sleep 0.002; done; exec sleep 1000"]; }
); };
CONF
	export ARBOR_HELPER_FAULT=output:segv
	start_arbord "$T/a.conf"
	unset ARBOR_HELPER_FAULT
	local w=$(pid_of root/w)
	wait_for "the output helper's first fault" log_has "helper output killed by SIGSEGV, restarting in 10 ms" || return 1
	wait_for "three restarts" eval '[ "$(out_helper_field 7)" -ge 3 ]' || return 1
	wait_for "all 1000 lines" lines_in 1000 || { fail "$(grep -c " out line-" "$T/logs/root/w/current") lines"; return 1; }
	grep -o ' out line-[0-9]*$' "$T/logs/root/w/current" | awk '$2 != "line-" NR { print "line " NR ": " $0; exit 1 }' ||
	    fail "lines out of order or repeated" || return 1
	assert_eq "w's pid" "$w" "$(pid_of root/w)" || return 1
	assert_eq "w's restarts" 0 "$(json root/w .restarts)" || return 1
	echo "1000 lines in order across $(out_helper_field 7) restarts of the output helper"
	stop_arbord || fail "arbord's exit: $?"
}

# The output helper runs as the helpers' user with no capability, under
# seccomp, in a leaf of its own; a worker's log directory and files are
# that user's (made by the core, which keeps the directories above them),
# the files 0640.
test_the_output_helper_runs_unprivileged_and_owns_only_worker_directories() {
	local hp st uid d=$T/logs/root/w
	conf a <<CONF
daemon = { log_dir = "$T/logs"; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sh", "-c", "echo hello; exec sleep 1000"]; } ); };
CONF
	start_arbord "$T/a.conf" || return 1
	sandboxed output 0000000000000000 || return 1
	uid=$(id -u arbor 2>/dev/null || id -u nobody)
	wait_for "w's line" grep -q " out hello" "$d/current" || return 1
	assert_eq "owners" "0 0 $uid $uid" "$(stat -c %u "$T/logs" "$T/logs/root" "$d" "$d/current" | xargs)" || return 1
	assert_eq "modes" "755 755 755 640" "$(stat -c %a "$T/logs" "$T/logs/root" "$d" "$d/current" | xargs)" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# A worker that writes a line on stderr and crashes, every 0.3 s, while
# the output helper crash-loops: each exit event has its stderr_tail or
# says stderr_tail_missing (the helper was down when the event was due),
# and at arbord's exit every line is in the worker's file, one per start
# (the core starts the helper for that if it is waiting out its backoff).
test_exits_while_the_output_helper_is_down_lose_no_line() {
	conf a <<CONF
daemon = { log_dir = "$T/logs"; };
observability = { metrics_listen = ""; event_log = "$T/events.jsonl"; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1000; period = 10; children = (
  { name = "c"; command = ["/bin/sh", "-c", "echo last-words >&2; sleep 0.3; exit 3"]; }
); };
CONF
	export ARBOR_HELPER_FAULT=output:segv
	start_arbord "$T/a.conf"
	unset ARBOR_HELPER_FAULT
	wait_for "four restarts of the output helper" eval '[ "$(out_helper_field 7)" -ge 4 ]' || return 1
	wait_for "ten exits of c" eval '[ "$(json root/c .restarts)" -ge 10 ]' || return 1
	stop_arbord || fail "arbord's exit: $?" || return 1
	local starts exits with missing lines
	# from arbord's own log: the event log may miss the last 200 ms (the
	# observability thread is stopped at exit without waiting for them)
	starts=$(grep -c "spawn root/c pid=" "$T/log")
	exits=$(jq -s 'map(select(.event == "exit" and .path == "root/c" and .reason == "crash")) | length' "$T/events.jsonl")
	with=$(jq -s 'map(select(.event == "exit" and .path == "root/c" and .reason == "crash" and (.stderr_tail // "" | test("last-words")))) | length' "$T/events.jsonl")
	missing=$(jq -s 'map(select(.event == "exit" and .path == "root/c" and .reason == "crash" and .stderr_tail_missing == true)) | length' "$T/events.jsonl")
	lines=$(grep -c ' err last-words$' "$T/logs/root/c/current")
	echo "$starts starts, $exits crashes: $with with their tail, $missing saying it is missing; $lines lines in the file"
	assert_eq "crashes with a tail or saying it is missing" "$exits" "$((with + missing))" || return 1
	[ "$missing" -ge 1 ] || fail "no exit came while the helper was down: the test proves nothing" || return 1
	assert_eq "lines in the file" "$starts" "$lines"
}

# hostile_why HELPER KIND: what arbord says of a hostile helper's KIND (a
# regex): forge sends a check request, which only the core sends; execve is
# killed by seccomp.
hostile_why() {
	case $2 in
	garbage) echo "helper $1: malformed message: a record of type [0-9]*, which a helper never sends" ;;
	oversize) echo "helper $1: malformed message: a record longer than 8192 bytes" ;;
	forge) echo "helper $1: malformed message: a record of type 1, which a helper never sends" ;;
	execve) echo "helper $1 killed by SIGSYS" ;;
	esac
}

# lines_conf KIND: w writes a numbered line every 50 ms, to $T/logs-KIND.
lines_conf() {
	conf a <<CONF
daemon = { log_dir = "$T/logs-$1"; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "i=0; while :; do i=\$((i + 1)); echo n-\$i; sleep 0.05; done"]; }
); };
CONF
}

# A hostile output helper: each record the core rejects is said, the helper
# killed and started again, and a worker writing meanwhile is untouched
# and keeps its lines. forge sends a check request, which only the core
# sends (and no output helper at all); execve is killed by seccomp.
test_a_hostile_output_helper_is_rejected_and_restarted() {
	local kind why w
	for kind in garbage oversize forge execve; do
		why=$(hostile_why output "$kind")
		lines_conf "$kind"
		ARBOR_HELPER_FAULT=output:$kind start_arbord "$T/a.conf" || return 1
		w=$(pid_of root/w)
		wait_for "$kind rejected" log_has "$why" || return 1
		wait_for "$kind: two restarts" eval '[ "$(out_helper_field 7)" -ge 2 ]' || return 1
		wait_for "$kind: w's lines" grep -q " out n-5$" "$T/logs-$kind/root/w/current" || return 1
		assert_eq "$kind: w's pid" "$w" "$(pid_of root/w)" || return 1
		stop_arbord || fail "$kind: arbord's exit: $?" || return 1
		# every line w wrote, once, in order
		grep -o ' out n-[0-9]*$' "$T/logs-$kind/root/w/current" | awk '$2 != "n-" NR { print "line " NR ": " $0; exit 1 }' ||
		    fail "$kind: w's lines out of order or missing" || return 1
	done
}

# At the shutdown arbord waits up to 5 s for the output helper to write the
# last lines out; one that answers the stop with a record no helper may
# send is killed then, not waited for (its fault comes as it is told to
# stop: "@stop").
test_a_hostile_output_helper_at_shutdown_is_not_waited_for() {
	local kind why t0 t1
	for kind in garbage oversize forge; do
		why=$(hostile_why output "$kind")
		lines_conf "$kind"
		ARBOR_HELPER_FAULT=output:$kind@stop start_arbord "$T/a.conf" || return 1
		wait_for "$kind: w's lines" grep -q " out n-3$" "$T/logs-$kind/root/w/current" || return 1
		t0=$(now_us)
		stop_arbord || fail "$kind: arbord's exit: $?" || return 1
		t1=$(now_us)
		log_has "$why" || fail "$kind: not rejected at the stop" || return 1
		log_has "lines the helper had not written out yet, if any, are lost" ||
		    fail "$kind: no word of the lines" || return 1
		! log_has "did not write the last lines out" ||
		    fail "$kind: the shutdown waited for a hostile helper" || return 1
		[ $((t1 - t0)) -lt $((2500000 * ${ARBOR_TIME_SCALE:-1})) ] ||
		    fail "$kind: the shutdown took $(((t1 - t0) / 1000)) ms" || return 1
	done
}

# A helper that stops reading while the core's records pile up (the
# output of 300 workers given to it at their start), then shuts its
# reading side and lives on (its heartbeats going on): the core's socket
# then reads as writable and takes nothing, and the core, waiting for room
# to send what it had queued, spun on it for ever (a whole CPU). The
# helper is killed and started again; the tree goes on.
test_a_helper_that_stops_taking_records_is_killed() {
	local kids="" i cpu0 cpu1
	for i in $(seq 300); do
		kids="$kids${kids:+,}{ name = \"s$i\"; command = [\"/bin/sleep\", \"1000\"]; }"
	done
	conf a <<CONF
daemon = { log_dir = "$T/logs"; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = ( $kids ); };
CONF
	ARBOR_HELPER_FAULT=output:deaf start_arbord "$T/a.conf" || return 1
	wait_for "the helper killed" log_has "helper output: its socket takes no more records (Broken pipe); killing it" || return 1
	# utime + stime, in clock ticks: not a core spinning (a CPU's worth).
	cpu0=$(awk '{ print $14 + $15 }' "/proc/$ARBORD_PID/stat")
	sleep 1
	cpu1=$(awk '{ print $14 + $15 }' "/proc/$ARBORD_PID/stat")
	[ $((cpu1 - cpu0)) -lt $(($(getconf CLK_TCK) / 2)) ] ||
	    fail "arbord used $((cpu1 - cpu0)) ticks of CPU in 1 s" || return 1
	wait_for "the helper started again" eval '[ "$(out_helper_field 7)" -ge 1 ]' || return 1
	assert_eq "s300's restarts" 0 "$(json root/s300 .restarts)" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# The observability helper (arbor-obs): the join, metrics, the event log,
# traces and the console run in an unprivileged process of their own; the
# core loads the probes and keeps the event queue, the ring buffer, the
# metrics listener and the event log's file across its restarts.
obs_helper_field() { ctl daemon | awk -v f="$1" '$1 == "helper" && $2 == "observability" { print $f }'; }
obs_helper_new() { local p; p=$(helper_pid observability) && [ -n "$p" ] && [ "$p" != "$1" ]; }
# exits_in_log: the pids of c's exits arbord logged, one a line
exits_in_log() { grep -o 'exit root/c pid=[0-9]*' "$T/log" | cut -d= -f2; }
# each_exit_once PIDS...: each pid's exit in the event log exactly once
each_exit_once() {
	local p
	for p in "$@"; do
		[ "$(jq -c "select(.event == \"exit\" and .pid == $p)" "$T/events.jsonl" 2>/dev/null | wc -l)" = 1 ] || return 1
	done
}

# The helper is stopped (SIGSTOP) while a worker crashes ten times, then
# killed (SIGKILL): the next helper is given the queue the core kept, and
# every exit arbord logged reaches the event log, once, the kernel's side
# of it (the probes' ring buffer, kept by the core) with it.
test_events_while_the_observability_helper_is_down_are_delivered() {
	local hp r0 pids
	conf a <<CONF
observability = { metrics_listen = ""; event_log = "$T/events.jsonl"; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1000; period = 10; children = (
  { name = "c"; command = ["/bin/sh", "-c", "sleep 0.15; exit 3"]; }
); };
CONF
	start_arbord "$T/a.conf" || return 1
	wait_for "the observability helper" helper_pid observability || return 1
	hp=$(helper_pid observability)
	wait_for "a first exit in the event log" grep -q '"event":"exit"' "$T/events.jsonl" || return 1
	# c's restarts are counted in arbord's log: with the helper stopped, a
	# status waited until it was killed as hung (3 s), so that the kill
	# below came too late to be the one the helper died of.
	r0=$(grep -c 'arbord: restart root/c$' "$T/log")
	kill -STOP "$hp"
	wait_for "ten crashes while it is stopped" eval '[ "$(grep -c "arbord: restart root/c\$" "$T/log")" -ge $((r0 + 10)) ]' || return 1
	# (Under a sanitizer it may have been killed as hung already.)
	kill -KILL "$hp" 2>/dev/null
	wait_for "a new observability helper" obs_helper_new "$hp" || return 1
	pids=$(exits_in_log | xargs)
	wait_for "each exit arbord logged, once, in the event log" each_exit_once $pids || {
		for p in $pids; do
			echo "pid $p: $(jq -c "select(.event == \"exit\" and .pid == $p)" "$T/events.jsonl" | wc -l) exit events"
		done
		return 1
	}
	assert_eq "the exits' order" "$pids" \
	    "$(jq -r --arg p " $pids " 'select(.event == "exit") | select(.pid as $x | $p | contains(" \($x) ")) | .pid' "$T/events.jsonl" | xargs)" || return 1
	echo "report: $(echo $pids | wc -w) exits, each once and in order in the event log, across a stop and a kill of the helper"
	# The kernel's side came through the ring buffer the core kept.
	if log_has "eBPF probes attached"; then
		[ "$(jq -c 'select(.event == "exit" and .status == 3 and .arbord_mono_ns != null)' "$T/events.jsonl" | wc -l)" -ge 10 ] ||
		    fail "exits without the kernel's side: $(grep '"event":"exit"' "$T/events.jsonl" | tail -n 2)" || return 1
	fi
	stop_arbord || fail "arbord's exit: $?"
}

# An observability helper that allocates without end is OOM-killed in its
# own cgroup, again at each start; arbord's memory does not grow and the
# worker beside it is untouched.
test_an_observability_helper_out_of_memory_is_killed_alone() {
	local rss0 rss1 kills w
	[ -n "$(ls /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory 2>/dev/null)" ] ||
	    [ -e /sys/fs/cgroup/cgroup.controllers ] || return 77
	conf a <<CONF
daemon = { helper_memory_max = "64M"; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	ARBOR_HELPER_FAULT=observability:oom start_arbord "$T/a.conf" || return 1
	w=$(pid_of root/w)
	rss0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$ARBORD_PID/status")
	wait_for "an OOM kill in the helper's own cgroup" eval \
	    'kills=$(helper_oom_kills observability 2>/dev/null) && [ "${kills:-0}" -ge 1 ]' || return 1
	wait_for "a second one" eval \
	    'kills=$(helper_oom_kills observability 2>/dev/null) && [ "${kills:-0}" -ge 2 ]' || return 1
	wait_for "the kill said" log_has "helper observability killed by SIGKILL, restarting in" || return 1
	rss1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$ARBORD_PID/status")
	echo "report: observability helper OOM-killed $kills times in its own cgroup; arbord's RSS $rss0 -> $rss1 KiB"
	sanitized || [ $((rss1 - rss0)) -lt 2048 ] ||
	    fail "arbord's RSS grew from $rss0 to $rss1 KiB" || return 1
	assert_eq "w's pid" "$w" "$(pid_of root/w)" || return 1
	assert_eq "w's restarts" 0 "$(json root/w .restarts)" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# A port below 1024 the helper could not bind: the core binds it and
# passes it.
free_low_port() {
	python3 -c '
import socket
for p in range(900, 1000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# The helper runs as the helpers' user, with no_new_privs, seccomp, and at
# most CAP_BPF (when the probes are loaded: the kernel may ask it for map
# look-ups on a passed fd), in a leaf of its own; it serves metrics on a
# privileged port the core bound; the event log's file is the core's
# (root's, 0640) and written through the descriptor it passed; and arbord
# itself maps neither libmicrohttpd nor libcurl.
test_the_observability_helper_runs_unprivileged_on_a_port_the_core_bound() {
	local hp st uid port caps
	port=$(free_low_port)
	[ -n "$port" ] || { echo "no free port below 1024"; return 77; }
	conf a <<CONF
observability = { metrics_listen = "127.0.0.1:$port"; event_log = "$T/ev/events.jsonl"; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/a.conf" || return 1
	caps=0000000000000000
	wait_for "the probes tried" grep -qE "eBPF probes attached|eBPF unavailable" "$T/log" || return 1
	log_has "eBPF probes attached" && caps=0000008000000000	# CAP_BPF alone
	sandboxed observability "$caps" || return 1
	wait_for "metrics on port $port" eval 'curl -fsS "http://127.0.0.1:$port/metrics" | grep -q "^arbor_bpf_enabled "' || return 1
	wait_for "the event log" grep -q '"event":"spawn"' "$T/ev/events.jsonl" || return 1
	assert_eq "event log's owner and mode" "0 640" "$(stat -c '%u %a' "$T/ev/events.jsonl")" || return 1
	! grep -qE "libmicrohttpd|libcurl" "/proc/$ARBORD_PID/maps" || fail "arbord maps libmicrohttpd or libcurl" || return 1
	grep -q libmicrohttpd "/proc/$hp/maps" || fail "the helper has no libmicrohttpd" || return 1
	stop_arbord || fail "arbord's exit: $?"
}

# A hostile observability helper: each record the core rejects is said,
# the helper killed and started again; the tree is untouched.
test_a_hostile_observability_helper_is_rejected_and_restarted() {
	local kind why w
	for kind in garbage oversize forge execve; do
		why=$(hostile_why observability "$kind")
		conf a <<CONF
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
		ARBOR_HELPER_FAULT=observability:$kind start_arbord "$T/a.conf" || return 1
		w=$(pid_of root/w)
		wait_for "$kind rejected" log_has "$why" || return 1
		wait_for "$kind: two restarts" eval '[ "$(obs_helper_field 7)" -ge 2 ]' || return 1
		assert_eq "$kind: w's pid" "$w" "$(pid_of root/w)" || return 1
		assert_eq "$kind: w's restarts" 0 "$(json root/w .restarts)" || return 1
		stop_arbord || fail "$kind: arbord's exit: $?" || return 1
	done
}

# obs_fault_case KIND CAUSE: the observability helper faults by KIND after
# each start (or, for kill, is SIGKILLed from outside); its death is said
# with CAUSE, it is back within 1 s (hang: its 3 s, then 10 ms), a worker
# keeps its pid with no event of its own, one crashing beside it keeps
# being restarted, and arbord exits 0.
obs_fault_case() {
	local kind=$1 cause=$2 w c0 hp t0
	conf a <<CONF
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1000; period = 10; children = (
  { name = "w"; command = ["/bin/sleep", "1000"]; },
  { name = "crash"; command = ["/bin/sh", "-c", "sleep 0.2; exit 3"]; }
); };
CONF
	if [ "$kind" = kill ]; then
		start_arbord "$T/a.conf" || return 1
		wait_for "the observability helper" helper_pid observability || return 1
		kill -KILL "$(helper_pid observability)"
	else
		ARBOR_HELPER_FAULT=observability:$kind start_arbord "$T/a.conf" || return 1
	fi
	w=$(pid_of root/w)
	wait_for "$kind: said" log_has "helper observability $cause, restarting in" || return 1
	t0=$(now_us)
	wait_for "$kind: back" eval '[ "$(obs_helper_field 3)" = running ]' || return 1
	[ $(($(now_us) - t0)) -lt $((1000000 * ${ARBOR_TIME_SCALE:-1})) ] ||
	    fail "$kind: back $((($(now_us) - t0) / 1000)) ms after its death" || return 1
	# crash's restarts are counted in arbord's log, not in status: while
	# the helper hangs, a status may wait until it is killed (3 s), as
	# each did here, twice a run.
	c0=$(grep -c 'arbord: restart root/crash$' "$T/log")
	wait_for "$kind: crash restarted meanwhile" eval '[ "$(grep -c "arbord: restart root/crash\$" "$T/log")" -ge $((c0 + 3)) ]' || return 1
	assert_eq "$kind: w's pid" "$w" "$(pid_of root/w)" || return 1
	assert_eq "$kind: w's restarts" 0 "$(json root/w .restarts)" || return 1
	assert_eq "$kind: w's lines in arbord's log" "spawn exec ready " \
	    "$(grep -oE 'arbord: [a-z_]+ root/w( |$)' "$T/log" | awk '{ print $2 }' | tr '\n' ' ')" || return 1
	stop_arbord
	assert_eq "$kind: arbord's exit" 0 "$?"
}

test_an_observability_helper_that_aborts_or_exits_is_back_within_1s() {
	obs_fault_case segv "killed by SIGSEGV" || return 1
	obs_fault_case abort "killed by SIGABRT" || return 1
	obs_fault_case exit "exited with status 1" || return 1
	obs_fault_case kill "killed by SIGKILL"
}

test_a_hung_observability_helper_is_killed_after_3_s() {
	obs_fault_case hang "hung: no heartbeat for 3000 ms"
}
