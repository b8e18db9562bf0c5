# SPDX-License-Identifier: BSD-2-Clause
# Restart types, success_exit_codes, restart_delay and escalation (arbord(8)).
# lanes: alone for storm_of_exits (2,000 workers forked and killed load
# both CPUs)

# A worker that exits with the status written in $T/code.<name> when that
# file appears, and otherwise sleeps.
exiter() {
	echo "[\"/bin/sh\", \"-c\", \"while [ ! -e $T/code.$1 ]; do sleep 0.02; done; c=\$(cat $T/code.$1); rm -f $T/code.$1; exit \$c\"]"
}

test_restart_types() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 20; children = (
  { name = "perm"; command = $(exiter perm); },
  { name = "trans"; command = $(exiter trans); restart = "transient"; },
  { name = "trans2"; command = $(exiter trans2); restart = "transient"; success_exit_codes = [0, 7]; },
  { name = "temp"; command = $(exiter temp); restart = "temporary"; }
); };
CONF
	start_arbord "$T/tree.conf"
	local p=$(pid_of root/perm) t=$(pid_of root/trans) t2=$(pid_of root/trans2)
	# permanent: restarted even after a normal exit
	echo 0 >"$T/code.perm"
	wait_for "perm restarted" is_running_new root/perm "$p" || return 1
	assert_eq "perm exit" normal "$(json root/perm .last_exit.reason)" || return 1
	# transient: a crash restarts it, a normal exit does not
	echo 1 >"$T/code.trans"
	wait_for "trans restarted" is_running_new root/trans "$t" || return 1
	echo 0 >"$T/code.trans"
	wait_for "trans stopped" is_state root/trans stopped || return 1
	assert_eq "trans exit" normal "$(json root/trans .last_exit.reason)" || return 1
	# success_exit_codes: 7 is normal for trans2
	echo 7 >"$T/code.trans2"
	wait_for "trans2 stopped" is_state root/trans2 stopped || return 1
	assert_eq "trans2 status" "normal 7" "$(json root/trans2 '"\(.last_exit.reason) \(.last_exit.status)"')" || return 1
	# temporary: never restarted, even after a crash
	echo 3 >"$T/code.temp"
	wait_for "temp stopped" is_state root/temp stopped || return 1
	assert_eq "temp exit" "crash 3" "$(json root/temp '"\(.last_exit.reason) \(.last_exit.status)"')" || return 1
	assert_eq "temp restarts" 0 "$(json root/temp .restarts)"
}

test_restart_delay_backoff() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 20; children = (
  { name = "w"; command = $(exiter w); restart_delay = 300; }
); };
CONF
	start_arbord "$T/tree.conf"
	local p=$(pid_of root/w)
	echo 1 >"$T/code.w"
	wait_for "backoff" is_state root/w backoff || return 1
	wait_for "restarted after the delay" is_running_new root/w "$p"
}

