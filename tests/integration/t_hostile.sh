# SPDX-License-Identifier: BSD-2-Clause
# What a hostile run found (workers, signals, config files, clients and
# disks that misbehave): each test fails on the code before its fix.

# A worker that tries to leave its process group (into
# arbord's, as the hostile run did) is still stopped: each worker leads a
# session of its own, so it cannot, and SIGKILL at its shutdown time ends it.
test_worker_leaving_its_group_is_still_stopped() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "pg"; shutdown = 500; command = ["/usr/bin/env", "python3", "-c", "
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
try:
    os.setpgid(0, os.getpgid(os.getppid()))
    r = 'moved'
except OSError:
    r = 'refused'
open('$T/moved', 'w').write(r)
time.sleep(1000)
"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the worker tried to move" test -s "$T/moved" || return 1
	local p=$(pid_of root/pg)
	assert_eq "its group" "$p" "$(ps -o pgid= -p "$p" | tr -d ' ')" || return 1
	ctl stop root/pg || return 1
	wait_for "stopped" is_state root/pg stopped || return 1
	dead "$p" || fail "main process alive"
}

# Joining another worker's process group proves nothing.
test_notify_from_a_process_that_joined_a_workers_group_is_refused() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "b"; command = ["/usr/bin/env", "python3", "-c", "
import os, socket, time
while not os.path.exists('$T/a.pid'):
    time.sleep(0.02)
a = int(open('$T/a.pid').read())
if os.fork() != 0:
    time.sleep(1000)
try:
    os.setpgid(0, a)
    joined = 'joined'
except OSError as e:
    joined = 'refused'
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'READY=1', '$T/sock.notify')
open('$T/b.done', 'w').write(joined)
time.sleep(1000)
"]; },
  { name = "a"; ready = "notify"; ready_timeout = 100000;
    command = ["/bin/sh", "-c", "echo \$\$ > $T/a.tmp; mv $T/a.tmp $T/a.pid; exec sleep 1000"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "b sent its datagram" test -s "$T/b.done" || return 1
	wait_for "the datagram ignored" log_has "ignored a datagram: pid [0-9]* is not a notify worker" || return 1
	assert_eq "a is not ready" starting "$(state_of root/a)"
}

# Shutdown ends although escaped descendants keep being
# re-parented to arbord as their parents are killed.
test_shutdown_ends_with_escaped_descendants() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sh", "-c", "setsid sh -c 'sleep 1000 & echo \$! > $T/grandchild; wait' & exec sleep 1000"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the escapee's child" test -s "$T/grandchild" || return 1
	local gc=$(cat "$T/grandchild")
	ctl shutdown >/dev/null
	wait_for "arbord exited" dead "$ARBORD_PID" || return 1
	wait "$ARBORD_PID"
	assert_eq "exit code" 0 "$?" || return 1
	dead "$gc" || fail "the escaped grandchild outlived arbord"
}

# A config replaced by a FIFO or a directory is refused at
# once on reload, and arbord goes on supervising.
test_reload_of_a_fifo_or_directory_is_refused_at_once() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "a"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf"
	local p=$(pid_of root/a)
	mv "$T/tree.conf" "$T/saved.conf"
	mkfifo "$T/tree.conf"
	timeout 5 "$ARBORCTL" -s "$T/sock" reload >"$T/out" 2>&1
	assert_eq "reload refused" 1 "$?" || return 1
	grep -q "tree.conf: is a FIFO, not a regular file" "$T/out" || fail "$(cat "$T/out")" || return 1
	ctl status root/a >/dev/null || fail "arbord stopped answering" || return 1
	rm "$T/tree.conf"
	mkdir "$T/tree.conf"
	timeout 5 "$ARBORCTL" -s "$T/sock" reload >"$T/out" 2>&1
	grep -q "tree.conf: is a directory" "$T/out" || fail "$(cat "$T/out")" || return 1
	"$ARBORD" --check -c "$T/tree.conf" 2>"$T/err"
	grep -q "tree.conf: is a directory" "$T/err" || fail "--check: $(cat "$T/err")" || return 1
	assert_eq "a untouched" "$p" "$(pid_of root/a)"
}

