# SPDX-License-Identifier: BSD-2-Clause
# Deployment: install, arbord under systemd (Type=notify), man pages,
# example configs, bash completion (issue: production deployment).

test_install_and_uninstall() {
	make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$T/root" PREFIX=/usr install >/dev/null || return 1
	for f in usr/sbin/arbord usr/bin/arborctl usr/share/man/man8/arbord.8 \
	    usr/share/man/man8/arborctl.8 usr/share/man/man5/arbor.conf.5 \
	    usr/lib/systemd/system/arbord.service usr/share/bash-completion/completions/arborctl \
	    usr/share/doc/arbor/examples/web-stack.conf; do
		[ -f "$T/root/$f" ] || fail "not installed: $f" || return 1
	done
	"$T/root/usr/sbin/arbord" --version | grep -q '^arbord ' || fail "installed arbord does not run" || return 1
	grep -qx 'ExecStart=/usr/sbin/arbord -c /etc/arbor/arbor.conf' "$T/root/usr/lib/systemd/system/arbord.service" ||
		fail "unit paths: $(grep Exec "$T/root/usr/lib/systemd/system/arbord.service")" || return 1
	grep -qx 'Type=notify' "$T/root/usr/lib/systemd/system/arbord.service" || fail "not Type=notify" || return 1
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$T/root/usr/lib/systemd/system/arbord.service" || fail "no reload" || return 1
	make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$T/other" PREFIX=/opt/arbor install >/dev/null || return 1
	[ -f "$T/other/opt/arbor/sbin/arbord" ] || fail "PREFIX not honoured" || return 1
	# the installed arbord runs the installed helper, wherever its prefix
	cat >"$T/checked.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sleep", "1000"]; health = { tcp = "127.0.0.1:1"; interval = 200; failures = 1000; }; }
); };
CONF
	ARBORD="$T/other/opt/arbor/sbin/arbord" start_arbord "$T/checked.conf" || return 1
	helper_up() { ctl daemon | grep -q '^helper checks running pid [0-9]'; }
	wait_for "the checks helper" helper_up || return 1
	local hp=$(ctl daemon | awk '$1 == "helper" && $2 == "checks" { print $5 }')
	assert_eq "the helper run" "$T/other/opt/arbor/libexec/arbor/arbor-checks" "$(readlink /proc/"$hp"/exe)" || return 1
	stop_arbord
	make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$T/root" PREFIX=/usr uninstall >/dev/null || return 1
	assert_eq "files left after uninstall" "" "$(find "$T/root" -type f)"
}

test_notifies_its_own_supervisor() {
	# Each line as received, READY=1 with the CLOCK_MONOTONIC ns it came
	# at (the log is written by a thread of its own: it may lag).
	python3 - "$T/notify.sock" >"$T/received" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode()
    at = time.monotonic_ns()
    for line in msg.split("\n"):
        print(line, at if line == "READY=1" else "", flush=True)
    if "STOPPING=1" in msg:
        break
PY
	local listener=$!
	wait_for "listener bound" test -S "$T/notify.sock" || return 1
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "plain"; command = ["/bin/sh", "-c", "env > $T/plain.env; exec sleep 1000"]; },
  { name = "late"; command = ["/usr/bin/env", "python3", "$HELPERS/notifier.py", "--delay", "0.5", "--ready"]; ready = "notify"; }
); };
CONF
	NOTIFY_SOCKET=$T/notify.sock start_arbord "$T/tree.conf" || return 1
	wait_for "READY=1" grep -q '^READY=1' "$T/received" || return 1
	local ready_at late_at
	ready_at=$(awk '$1 == "READY=1" { print $2; exit }' "$T/received")
	late_at=$(ctl events | jq 'select(.event == "ready" and .path == "root/late") | .mono_ns')
	[ -n "$late_at" ] && [ "$ready_at" -gt "$late_at" ] ||
	    fail "READY=1 at $ready_at, before the whole tree was started (late ready at ${late_at:-never}): $(cat "$T/received")" || return 1
	grep -qx 'STATUS=2/2 workers running, 0 restarts ' "$T/received" || fail "no STATUS summary: $(cat "$T/received")" || return 1
	grep -q "^NOTIFY_SOCKET=$T/notify.sock" "$T/plain.env" && fail "a worker sees arbord's own NOTIFY_SOCKET" && return 1
	stop_arbord
	wait "$listener"
	grep -qx 'STOPPING=1 ' "$T/received" || fail "no STOPPING=1"
}