test_nested_give_up_restarts_subtree_and_keeps_siblings() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 5; children = (
  { name = "left"; strategy = "one_for_one"; intensity = 1; period = 30; children = (
      { name = "loop"; command = $(exiter loop); },
      { name = "calm"; command = ["/bin/sleep", "1000"]; }
  ); },
  { name = "right"; strategy = "one_for_one"; children = (
      { name = "x"; command = ["/bin/sleep", "1000"]; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf"
	local x=$(pid_of root/right/x) calm=$(pid_of root/left/calm) l=$(pid_of root/left/loop)
	echo 1 >"$T/code.loop"
	wait_for "loop restarted" is_running_new root/left/loop "$l" || return 1
	echo 1 >"$T/code.loop"	# second restart in 30 s: left gives up
	wait_for "left restarted by root" bash -c "[ \"\$($ARBORCTL -s $T/sock status root/left --json | jq .restarts)\" = 1 ]" || return 1
	wait_for "calm restarted fresh" is_running_new root/left/calm "$calm" || return 1
	wait_for "the give_up line" log_has "give_up root/left: more than 1 restart within 30 s" || return 1
	assert_eq "sibling subtree keeps its pid" "$x" "$(pid_of root/right/x)" || return 1
	assert_eq "left last exit" "crash give_up" "$(json root/left '"\(.last_exit.reason) \(.last_exit.cause)"')"
}

test_root_give_up_exits_3() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 2; period = 30; children = (
  { name = "bad"; command = ["/bin/sh", "-c", "exit 1"]; },
  { name = "other"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	expect_exit 3 "$T/tree.conf" || return 1
	log_has "give_up root: more than 2 restarts within 30 s" || fail "no give_up line" || return 1
	log_has "stop root/other" || fail "other was not stopped" || return 1
	[ ! -e "$T/sock" ] || fail "socket left behind"
}

test_exec_failure_is_a_crash_with_a_clear_line() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 1; period = 30; children = (
  { name = "ok"; command = ["/bin/sleep", "1000"]; },
  { name = "missing"; command = ["/nonexistent/arbor-test"]; restart = "transient"; }
); };
CONF
	expect_exit 3 "$T/tree.conf" || return 1
	log_has 'root/missing: cannot start: execve /nonexistent/arbor-test: No such file or directory' ||
		fail "no line naming the command and errno" || return 1
	log_has 'exit root/missing reason=crash cause=spawn_failed' || fail "no crash event"
}

test_auto_shutdown_any_significant() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "job"; strategy = "one_for_one"; restart = "transient"; auto_shutdown = "any_significant";
    children = (
      { name = "main"; command = $(exiter main); restart = "transient"; significant = true; },
      { name = "helper"; command = ["/bin/sleep", "1000"]; }
  ); },
  { name = "other"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	local helper=$(pid_of root/job/helper)
	echo 0 >"$T/code.main"	# main is done: job shuts down, not restarted
	wait_for "job stopped" is_state root/job stopped || return 1
	dead "$helper" || fail "helper survived" || return 1
	assert_eq "job exit" normal "$(json root/job .last_exit.reason)" || return 1
	is_state root/other running || fail "other disturbed"
}

test_root_auto_shutdown_ends_arbord_with_0() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; auto_shutdown = "all_significant"; children = (
  { name = "x"; command = ["/bin/sh", "-c", "exit 0"]; restart = "temporary"; significant = true; },
  { name = "y"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	expect_exit 0 "$T/tree.conf" || return 1
	log_has "stop root/y" || fail "y not stopped"
}

# Two thousand workers killed at once: their restarts, some milliseconds
# each, take seconds. Commands are served between them, a few exits at a
# time (reactor_watch_bulk), not after all of them: each status is
# answered within 2 s (before, the first waited for the whole storm:
# 6 s here).
test_a_storm_of_exits_leaves_commands_served() {
	local n=2000 kids="" i
	for ((i = 0; i < n; i++)); do kids+="{ name = \"w$i\"; command = [\"/bin/sleep\", \"100000\"]; stdout = \"null\"; stderr = \"null\"; },"; done
	conf a <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = ( ${kids%,} ); };
CONF
	start_arbord "$T/a.conf" --no-bpf || return 1
	running() { [ "$(ctl status --json | jq '[.children[] | select(.state == "running")] | length')" = "$n" ]; }
	wait_for "$n workers running" running || return 1
	ctl status --json | jq -r '.children[].pid' >"$T/pids"
	xargs kill -9 <"$T/pids"
	# Under a sanitizer a status of 2,000 alone takes some 0.5 s.
	local limit=$((2000000 * ${ARBOR_TIME_SCALE:-1})) t0 dt max=0 k=0 back=0
	sanitized && limit=$((limit * 2))
	until [ "$back" = "$n" ]; do
		t0=$(now_us)
		ctl status --json >"$T/st" || fail "status $k went unanswered" || return 1
		dt=$(($(now_us) - t0))
		[ "$dt" -gt "$max" ] && max=$dt
		[ "$dt" -le "$limit" ] || fail "status $k took $((dt / 1000)) ms during the storm ($back of $n back)" || return 1
		# The old pids as an object's keys: a lookup each, not a scan of
		# 2,000 (that took 0.5 s of a CPU a status, beside the storm).
		back=$(jq --slurpfile old <(jq -s . "$T/pids") \
		    '($old[0] | map({key: tostring, value: true}) | from_entries) as $o |
		    [.children[] | select(.state == "running" and ($o[.pid | tostring] | not))] | length' "$T/st")
		k=$((k + 1))
	done
	echo "report: $k statuses during the storm of $n exits, the slowest in $((max / 1000)) ms"
	[ "$k" -ge 2 ] || echo "(the storm ended before a second status: nothing measured)"
	stop_arbord
	assert_eq "exit code" 0 "$?"
}

test_workers_dying_as_fast_as_restarted_never_starve_commands() {
	# Sixteen workers that exit at once, restarted with no delay: each
	# restart makes the next zombie while the last is reaped. Commands
	# are still answered (arborctl waits 5 s for a reply), every time.
	local kids="" i
	for ((i = 0; i < 16; i++)); do kids+="{ name = \"c$i\"; command = [\"/bin/false\"]; },"; done
	conf a <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = ( ${kids%,} ); };
CONF
	start_arbord "$T/a.conf" --no-bpf || return 1
	wait_for "a thousand restarts" sh -c "[ \$(\"$ARBORCTL\" -s $T/sock status --json | jq '[.children[].restarts] | add') -ge 1000 ]" || return 1
	for ((i = 0; i < 5; i++)); do
		ctl status root/c0 --json >/dev/null || fail "status $i went unanswered" || return 1
	done
	stop_arbord
	assert_eq "exit code" 0 "$?"
}
