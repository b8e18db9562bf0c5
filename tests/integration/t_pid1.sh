# SPDX-License-Identifier: BSD-2-Clause
# arbord as PID 1 of a PID namespace, as in a container (arbord(8)).

test_pid1_reaps_zombies_and_shuts_down_on_sigterm() {
	unshare --pid --fork true 2>/dev/null || { echo "unshare --pid not permitted here"; return 77; }
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "leaver"; command = ["/bin/sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; echo \$\$ > $T/leaver; echo a-line-for-docker-logs; exec sleep 1000"]; }
); };
CONF
	unshare --pid --fork --kill-child "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	local unshare_pid=$!
	wait_for "arbord up" ctl status || return 1
	ARBORD_PID=$(pgrep -P "$unshare_pid" -x arbord)
	log_has "arbord 1 started" || fail "arbord is not PID 1 in its namespace" || return 1
	# The worker sees the pid arbord reports: both are of the namespace.
	assert_eq "worker pid inside the namespace" "$(pid_of root/leaver)" "$(cat "$T/leaver")" || return 1
	# As PID 1 (a container), worker lines are echoed for `docker logs`.
	wait_for "the worker's line echoed with its path" log_has '^root/leaver| a-line-for-docker-logs$' || return 1
	# The five orphans are re-parented to arbord (PID 1) and must be reaped;
	# what stays is the worker (and, with containment, the guardian; and
	# the helpers, arbor-output and arbor-obs).
	wait_for "orphans reaped" bash -c "[ \"\$(ps -o stat= --ppid $ARBORD_PID | grep -c '^Z')\" = 0 ] &&
		[ \"\$(ps -o comm= --ppid $ARBORD_PID | grep -vcE '^(arbord-guard|arbor-output|arbor-obs)\$')\" = 1 ]" || return 1
	kill -TERM "$ARBORD_PID"
	wait "$unshare_pid"
	assert_eq "exit code" 0 "$?" || return 1
	log_has "SIGTERM: orderly shutdown" || fail "SIGTERM not handled as shutdown" || return 1
	log_has "exit root/leaver pid=[0-9]* reason=shutdown" || fail "worker not stopped"
}

test_pid1_exit_code_when_the_root_gives_up() {
	unshare --pid --fork true 2>/dev/null || { echo "unshare --pid not permitted here"; return 77; }
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 1; period = 30; children = (
  { name = "bad"; command = ["/bin/false"]; }
); };
CONF
	unshare --pid --fork --kill-child "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1
	assert_eq "exit code of arbord as PID 1" 3 "$?"
}