test_man_pages_are_clean_and_complete() {
	local page
	for page in arbord.8 arborctl.8 arbor.conf.5; do
		local warnings=$(groff -ww -man -Tutf8 "$ROOT/man/$page" 2>&1 >/dev/null)
		[ -z "$warnings" ] || fail "$page: $warnings" || return 1
		if command -v man >/dev/null; then
			warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$ROOT/man/$page" 2>&1 >/dev/null)
			[ -z "$warnings" ] || fail "$page (man): $warnings" || return 1
		fi
	done
	# every option of arbord, every command of arborctl
	for opt in $("$ARBORD" --help | grep -oE -- '--[a-z-]+' | sort -u); do
		grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$ROOT/man/arbord.8" || fail "arbord.8 lacks $opt" || return 1
	done
	for cmd in $("$ARBORCTL" --help | awk '/^  [a-z]/ { print $1 }'); do
		grep -q "$(echo "$cmd" | sed 's/-/\\\\-/g')" "$ROOT/man/arborctl.8" || fail "arborctl.8 lacks $cmd" || return 1
	done
	# every key the config loader accepts, every metric family
	for key in $(sed -n '/^static const char \*const \(worker\|supervisor\)_keys/,/NULL,/p' "$ROOT/config/config.c" |
	    grep -oE '"[a-z_]+"' | tr -d '"' | sort -u) socket cgroup log_dir log_max_bytes log_keep log_journal log_echo bpf metrics_listen event_log event_log_max_bytes event_log_keep; do
		grep -qE "\\b$(echo "$key" | sed 's/_/\\\\?_/g')\\b" "$ROOT/man/arbor.conf.5" || fail "arbor.conf.5 lacks $key" || return 1
	done
	for m in $(grep -oE '"(arbor|process)_[a-z_]+"' "$ROOT/exporters/metrics.c" | tr -d '"' | sort -u) \
	    process_cpu_seconds_total process_resident_memory_bytes process_open_fds process_start_time_seconds; do
		grep -q "$m" "$ROOT/man/arbord.8" || fail "arbord.8 lacks $m" || return 1
	done
}

test_example_configs_are_valid() {
	local f
	for f in "$ROOT"/config/examples/*.conf; do
		"$ARBORD" --check -c "$f" >/dev/null 2>"$T/err" || fail "$f: $(cat "$T/err")" || return 1
		grep -v ': warning: ' "$T/err" | grep -q . && fail "$f: $(cat "$T/err")" && return 1
	done
	true
}

test_bash_completion() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "alpha"; command = ["/bin/sleep", "1000"]; },
  { name = "grp"; strategy = "one_for_one"; children = ( { name = "beta"; command = ["/bin/sleep", "1000"]; } ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	(
		PATH=$BUILD:$PATH
		source "$ROOT/dist/arborctl.bash"
		COMP_WORDS=(arborctl st); COMP_CWORD=1; _arborctl
		echo "commands: ${COMPREPLY[*]}"
		COMP_WORDS=(arborctl -s "$T/sock" stop root/g); COMP_CWORD=4; _arborctl
		echo "paths: ${COMPREPLY[*]}"
		COMP_WORDS=(arborctl -s "$T/sock" signal root/alpha K); COMP_CWORD=5; _arborctl
		echo "signals: ${COMPREPLY[*]}"
		COMP_WORDS=(arborctl -s "$T/sock" logs root/a); COMP_CWORD=4; _arborctl
		echo "logs: ${COMPREPLY[*]}"
		COMP_WORDS=(arborctl -s "$T/sock" logs root/alpha --f); COMP_CWORD=5; _arborctl
		echo "logs options: ${COMPREPLY[*]}"
	) >"$T/out"
	grep -qx 'commands: status start stop start-child' "$T/out" || fail "$(cat "$T/out")" || return 1
	grep -qx 'paths: root/grp root/grp/beta' "$T/out" || fail "$(cat "$T/out")" || return 1
	grep -qx 'signals: KILL' "$T/out" || fail "$(cat "$T/out")" || return 1
	grep -qx 'logs: root/alpha' "$T/out" || fail "$(cat "$T/out")" || return 1
	grep -qx 'logs options: --follow' "$T/out" || fail "$(cat "$T/out")"
}