# @include would open files beyond the checks: refused, and a
# directory others can write is refused as the file itself is.
test_include_and_a_writable_directory_are_refused() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 77; }
	echo 'x = 1;' >"$T/inc.conf"
	chmod 0666 "$T/inc.conf"
	conf tree <<CONF
@include "inc.conf"
tree = { strategy = "one_for_one"; children = ( { name = "a"; command = ["/bin/true"]; restart = "temporary"; } ); };
CONF
	(cd "$T" && "$ARBORD" --check -c tree.conf) >/dev/null 2>"$T/err"
	assert_eq "include refused" 1 "$?" || return 1
	grep -q "tree.conf:1: @include is not supported" "$T/err" || fail "$(cat "$T/err")" || return 1
	mkdir "$T/open"
	sed 1d "$T/tree.conf" >"$T/open/tree.conf"
	chmod 0644 "$T/open/tree.conf"
	chmod 0777 "$T/open"
	"$ARBORD" --check -c "$T/open/tree.conf" >/dev/null 2>"$T/err"
	assert_eq "writable directory refused" 1 "$?" || return 1
	grep -q "its directory $T/open is writable by others (mode 0777)" "$T/err" || fail "$(cat "$T/err")" || return 1
	chmod 1777 "$T/open"
	"$ARBORD" --check -c "$T/open/tree.conf" >/dev/null || fail "a sticky directory is safe"
}

# An EXTEND_TIMEOUT_USEC beyond what ns can hold saturates.
# (ready_timeout gives python 2 s to start and send its EXTEND_TIMEOUT: a
# loaded make check once took longer than 600 ms.)
test_huge_extend_timeout_is_kept() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/usr/bin/env", "python3", "$HELPERS/notifier.py", "--extend", "18446744073709552", "--delay", "4", "--ready"];
    ready = "notify"; ready_timeout = 2000; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "ready long after ready_timeout" is_state root/w running || return 1
	assert_eq "restarts" 0 "$(json root/w .restarts)"
}

# Started with fds 0-2 closed, arbord keeps them on /dev/null.
test_closed_stdio_at_start_is_held_by_dev_null() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; stdout = "inherit"; stderr = "inherit";
    command = ["/bin/sh", "-c", "echo \$(readlink /proc/\$\$/fd/0) \$(readlink /proc/\$\$/fd/1) \$(readlink /proc/\$\$/fd/2) > $T/fds.tmp; mv $T/fds.tmp $T/fds; exec sleep 1000"]; }
); };
CONF
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" <&- >&- 2>&- &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	wait_for "the worker's stdio" test -s "$T/fds" || return 1
	assert_eq "worker's fds 0-2" "/dev/null /dev/null /dev/null" "$(cat "$T/fds")" || return 1
	local i
	for i in 0 1 2; do
		assert_eq "arbord's fd $i" /dev/null "$(readlink /proc/$ARBORD_PID/fd/$i)" || return 1
	done
}

# small_disk DIR KIB: a tmpfs of KIB KiB at DIR (root only; 77 otherwise).
# (mode 0755: a tmpfs is 1777 by default, which arbord refuses for its logs.)
small_disk() {
	[ "$(id -u)" = 0 ] || { echo "needs root to mount a small tmpfs"; return 77; }
	mkdir -p "$1" && mount -t tmpfs -o size="$2"k,mode=0755 arbor-it "$1" ||
		{ echo "cannot mount a tmpfs"; return 77; }
}

# every_line_is_json FILE: each line of FILE parses alone.
every_line_is_json() {
	python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1], "rb"), 1):
    try:
        json.loads(line)
    except ValueError:
        sys.exit("%s:%d: not JSON: %r" % (sys.argv[1], n, line[:80]))
