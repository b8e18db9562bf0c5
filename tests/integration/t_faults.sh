# SPDX-License-Identifier: BSD-2-Clause
# Faults thrown at arbord, and what it refuses (issue: reliability and
# security). Floods of control clients, a SIGTERM-ignoring worker and a
# SIGKILLed arbord are in t_control.sh and t_shutdown.sh.
# lanes: alone for ^t_faults:test_(metrics_on_loopback_by_default|fork_failing_is_a_crash_and_arbord_lives)$
# (the first needs port 9725, which an arbord of another file on its
# default listener would hold; the second limits user arbor-it's processes,
# which other files' workers count against)

raw() { python3 "$HELPERS/rawclient.py" "$@"; }

test_config_others_can_write_is_refused_as_root() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 77; }
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "a"; command = ["/bin/true"]; restart = "temporary"; } ); };
CONF
	chmod 0666 "$T/tree.conf"
	"$ARBORD" --check -c "$T/tree.conf" >/dev/null 2>"$T/err"
	assert_eq "world-writable" 1 "$?" || return 1
	grep -q "writable by others (mode 0666); arbord running as root refuses it" "$T/err" || fail "$(cat "$T/err")" || return 1
	chmod 0664 "$T/tree.conf"
	chgrp nogroup "$T/tree.conf"
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" >/dev/null 2>"$T/err"
	assert_eq "group-writable, group nogroup" 1 "$?" || return 1
	grep -q "writable by its group" "$T/err" || fail "$(cat "$T/err")" || return 1
	chgrp root "$T/tree.conf"
	"$ARBORD" --check -c "$T/tree.conf" >/dev/null || fail "group root should be accepted" || return 1
	chmod 0644 "$T/tree.conf"
	"$ARBORD" --check -c "$T/tree.conf" >/dev/null || fail "0644 refused"
}

test_fork_failing_is_a_crash_and_arbord_lives() {
	[ "$(id -u)" = 0 ] || { echo "needs root to run arbord as another uid"; return 77; }
	ensure_test_user || return 1
	[ -z "$(pgrep -u arbor-it)" ] || { echo "processes of arbor-it already run"; return 77; }
	mkdir -m 0755 "$T/run" && chown arbor-it "$T/run"
	chmod 755 "$T"
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = (
  { name = "a"; command = ["/bin/sleep", "1000"]; stdout = "null"; stderr = "null"; },
  { name = "b"; command = ["/bin/sleep", "1000"]; stdout = "null"; stderr = "null"; },
  { name = "c"; command = ["/bin/sleep", "1000"]; restart = "temporary"; stdout = "null"; stderr = "null"; }
); };
CONF
	# arbord's core, observability and log threads, a and b (no output
	# is captured: no output helper): the sixth fork of this uid fails.
	setpriv --reuid=arbor-it --regid=arbor-it --init-groups \
		prlimit --nproc=5:5 "$ARBORD" -c "$T/tree.conf" -s "$T/run/sock" --no-bpf >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord up" "$ARBORCTL" -s "$T/run/sock" status || return 1
	wait_for "c's failed start logged" log_has "root/c: cannot start: clone: Resource temporarily unavailable" || return 1
	wait_for "c stopped, a crash" bash -c "[ \"\$($ARBORCTL -s $T/run/sock status root/c --json | jq -r '.state + \" \" + .last_exit.reason + \" \" + .last_exit.cause')\" = 'stopped crash spawn_failed' ]" || return 1
	[ "$("$ARBORCTL" -s "$T/run/sock" status root/a --json | jq -r .state)" = running ] || fail "a not running" || return 1
	"$ARBORCTL" -s "$T/run/sock" shutdown || return 1
	wait "$ARBORD_PID"
	assert_eq "exit code" 0 "$?"
}

cpu_ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }

test_fd_exhaustion_degrades_and_recovers() {
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; intensity = 100; period = 10; children = (
  { name = "w"; command = ["/bin/sleep", "1000"]; restart_delay = 200; }
); };
CONF
	prlimit --nofile=48:48 "$ARBORD" -c "$T/tree.conf" -s "$T/sock" --no-bpf >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord up" ctl status || return 1
	local p=$(pid_of root/w)
	python3 "$HELPERS/rawclient.py" idle "$T/sock" 60 >"$T/idle" 2>&1 &
	local idle=$!
	wait_for "accept paused" log_has "control: accept: Too many open files; not accepting for now" || return 1
	# Out of fds, the worker's restart fails and is retried; nothing spins.
	local t0=$(cpu_ticks "$ARBORD_PID")
	kill -9 "$p"
	wait_for "failed restart logged" log_has "root/w: cannot start: .*Too many open files" || return 1
	sleep 1
	local used=$(( $(cpu_ticks "$ARBORD_PID") - t0 ))
	[ "$used" -lt 50 ] || fail "arbord used $used ticks while out of fds" || return 1
	# Said once per episode (a freed fd lets one client in, which ends one),
	# not once a second while it lasts.
	[ "$(grep -c 'not accepting for now' "$T/log")" -le 3 ] || fail "exhaustion said over and over" || return 1
	kill "$idle"
	wait "$idle" 2>/dev/null
	wait_for "accepting again" ctl status || return 1
	wait_for "the recovery said" log_has "control: accepting clients again" || return 1
	wait_for "worker back" is_state root/w running
}

