# SPDX-License-Identifier: BSD-2-Clause
# sd_notify readiness, watchdog, status, and forged datagrams (arbor.conf(5): ready, watchdog).

notifier() { argv_json /usr/bin/env python3 "$HELPERS/notifier.py" "$@"; }

test_start_gated_on_ready() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "db"; command = $(notifier --delay 0.4 --ready); ready = "notify"; },
  { name = "app"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	assert_eq "db while not ready" starting "$(state_of root/db)" || return 1
	assert_eq "app waits for db" stopped "$(state_of root/app)" || return 1
	wait_for "app started" is_state root/app running || return 1
	assert_eq "db ready" running "$(state_of root/db)" || return 1
	local ready_line=$(grep -n 'ready root/db' "$T/log" | cut -d: -f1)
	local app_line=$(grep -n 'spawn root/app' "$T/log" | cut -d: -f1)
	[ -n "$ready_line" ] && [ "$ready_line" -lt "$app_line" ] || fail "app spawned before db was ready"
}

test_ready_timeout_is_a_crash() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "slow"; command = $(notifier); ready = "notify"; ready_timeout = 300; shutdown = 200; }
); };
CONF
	start_arbord "$T/tree.conf"
	local p=$(pid_of root/slow)
	# Never ready, so "starting" again with a new pid after the timeout.
	wait_for "a new start" bash -c "[ \"\$($ARBORCTL -s $T/sock status root/slow --json | jq -r .pid)\" != $p ]" || return 1
	assert_eq "last exit" "crash ready_timeout" "$(json root/slow '"\(.last_exit.reason) \(.last_exit.cause)"')" || return 1
	dead "$p" || fail "the process that missed its timeout survives"
}

test_extend_timeout_and_status_text() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(notifier --extend 12000000 --delay 4.2 --status "warmed up" --ready); ready = "notify"; ready_timeout = 4000; }
); };
CONF
	# READY comes 4.2 s after the notifier's start, so only the extension
	# saves it; the 4 s are the margin for python to start and send the
	# extension on a loaded machine (a CI run under ASan once took 2 s).
	start_arbord "$T/tree.conf"
	wait_for "ready despite a 4000 ms ready_timeout" is_state root/w running || return 1
	assert_eq "restarts" 0 "$(json root/w .restarts)" || return 1
	assert_eq "status text" "warmed up" "$(json root/w .status_text)" || return 1
	ctl status | grep -q '"warmed up"' || fail "status text not in the human form"
}

test_status_text_that_is_not_utf8_is_shown_scrubbed() {
	# "café \xff ok": the stray byte becomes '?', the rest is kept
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(notifier --status-hex 636166c3a920ff206f6b --ready); ready = "notify"; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "ready" is_state root/w running || return 1
	wait_for "status text" bash -c "[ \"\$($ARBORCTL -s $T/sock status root/w --json | jq -r .status_text)\" = 'café ? ok' ]" || return 1
	ctl status | grep -q '"café ? ok"' || fail "status text not in the human form"
}

test_watchdog_miss_restarts_with_sigabrt() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = $(notifier --ready --watchdog-until "$T/stop-pinging"); ready = "notify"; watchdog = 400; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "ready" is_state root/w running || return 1
	local p=$(pid_of root/w)
	sleep 1	# pings keep it alive across more than two watchdog periods
	assert_eq "still the same process" "$p" "$(pid_of root/w)" || return 1
	touch "$T/stop-pinging"
	wait_for "restarted after the miss" is_running_new root/w "$p" || return 1
	assert_eq "last exit" "crash SIGABRT watchdog" \
		"$(json root/w '"\(.last_exit.reason) \(.last_exit.signal) \(.last_exit.cause)"')" || return 1
	wait_for "the SIGABRT stop in the log" log_has "stop root/w pid=$p signal=SIGABRT"
}

test_forged_and_malformed_datagrams_are_ignored() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(notifier --delay 0.3 --malformed); ready = "notify"; ready_timeout = 100000; }
); };
CONF
	start_arbord "$T/tree.conf"
	# A stranger (not the worker nor in its group) claims readiness.
	python3 -c "import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1', '$T/sock.notify')"
	wait_for "stranger logged" log_has "ignored a datagram: pid [0-9]* is not a notify worker" || return 1
	# The worker itself sends a NUL byte after READY=1: malformed, ignored.
	wait_for "malformed logged" log_has "ignored a datagram: from root/w (pid [0-9]*): NUL byte" || return 1
	assert_eq "still starting" starting "$(state_of root/w)" || return 1
	# An oversize datagram from a stranger is dropped too; arbord goes on.
	python3 -c "import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1\n' + b'x' * 8000, '$T/sock.notify')"
	assert_eq "still starting" starting "$(state_of root/w)"
}

test_systemd_notify_ready() {
	command -v systemd-notify >/dev/null || { echo "systemd-notify not installed"; return 77; }
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "sleep 0.2; systemd-notify --ready --status='from systemd-notify' && exec sleep 1000"]; ready = "notify"; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "ready through systemd-notify" is_state root/w running || return 1
	assert_eq "status" "from systemd-notify" "$(json root/w .status_text)"
}

# A worker that sends WATCHDOG=1 as fast as it can holds off nothing: the
# notify socket is read NOTIFY_BATCH datagrams a turn, between the others'
# events, and the sender is found by its pid, not by reading /proc.
test_a_notify_flood_holds_off_nothing() {
	cat >"$T/flood.py" <<'PY'
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
while True:
    s.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
PY
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "flood"; command = ["/usr/bin/python3", "$T/flood.py"]; ready = "notify"; watchdog = 2000; },
  { name = "crash"; command = ["/bin/sh", "-c", "sleep 0.05; exit 1"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "flood running" is_state root/flood running || return 1
	local r0=$(json root/crash .restarts) p=$(pid_of root/flood)
	more() { [ "$(json root/crash .restarts)" -ge $((r0 + 20)) ]; }
	wait_for "20 restarts beside the flood" more || return 1
	assert_eq "the flood's worker, fed, never restarted" "$p" "$(pid_of root/flood)" || return 1
	log_has "ignored a datagram" && fail "the flood's datagrams were refused: $(grep 'ignored a datagram' "$T/log" | head -2)"
	return 0
}