' "$1"
}

# A short write on a full disk leaves no partial line.
test_event_log_on_a_full_disk_keeps_lines_whole() {
	small_disk "$T/disk" 256 || return
	# Three pages left for the log: it fills up in the middle of a line.
	dd if=/dev/zero of="$T/disk/fill" bs=4096 count=61 status=none
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/disk/events.jsonl"; event_log_max_bytes = 1048576; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "crasher"; command = ["/bin/sh", "-c", "exit 1"]; restart_delay = 5; } ); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the disk full" log_has "events.jsonl: write: No space left on device" || { umount -l "$T/disk"; return 1; }
	rm "$T/disk/fill"
	wait_for "writing again" log_has "events.jsonl: writing again" || { umount -l "$T/disk"; return 1; }
	stop_arbord
	every_line_is_json "$T/disk/events.jsonl"
	local rc=$?
	umount -l "$T/disk"
	[ $rc = 0 ] || fail "a line of the event log is not whole JSON"
}

# A rotation that cannot be compressed leaves no plain file
# for the next rotation to overwrite, and says why.
test_event_log_rotation_on_a_full_disk_is_gzip_or_nothing() {
	small_disk "$T/disk" 64 || return
	dd if=/dev/zero of="$T/disk/fill" bs=4096 count=15 status=none
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/disk/events.jsonl"; event_log_max_bytes = 4096; event_log_keep = 3; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "crasher"; command = ["/bin/sh", "-c", "exit 1"]; restart_delay = 5; } ); };
CONF
	start_arbord "$T/tree.conf"
	local ok=1
	wait_for "a rotation failed" log_has "rotation: cannot write $T/disk/events.jsonl.1.gz: No space left on device; the rotated events are lost" || ok=0
	# The crasher goes on, so the next rotation's file may be between its
	# rename and its compression at any instant: a plain file left behind
	# is one that never goes.
	wait_for "no plain rotated file left" test ! -e "$T/disk/events.jsonl.1" || { fail "a plain rotated file was left"; ok=0; }
	rm -f "$T/disk/fill"
	[ $ok = 1 ] && { wait_for "rotations work again" test -e "$T/disk/events.jsonl.2.gz" || ok=0; }
	stop_arbord
	local f
	for f in "$T"/disk/events.jsonl.*; do
		case $f in *.gz) gzip -t "$f" || { fail "$f: not complete gzip"; ok=0; } ;;
		*) fail "$f: neither the log nor a gzip file"; ok=0 ;;
		esac
	done
	umount -l "$T/disk"
	[ $ok = 1 ]
}

# Clients of the observability thread that never read are
# queued and dropped, never waited for: metrics stay served, no stall.
test_events_clients_that_never_read_never_stall_observability() {
	local name=$(printf 'c%.0s' {1..200})
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "$name"; command = ["/bin/sh", "-c", "exit 1"]; } ); };
CONF
	start_arbord "$T/tree.conf"
	# A full ring of long lines is more than a socket's buffer holds.
	wait_for "a full ring of events" bash -c "[ \$($ARBORCTL -s $T/sock events | wc -l) -ge 512 ]" || return 1
	python3 "$HELPERS/rawclient.py" stuck "$T/sock" 10 '{"cmd":"events"}' >"$T/stuck1" &
	python3 "$HELPERS/rawclient.py" stuck "$T/sock" 10 '{"cmd":"events","follow":true}' >"$T/stuck2" &
	wait_for "stuck clients" grep -q ready "$T/stuck1" || return 1
	wait_for "stuck followers" grep -q ready "$T/stuck2" || return 1
	local i
	for i in 1 2 3 4 5; do
		timeout 2 "$ARBORCTL" -s "$T/sock" metrics | grep -q '^arbor_child_restarts_total' ||
			fail "metrics not served at once while clients never read" || return 1
	done
	! log_has "observability thread stalled" || fail "the observability thread stalled"
}

