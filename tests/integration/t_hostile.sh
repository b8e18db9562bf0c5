# SPDX-License-Identifier: BSD-2-Clause
# What a hostile run found (workers, signals, config files, clients and
# disks that misbehave): each test fails on the code before its fix.
# lanes: alone for ^t_hostile:test_events_clients_that_never_read_never_stall_observability$
# (Its flood of clients loads the machine; the rest judge no time and run
# in the lanes.)

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
# Mode 0755: a tmpfs is 1777 unless told, and arbord writes in no
# directory another user can write.
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

# A rotation that cannot be compressed keeps its events in a plain
# file (issue 26, 8): they reached the disk, so they stay there, in the
# rotation's place, and a later rotation compresses them once there is
# room. What cannot be written at all is counted.
test_event_log_rotation_on_a_full_disk_keeps_the_plain_file() {
	small_disk "$T/disk" 64 || return
	dd if=/dev/zero of="$T/disk/fill" bs=4096 count=15 status=none
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/disk/events.jsonl"; event_log_max_bytes = 4096; event_log_keep = 3; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "crasher"; command = ["/bin/sh", "-c", "exit 1"]; restart_delay = 5; } ); };
CONF
	start_arbord "$T/tree.conf"
	local ok=1 f
	wait_for "a rotation failed" log_has "cannot write $T/disk/events.jsonl.1.gz: No space left on device" || ok=0
	wait_for "a write failed" log_has "events.jsonl: write: No space left on device" || ok=0
	if [ $ok = 1 ]; then
		[ -s "$T/disk/events.jsonl.1" ] || { fail "the rotated events were not kept"; ok=0; }
		[ $ok = 1 ] && { every_line_is_json "$T/disk/events.jsonl.1" || ok=0; }
		ctl metrics | grep -q '^arbor_obs_events_dropped_total{source="event_log"} [1-9]' ||
			{ fail "drops not counted: $(ctl metrics | grep dropped)"; ok=0; }
	fi
	rm -f "$T/disk/fill"
	# The kept file moves up a slot and is compressed there.
	[ $ok = 1 ] && { wait_for "the kept events compressed" bash -c "[ ! -e $T/disk/events.jsonl.1 ] && [ ! -e $T/disk/events.jsonl.2 ] && [ -e $T/disk/events.jsonl.2.gz ]" || ok=0; }
	stop_arbord
	for f in "$T"/disk/events.jsonl.*; do
		case $f in *.gz) gzip -t "$f" || { fail "$f: not complete gzip"; ok=0; } ;;
		*.[0-9]) ;;
		*) fail "$f: neither the log nor a rotated file"; ok=0 ;;
		esac
	done
	umount -l "$T/disk"
	[ $ok = 1 ]
}

# run_as_nobody CMD: what another user of the machine does.
run_as_nobody() { su -s /bin/sh nobody -c "$1"; }

# Root never writes through a symlink another user planted (issue
# 26, 5). An event log in a directory another user owns, or in a 1777 one,
# is refused as the config is read, naming it. And a directory that was
# arbord's at start and is another user's later (an admin's chown) gets
# no write through the links that user plants: not the live file, not the
# rotation's temporary file.
test_event_log_never_follows_a_symlink_another_user_planted() {
	id nobody >/dev/null 2>&1 || { echo "needs the user nobody"; return 77; }
	chmod 711 "$T"
	mkdir -m 1777 "$T/pub"
	printf 'secret one\n' >"$T/secret1"
	printf 'secret two\n' >"$T/secret2"
	chmod 600 "$T/secret1" "$T/secret2"
	run_as_nobody "mkdir $T/pub/logs && ln -s $T/secret1 $T/pub/logs/events.jsonl &&
	    ln -s $T/secret2 $T/pub/logs/events.jsonl.1.gz.tmp && ln -s $T/secret1 $T/pub/events.jsonl" || return 1
	local where
	for where in pub/logs pub; do
		conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/$where/events.jsonl"; event_log_max_bytes = 4096; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
		expect_exit 1 "$T/tree.conf" || return 1
		log_has "event_log's directory: \"$T/$where\" is not safe for arbord to write in" ||
			fail "no clear refusal for $where: $(cat "$T/log")" || return 1
	done
	mkdir -m 755 "$T/ev"
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/ev/events.jsonl"; event_log_max_bytes = 4096; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "crasher"; command = ["/bin/sh", "-c", "exit 1"]; restart_delay = 5; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "the event log" test -s "$T/ev/events.jsonl" || return 1
	chown nobody "$T/ev"
	# arbord may make the file again between the rm and the ln (a
	# rotation): the planting is tried again, as an attacker would.
	run_as_nobody "for i in \$(seq 50); do rm -f $T/ev/events.jsonl* && ln -s $T/secret1 $T/ev/events.jsonl &&
	    ln -s $T/secret2 $T/ev/events.jsonl.1.gz.tmp && exit 0; done; exit 1" || return 1
	local n0=$(ctl events | wc -l)
	# Enough events for a rotation or two.
	wait_for "events" bash -c "[ \$($ARBORCTL -s $T/sock events | wc -l) -ge $((n0 + 60)) ]" || return 1
	[ "$(cat "$T/secret1")" = "secret one" ] || fail "root appended to the first file: $(wc -l <"$T/secret1") lines" || return 1
	[ "$(cat "$T/secret2")" = "secret two" ] || fail "root wrote over the second file: $(file -b "$T/secret2")" || return 1
	log_has "event log $T/ev/events.jsonl: " || fail "the refusal not said" || return 1
}