test_event_log_disk_full() {
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "/dev/full"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "full disk said" log_has "event log /dev/full: write: No space left on device" || return 1
	local p=$(pid_of root/w)
	kill -9 "$p"
	wait_for "restart as usual" is_running_new root/w "$p" || return 1
	assert_eq "said once" 1 "$(grep -c 'event log /dev/full: write' "$T/log")" || return 1
	[ "$(ctl metrics | awk '$1 == "arbor_obs_events_dropped_total{source=\"event_log\"}" { print $2 }')" -gt 0 ] ||
		fail "drops not counted"
}

test_a_stalled_stderr_never_stalls_supervision() {
	# arbord's stderr is a pipe that nobody reads: once it and the log
	# ring are full, lines are dropped and counted, the tree goes on.
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "crasher"; command = ["/bin/false"]; }
); };
CONF
	mkfifo "$T/stderr"
	exec 3<>"$T/stderr"	# holds the pipe open, never reads it
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" --no-bpf 2>"$T/stderr" >/dev/null &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	# About 3 lines of 80 bytes per restart: 2000 restarts are 470 KiB,
	# past the pipe (64 KiB) and the ring (256 KiB).
	local n=0 out deadline=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$deadline" ]; do
		out=$(timeout 2 "$ARBORCTL" -s "$T/sock" status root/crasher --json) ||
			fail "status did not answer with stderr stalled (after $n restarts)" || return 1
		n=$(jq .restarts <<<"$out")
		[ "$n" -ge 2000 ] && break
		sleep 0.02
	done
	[ "$n" -ge 2000 ] || fail "only $n restarts with stderr stalled" || return 1
	# Read it now: the lines queued, then how many were dropped (read up
	# to that line, or for 3 s at most: not 3 s whatever comes).
	timeout 3 sed '/arbord: warning: [0-9]* log lines dropped/q' <&3 >"$T/drained"
	exec 3<&-
	grep -qE 'arbord: warning: [0-9]+ log lines dropped: stderr was not read fast enough' "$T/drained" ||
		fail "drops not said: $(tail -c 300 "$T/drained")" || return 1
	grep -q 'exit root/crasher' "$T/drained" || fail "no event lines" || return 1
	stop_arbord
	assert_eq "exit code" 0 "$?"
}

test_no_shell_in_the_spawn_path() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/echo", "\$HOME;id", "\`id\`", "a  b", "*"]; restart = "temporary"; stdout = "file:$T/out"; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "echoed" test -s "$T/out" || return 1
	assert_eq "arguments reach the program as given" '$HOME;id `id` a  b *' "$(cat "$T/out")"
}

test_privileges_dropped_in_order() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 77; }
	ensure_test_user || return 1
	chmod 755 "$T"
	mkdir -m 0777 "$T/w"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "grep -E '^(Uid|Gid|Groups|NoNewPrivs|CapEff):' /proc/self/status > $T/w/status; exec sleep 1000"];
    user = "arbor-it"; no_new_privs = true; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "status written" test -s "$T/w/status" || return 1
	local uid=$(id -u arbor-it) gid=$(id -g arbor-it) sup=$(getent group arbor-it-sup | cut -d: -f3)
	grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "$T/w/status" || fail "uid: $(cat "$T/w/status")" || return 1
	grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "$T/w/status" || fail "gid" || return 1
	assert_eq "groups: only the user's" "$(echo $gid $sup | tr ' ' '\n' | sort -n | xargs)" \
		"$(grep ^Groups: "$T/w/status" | cut -f2 | xargs -n1 | sort -n | xargs)" || return 1
	grep -Eq '^NoNewPrivs:\s+1$' "$T/w/status" || fail "NoNewPrivs" || return 1
	grep -Eq '^CapEff:\s+0+$' "$T/w/status" || fail "capabilities kept: $(grep CapEff "$T/w/status")" || return 1
	# The parent-death signal survives the change of credentials.
	local p=$(pid_of root/w)
	kill -KILL "$ARBORD_PID"
	wait_for "worker of another uid dies with arbord" dead "$p"
}

test_metrics_on_loopback_by_default() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	ss -ltn 'sport = :9725' | grep -q 9725 && { echo "port 9725 is taken on this machine"; return 77; }
	start_arbord "$T/tree.conf" || return 1
	wait_for "listening" bash -c "ss -ltn 'sport = :9725' | grep -q 9725" || return 1
	assert_eq "listen address" "127.0.0.1:9725" "$(ss -ltn 'sport = :9725' | awk 'NR > 1 { print $4 }')"
}