# Signals arbord does not act on (logrotate's SIGUSR1 and the
# like) are said once and ignored; the tree goes on.
test_stray_signals_are_ignored_and_said_once() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf"
	local p=$(pid_of root/w) sig
	for sig in USR1 USR1 USR2 ALRM PWR VTALRM PROF IO XCPU TSTP TTIN QUIT RTMIN+3 RTMAX; do
		kill -s "$sig" "$ARBORD_PID" || return 1
	done
	wait_for "the last one said" log_has "signal 64 (Real-time signal 30) from pid" || return 1
	alive "$ARBORD_PID" || fail "arbord died of a stray signal" || return 1
	[ "$(ps -o stat= -p "$ARBORD_PID" | cut -c1)" != T ] || fail "arbord was stopped" || return 1
	assert_eq "SIGUSR1 said once" 1 "$(grep -c 'signal 10 (User defined signal 1) from pid .* ignored' "$T/log")" || return 1
	assert_eq "the worker untouched" "$p" "$(pid_of root/w)" || return 1
	stop_arbord
	assert_eq "exit code" 0 "$?"
}

# Keys a reload cannot apply are said, not silently kept.
test_reload_says_which_keys_need_a_restart() {
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf"
	sed -i "s|metrics_listen = \"\";|metrics_listen = \"127.0.0.1:1\"; event_log = \"$T/ev.jsonl\";|" "$T/tree.conf"
	ctl reload >"$T/out" || fail "reload refused" || return 1
	grep -qx "warning: observability.metrics_listen changed: it applies at the next start of arbord; the running value stays" "$T/out" ||
		fail "no warning for metrics_listen: $(cat "$T/out")" || return 1
	grep -q "warning: observability.event_log changed" "$T/out" || fail "no warning for event_log" || return 1
	log_has "arborctl reload: observability.event_log changed" || fail "not in the log"
}

# A tree that cannot fit the fd limit is said at start.
test_fd_limit_too_small_for_the_tree_is_said_at_start() {
	local i kids=""
	for ((i = 0; i < 100; i++)); do kids+="{ name = \"w$i\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; },"; done
	kids+="{ name = \"c\"; command = [\"/bin/sleep\", \"1000\"]; },"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( ${kids%,} ); };
CONF
	prlimit --nofile=120:120 "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	log_has "warning: the tree can run 101 workers, holding 105 file descriptors (a pidfd each, 4 more for each whose output is captured), but arbord's limit is 120" ||
		fail "no warning about the fd limit"
}

# A datagram passing too many fds is said as such.
test_notify_with_too_many_fds_is_said_as_such() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf"
	python3 -c "
import os, socket
fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(20)]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendmsg([b'READY=1'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(memoryview(__import__('array').array('i', fds))))], 0, '$T/sock.notify')
"
	wait_for "the refusal" log_has "ignored a datagram: more than 16 file descriptors passed" || return 1
	! log_has "larger than 4096 bytes" || fail "said as too large"
}

# The same kind elsewhere: a worker's stdout file that is a
# FIFO nobody reads fails that start; it never blocks arbord.
test_stdout_fifo_without_reader_never_blocks_arbord() {
	mkfifo "$T/out.fifo"
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 100; period = 1; children = (
  { name = "ok"; command = ["/bin/sleep", "1000"]; },
  { name = "w"; command = ["/bin/sleep", "1000"]; stdout = "file:$T/out.fifo"; restart_delay = 200; } ); };
CONF
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord answers" timeout 2 "$ARBORCTL" -s "$T/sock" status || return 1
	wait_for "the failed start said" log_has "root/w: cannot start: .*No such device or address" || return 1
	assert_eq "the other worker" running "$(state_of root/ok)"
}