# Rotated files keep the live file's mode, whatever arbord's umask
# (issue 26, 6): gzopen made them 0666 less the umask, and another user
# read the secrets a worker logged.
test_rotated_event_log_keeps_the_live_files_mode() {
	id nobody >/dev/null 2>&1 || { echo "needs the user nobody"; return 77; }
	chmod 711 "$T"
	mkdir -m 755 "$T/ev"
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/ev/events.jsonl"; event_log_max_bytes = 4096; event_log_keep = 2; };
tree = { strategy = "one_for_one"; intensity = 100000; period = 1; children = (
  { name = "crasher"; command = ["/bin/sh", "-c", "echo DB_PASSWORD=s3cr3t; exit 1"]; restart_delay = 5; } ); };
CONF
	umask 0
	start_arbord "$T/tree.conf" || return 1
	wait_for "a rotation" test -e "$T/ev/events.jsonl.2.gz" || return 1
	# The crasher rotates the files every few ms: between a rotation and
	# the next line the live file does not exist, so each mode is read
	# when a stat finds its file.
	local live rotated
	wait_for "the live file" eval 'live=$(stat -c %a "$T/ev/events.jsonl" 2>/dev/null)' || return 1
	wait_for "the rotated file" eval 'rotated=$(stat -c %a "$T/ev/events.jsonl.1.gz" 2>/dev/null)' || return 1
	assert_eq "the live file's mode" 640 "$live" || return 1
	assert_eq "the rotated file's mode" 640 "$rotated" || return 1
	! run_as_nobody "zcat $T/ev/events.jsonl.1.gz" >/dev/null 2>&1 || fail "another user read the rotated events"
}

# Events at start are kept when the event log's directory does not
# exist yet (issue 26, 14): it is made, as log_dir is.
test_event_log_directory_missing_at_start_loses_nothing() {
	conf tree <<CONF
observability = { metrics_listen = ""; event_log = "$T/new/sub/events.jsonl"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	umask 0
	start_arbord "$T/tree.conf" || return 1
	wait_for "the start-up events" grep -q '"event":"spawn","path":"root/w"' "$T/new/sub/events.jsonl" || return 1
	! log_has "event log" || fail "the event log complained" || return 1
	assert_eq "the directories' modes" "755 755" "$(stat -c %a "$T/new" "$T/new/sub" | xargs)" || return 1
	ctl metrics | grep -qx 'arbor_obs_events_dropped_total{source="event_log"} 0' ||
		fail "events dropped: $(ctl metrics | grep dropped_total)"
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
	! log_has "helper observability" || fail "the observability helper stalled or died"
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
	# arbord's log writer is a thread of its own: the line may come just
	# after the reply.
	wait_for "the warning in arbord's log" log_has "arborctl reload: observability.event_log changed"
}

# A tree that cannot fit the fd limit is said at start.
test_fd_limit_too_small_for_the_tree_is_said_at_start() {
	local i kids=""
	for ((i = 0; i < 40; i++)); do kids+="{ name = \"w$i\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; },"; done
	kids+="{ name = \"c\"; command = [\"/bin/sleep\", \"1000\"]; },"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( ${kids%,} ); };
CONF
	prlimit --nofile=120:120 "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || return 1
	log_has "warning: the tree can run 41 workers, holding 45 file descriptors (a pidfd each, 4 more for each whose output is captured), but arbord's limit is 120" ||
		fail "no warning about the fd limit"
}

# A datagram passing too many fds is said as such.
# A datagram as full of fds as the kernel allows (SCM_MAX_FD, 253), from
# a process that is no worker: refused, and every fd closed.
test_notify_fds_from_a_stranger_are_closed() {
	# (No metrics listener: another lane's may hold the default port.)
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf"
	local before=$(min_fds "$ARBORD_PID")
	python3 -c "
import os, socket
fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(253)]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for _ in range(20):
    s.sendmsg([b'FDSTORE=1'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(memoryview(__import__('array').array('i', fds))))], 0, '$T/sock.notify')
"
	wait_for "the refusal" log_has "ignored a datagram: pid [0-9]* is not a notify worker" || return 1
	local after=$(min_fds "$ARBORD_PID")
	[ "$after" -le "$before" ] || fail "arbord's fds grew from $before to $after"
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

# arborctl trace -o, run by root, never writes through a symlink or into
# another user's file (issue 26, 5: "the same for traces").
test_trace_file_is_never_written_through_a_symlink() {
	id nobody >/dev/null 2>&1 || { echo "needs the user nobody"; return 77; }
	chmod 711 "$T"
	mkdir -m 1777 "$T/pub"
	printf 'secret\n' >"$T/secret"
	chmod 600 "$T/secret"
	run_as_nobody "mkdir $T/pub/n && ln -s $T/secret $T/pub/n/trace.json && touch $T/pub/n/theirs.json" || return 1
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	ctl trace --duration 0.1 -o "$T/pub/n/trace.json" 2>"$T/err1"
	assert_eq "refused" 1 "$?" || return 1
	assert_eq "the file behind the symlink" secret "$(cat "$T/secret")" || return 1
	grep -qx "arborctl: $T/pub/n/trace.json: a symlink, not followed; not written" "$T/err1" ||
		fail "not said: $(cat "$T/err1")" || return 1
	ctl trace --duration 0.1 -o "$T/pub/n/theirs.json" 2>"$T/err2"
	assert_eq "refused" 1 "$?" || return 1
	[ ! -s "$T/pub/n/theirs.json" ] || fail "another user's file written" || return 1
	ctl trace --duration 0.1 -o "$T/mine.json" || return 1
	jq -e .traceEvents "$T/mine.json" >/dev/null || fail "no trace in a file of one's own"
}
