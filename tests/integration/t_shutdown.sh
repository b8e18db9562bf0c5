# SPDX-License-Identifier: BSD-2-Clause
# Orderly shutdown: reverse order, stop_signal, shutdown timeouts (arbord(8)).

test_shutdown_reverse_order_and_timeouts() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "first"; command = ["/bin/sleep", "1000"]; },
  { name = "sub"; strategy = "one_for_all"; children = (
      { name = "x"; command = ["/bin/sleep", "1000"]; },
      { name = "stubborn"; command = ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"]; shutdown = 300; }
  ); },
  { name = "intsig"; command = ["/bin/sh", "-c", "trap 'echo got-int > $T/int; exit 0' INT; while :; do sleep 0.05; done"]; stop_signal = "SIGINT"; },
  { name = "brutal"; command = ["/bin/sleep", "1000"]; shutdown = "brutal_kill"; }
); };
CONF
	start_arbord "$T/tree.conf"
	local pids="$(pid_of root/first) $(pid_of root/sub/x) $(pid_of root/sub/stubborn) $(pid_of root/intsig) $(pid_of root/brutal)"
	local t0=$EPOCHREALTIME
	stop_arbord
	assert_eq "exit code" 0 "$?" || return 1
	local order=$(awk '$3 == "stop" { printf "%s ", $4 }' "$T/log")
	assert_eq "stop order" "root/brutal root/intsig root/sub/stubborn root/sub/x root/first " "$order" || return 1
	grep -q 'stop root/brutal .*signal=SIGKILL' "$T/log" || fail "brutal_kill not SIGKILL" || return 1
	grep -q 'exit root/sub/stubborn .*signal=SIGKILL' "$T/log" || fail "stubborn not killed after its shutdown time" || return 1
	[ "$(cat "$T/int")" = got-int ] || fail "stop_signal SIGINT not delivered" || return 1
	for p in $pids; do dead "$p" || fail "pid $p survived" || return 1; done
	[ ! -e "$T/sock" ] || fail "socket left behind"
}

test_sigterm_and_sigint_shut_down_cleanly() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "a"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	for sig in TERM INT; do
		start_arbord "$T/tree.conf"
		local p=$(pid_of root/a)
		kill -$sig "$ARBORD_PID"
		wait "$ARBORD_PID"
		assert_eq "exit code on SIG$sig" 0 "$?" || return 1
		dead "$p" || fail "worker survived SIG$sig" || return 1
	done
}

test_sigkilled_arbord_leaves_no_worker() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "a"; command = ["/bin/sleep", "1000"]; },
  { name = "sub"; strategy = "one_for_one"; children = (
    { name = "b"; command = ["/bin/sleep", "1000"]; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf"
	local a=$(pid_of root/a) b=$(pid_of root/sub/b)
	kill -KILL "$ARBORD_PID"
	wait_for "a dies with arbord" dead "$a" || return 1
	wait_for "b dies with arbord" dead "$b"
}

test_stray_children_killed_before_restart() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "leaky"; command = ["/bin/sh", "-c", "sleep 1000 & echo \$! > $T/stray.\$\$; while [ ! -e $T/go ]; do sleep 0.02; done; rm -f $T/go; exit 1"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	local main=$(pid_of root/leaky)
	wait_for "stray recorded" test -s "$T/stray.$main" || return 1
	local stray=$(cat "$T/stray.$main")
	alive "$stray" || fail "stray not running" || return 1
	touch "$T/go"
	wait_for "restarted" is_running_new root/leaky "$main" || return 1
	wait_for "stray killed" dead "$stray"
}

test_orphans_are_reaped() {
	# The worker's child forks a short-lived grandchild and exits, so the
	# grandchild is re-parented to arbord (a subreaper); when it exits it
	# must be reaped, not left a zombie (kill -0 succeeds on a zombie).
	orphan_tree ""
	start_arbord "$T/tree.conf"
	orphan_reaped
}

# orphan_tree EXTRA_CHILDREN: worker w forks a grandchild and exits at once.
# The grandchild lives 1 s, long enough to be seen re-parented on a loaded
# machine (0.2 s was once missed under ASan).
orphan_tree() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  $1
  { name = "w"; command = ["/bin/sh", "-c", "(sh -c 'echo \$\$ > $T/gc; sleep 1' &) ; exec sleep 1000"]; }
); };
CONF
}

# orphan_reaped: the grandchild was re-parented to arbord and then reaped.
orphan_reaped() {
	wait_for "grandchild started" test -s "$T/gc" || return 1
	local gc=$(cat "$T/gc")
	wait_for "grandchild re-parented to arbord" bash -c "[ \"\$(ps -o ppid= -p $gc | tr -d ' ')\" = $ARBORD_PID ]" || return 1
	wait_for "grandchild reaped" bash -c "! kill -0 $gc"
}

test_orphans_are_reaped_in_a_big_tree() {
	# Past 64 workers arbord looks for orphans at most every 50 ms rather
	# than at each SIGCHLD: they are still reaped, and a worker's exit is
	# still handled at once.
	local kids="" i
	for ((i = 0; i < 80; i++)); do kids+="{ name = \"s$i\"; command = [\"/bin/sleep\", \"1000\"]; },"; done
	orphan_tree "$kids"
	start_arbord "$T/tree.conf"
	orphan_reaped || return 1
	local p=$(pid_of root/s7)
	kill -9 "$p"
	wait_for "s7 restarted" is_running_new root/s7 "$p" || return 1
	dead "$p" || fail "s7's old process left a zombie" || return 1
	assert_eq "zombies among arbord's children" "" "$(ps --ppid "$ARBORD_PID" -o stat= | grep Z)"
}
