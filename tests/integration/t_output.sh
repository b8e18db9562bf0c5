# SPDX-License-Identifier: BSD-2-Clause
# Worker output (arbor.conf(5), OUTPUT; arborctl(8), logs): captured
# through pipes kept across restarts, stamped into <log_dir>/<path>/current,
# rotated, tailed, attached to the exit it explains.

STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z (out|err) '

# out_conf NAME DAEMON_KEYS CHILDREN: a one_for_one tree, logs under $T/logs.
out_conf() {
	conf "$1" <<CONF
daemon = { log_dir = "$T/logs"; $2 };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1000; period = 1;
  children = ( $3 ); };
CONF
}

# lines_of FILE PATTERN: how many lines of FILE match the extended regex.
lines_of() { grep -caE -- "$2" "$1" 2>/dev/null || true; }

restarts_of() { json "$1" .restarts; }
more_restarts() { [ "$(restarts_of "$1")" -ge "$2" ]; }

test_stamped_lines_of_both_streams_and_a_partial_last_line() {
	out_conf a '' '{ name = "w"; restart = "temporary";
	  command = ["/bin/sh", "-c", "echo to-out; echo to-err >&2; echo again; printf no-newline; exit 0"]; }'
	start_arbord "$T/a.conf"
	local f=$T/logs/root/w/current
	wait_for "the partial line written at exit" grep -q 'no-newline$' "$f" || return 1
	assert_eq "lines" 4 "$(wc -l <"$f")" || return 1
	assert_eq "stamped lines" 4 "$(lines_of "$f" "$STAMP")" || return 1
	grep -qE "$STAMP" "$f" || return 1
	grep -qE ' out to-out$' "$f" || fail "stdout line: $(cat "$f")" || return 1
	grep -qE ' err to-err$' "$f" || fail "stderr line: $(cat "$f")" || return 1
	grep -qE ' out no-newline$' "$f" || fail "partial line: $(cat "$f")" || return 1
	# the streams each in the order written
	assert_eq "stdout order" "to-out again no-newline" \
	    "$(grep ' out ' "$f" | cut -d' ' -f3 | tr '\n' ' ' | sed 's/ $//')" || return 1
	log_has 'to-out' && fail "worker output leaked into arbord's stderr" && return 1
	true
}

test_stderr_tail_on_a_crash_exit_event_and_status() {
	out_conf a '' '{ name = "w"; restart = "temporary";
	  command = ["/bin/sh", "-c", "echo ignore-stdout; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line-$i >&2; done; printf fatal: >&2; exit 3"]; }'
	start_arbord "$T/a.conf"
	wait_for "the crash" is_state root/w stopped || return 1
	wait_for "its exit event" sh -c "\"$ARBORCTL\" -s $T/sock events | grep -q '\"event\":\"exit\"'" || return 1
	local ev tail
	ev=$(ctl events | grep '"event":"exit"')
	tail=$(echo "$ev" | jq -r .stderr_tail)
	assert_eq "reason" crash "$(echo "$ev" | jq -r .reason)" || return 1
	# the last 10 lines of stderr, the partial one included; no stdout
	assert_eq "stderr_tail" "$(printf 'line-4\nline-5\nline-6\nline-7\nline-8\nline-9\nline-10\nline-11\nline-12\nfatal:')" "$tail" || return 1
	assert_eq "status last_exit.stderr_tail" "$tail" "$(json root/w .last_exit.stderr_tail)"
}

# logs_across_restarts LOG_DIR: logs -n and --follow over three restarts.
logs_across_restarts() {
	conf a <<CONF
daemon = { log_dir = "$1"; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1000; period = 1;
  children = ( { name = "w"; restart_delay = 100;
    command = ["/bin/sh", "-c", "echo start-\$\$; echo bye-\$\$ >&2; sleep 0.3; exit 1"]; } ); };
CONF
	start_arbord "$T/a.conf"
	wait_for "a first line" sh -c "\"$ARBORCTL\" -s $T/sock logs root/w | grep -q start-" || return 1
	ctl logs root/w --follow -n 0 >"$T/follow" &
	local fpid=$! first pids
	first=$(restarts_of root/w)
	wait_for "three restarts" more_restarts root/w $((first + 3)) || return 1
	wait_for "lines of three processes in the follower" \
	    sh -c "[ \$(grep -c ' out start-' $T/follow) -ge 3 ]" || return 1
	kill "$fpid"
	ctl logs root/w -n 4 >"$T/last4" || return 1
	assert_eq "logs -n 4 (log_dir=\"$1\")" 4 "$(wc -l <"$T/last4")" || return 1
	assert_eq "stamped" 4 "$(lines_of "$T/last4" "$STAMP")" || return 1
	# the lines of one process stay together, in order
	pids=$(sed -E 's/.* (start|bye)-//' "$T/follow" | uniq | wc -l)
	[ "$pids" -ge 3 ] || fail "follower saw $pids processes: $(cat "$T/follow")" || return 1
	ctl logs root/w -n 0 >"$T/none"
	assert_eq "logs -n 0" 0 "$(wc -l <"$T/none")" || return 1
	ctl logs root/w >"$T/default"
	[ "$(wc -l <"$T/default")" -le 20 ] || fail "logs without -n: more than 20 lines" || return 1
	stop_arbord
}

# A later exit that wrote nothing on stderr has no tail, and status does
# not show the earlier one as its.
test_a_silent_exit_has_no_tail() {
	out_conf a '' "{ name = \"w\"; restart_delay = 100;
	  command = [\"/bin/sh\", \"-c\", \"[ -e $T/once ] && exit 1; touch $T/once; echo first-tail >&2; exit 1\"]; }"
	start_arbord "$T/a.conf"
	wait_for "two restarts" more_restarts root/w 2 || return 1
	wait_for "three exit events" sh -c "[ \$(\"$ARBORCTL\" -s $T/sock events | grep -c '\"event\":\"exit\"') -ge 3 ]" || return 1
	ctl events | grep '"event":"exit"' >"$T/exits"
	assert_eq "the first exit's tail" first-tail "$(head -n 1 "$T/exits" | jq -r .stderr_tail)" || return 1
	assert_eq "a silent exit's tail" null "$(sed -n 2p "$T/exits" | jq -r .stderr_tail)" || return 1
	assert_eq "status" null "$(json root/w .last_exit.stderr_tail)"
}

test_logs_n_and_follow_across_three_restarts() {
	logs_across_restarts "$T/logs" || return 1
	rm -r "$T/logs"
	logs_across_restarts "" || return 1
	[ ! -e "$T/logs" ] || fail "log_dir \"\" made files" || return 1
	start_arbord "$T/a.conf"
	ctl logs root/nothere >/dev/null 2>"$T/err"
	assert_eq "unknown path" 1 "$?" || return 1
	ctl logs root >/dev/null 2>"$T/err"
	assert_eq "a supervisor" 1 "$?" || return 1
	grep -q 'a supervisor has no output' "$T/err" || fail "$(cat "$T/err")"
}

# Every byte a process wrote is in its log, before its replacement's first
# line, with descendants still writing when the main process died.
test_nothing_lost_at_a_crash_and_lines_stay_in_order() {
	out_conf a '' '{ name = "w"; restart_delay = 0;
	  command = ["/bin/sh", "-c", "(while :; do echo tick-$$; done) & for i in $(seq 1 300); do echo line-$$-$i; done; exit 1"]; }'
	start_arbord "$T/a.conf"
	wait_for "five restarts" more_restarts root/w 5 || return 1
	stop_arbord
	local f=$T/logs/root/w/current
	# pids in order of first appearance; each appears in one run only
	local runs distinct
	runs=$(sed -E 's/.* (tick|line)-([0-9]+).*/\2/' "$f" | uniq | wc -l)
	distinct=$(sed -E 's/.* (tick|line)-([0-9]+).*/\2/' "$f" | sort -u | wc -l)
	assert_eq "each process's lines together" "$distinct" "$runs" || return 1
	[ "$distinct" -ge 5 ] || fail "only $distinct processes logged" || return 1
	# nothing lost: each process's 300 lines, in order (but the last one's,
	# stopped by the shutdown)
	for p in $(sed -E 's/.* (tick|line)-([0-9]+).*/\2/' "$f" | uniq | head -n -1); do
		assert_eq "lines of $p" "$(seq 1 300 | tr '\n' ' ')" \
		    "$(grep -a " out line-$p-" "$f" | sed -E 's/.*-//' | tr '\n' ' ')" || return 1
	done
	assert_eq "every line stamped" "$(wc -l <"$f")" "$(lines_of "$f" "$STAMP")"
}

test_rotation_keeps_log_keep_gzip_files() {
	out_conf a 'log_max_bytes = 4096; log_keep = 2;' '{ name = "w"; restart = "temporary";
	  command = ["/bin/sh", "-c", "for i in $(seq 1 400); do echo line-$i-0123456789012345678901234567890123456789012345678901234567890123456789; done; exec sleep 1000"]; }'
	start_arbord "$T/a.conf"
	local d=$T/logs/root/w
	wait_for "the second rotated file" test -s "$d/current.2.gz" || return 1
	wait_for "the last line" grep -q 'line-400-' "$d/current" || return 1
	wait_for "compression done" sh -c "! ls $d | grep -qv -e '^current\$' -e '^current\.[12]\.gz\$'" || fail "files: $(ls "$d")" || return 1
	[ ! -e "$d/current.3.gz" ] || fail "a third rotated file" || return 1
	for gz in "$d/current.1.gz" "$d/current.2.gz"; do
		gzip -t "$gz" || fail "$gz is not valid gzip" || return 1
		local n
		n=$(zcat "$gz" | wc -l)
		[ "$n" -gt 0 ] || fail "$gz is empty" || return 1
		assert_eq "stamped lines in $gz" "$n" "$(zcat "$gz" | grep -caE "$STAMP")" || return 1
	done
	[ "$(stat -c %s "$d/current")" -le 4096 ] || fail "current past log_max_bytes" || return 1
	# newest first: current.1.gz holds later lines than current.2.gz
	local a b
	a=$(zcat "$d/current.1.gz" | head -n 1 | sed -E 's/.*line-([0-9]+)-.*/\1/')
	b=$(zcat "$d/current.2.gz" | head -n 1 | sed -E 's/.*line-([0-9]+)-.*/\1/')
	[ "$a" -gt "$b" ] || fail "current.1.gz ($a) is not newer than current.2.gz ($b)"
}

test_a_flooding_worker_slows_only_itself() {
	out_conf a 'log_max_bytes = 1048576; log_keep = 2;' '
	  { name = "flood"; command = ["/usr/bin/yes", "flooding-the-log-with-a-line-of-about-a-hundred-bytes-0123456789012345678901234567890"]; },
	  { name = "crash"; restart_delay = 0; command = ["/bin/sh", "-c", "echo crash-$$; sleep 0.2; exit 1"]; }'
	start_arbord "$T/a.conf"
	wait_for "the flood in its log" test -s "$T/logs/root/flood/current" || return 1
	local r0 t0 t1 i
	r0=$(restarts_of root/crash)
	t0=$EPOCHREALTIME
	wait_for "ten more restarts beside the flood" more_restarts root/crash $((r0 + 10)) || return 1
	t1=$EPOCHREALTIME
	echo "report: 10 restarts of a 0.2 s crash loop beside a flood took $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
	for i in 1 2 3 4 5; do
		timeout 2 "$ARBORCTL" -s "$T/sock" status >/dev/null || fail "status did not answer within 2 s" || return 1
	done
	# the crash loop's lines are all there, each process's
	local pids
	pids=$(grep -c ' out crash-' "$T/logs/root/crash/current")
	[ "$pids" -ge 10 ] || fail "crash loop lines: $pids" || return 1
	ls "$T/logs/root/flood" | grep -q 'current.1.gz' || fail "the flood never rotated: $(ls "$T/logs/root/flood")"
}

# current is /dev/full's device (a symlink to it is not followed).
test_a_full_disk_is_said_once_counted_and_writing_resumes() {
	mkdir -p "$T/logs/root/w"
	mknod -m 666 "$T/logs/root/w/current" c 1 7
	out_conf a '' '{ name = "w"; restart_delay = 50; command = ["/bin/sh", "-c", "echo line-$$; sleep 0.1; exit 1"]; }'
	start_arbord "$T/a.conf"
	wait_for "ten restarts" more_restarts root/w 10 || return 1
	assert_eq "said once" 1 "$(grep -c 'root/w/current: write: No space left on device' "$T/log")" || return 1
	wait_for "dropped lines counted" sh -c "\"$ARBORCTL\" -s $T/sock metrics | grep -qE '^arbor_log_lines_dropped_total\{path=\"root\"\} [1-9]'" || return 1
	local r
	r=$(restarts_of root/w)
	wait_for "restarts going on" more_restarts root/w $((r + 3)) || return 1
	rm "$T/logs/root/w/current"
	wait_for "writing again" grep -qE ' out line-' "$T/logs/root/w/current" || return 1
	wait_for "said so" log_has 'root/w: log: writing again' || return 1
	[ -f "$T/logs/root/w/current" ] || fail "current is not a new file"
}

test_binary_output_keeps_bytes_in_files_and_valid_text_in_events() {
	out_conf a '' '{ name = "w"; restart = "temporary";
	  command = ["/bin/sh", "-c", "printf '"'"'a\\000b\\377c\\n'"'"'; printf '"'"'bad\\300\\000utf8\\n'"'"' >&2; exit 2"]; }'
	start_arbord "$T/a.conf"
	local f=$T/logs/root/w/current
	wait_for "the crash" is_state root/w stopped || return 1
	wait_for "both lines" sh -c "[ \$(wc -l < $f) -eq 2 ]" || return 1
	# the file keeps the bytes as written
	grep -a ' out ' "$f" | cut -d' ' -f3- | od -An -c | tr -s ' ' >"$T/bytes"
	grep -q 'a \\0 b 377 c' "$T/bytes" || fail "stdout bytes changed: $(cat "$T/bytes")" || return 1
	wait_for "its exit event" sh -c "\"$ARBORCTL\" -s $T/sock events | grep -q '\"event\":\"exit\"'" || return 1
	local tail
	ctl events | grep '"event":"exit"' >"$T/ev"
	python3 -c 'import json,sys; json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))' "$T/ev" ||
	    fail "the exit event is not valid UTF-8 JSON: $(cat "$T/ev")" || return 1
	tail=$(jq -r .stderr_tail "$T/ev")
	assert_eq "stderr_tail as text" 'bad??utf8' "$tail"
}

test_a_100MB_line_is_split_with_memory_bounded() {
	out_conf a 'log_max_bytes = 1073741824;' '{ name = "w"; restart = "temporary";
	  command = ["/bin/sh", "-c", "head -c 100000000 /dev/zero | tr '"'"'\\000'"'"' x; sleep 1000"]; }'
	start_arbord "$T/a.conf"
	local f=$T/logs/root/w/current rss0 hwm
	rss0=$(awk '/^VmRSS/ { print $2 }' /proc/"$ARBORD_PID"/status)
	# 100,000,000 bytes in lines of 16,384: 6,103 full lines so far
	wait_for "the split lines" sh -c "[ \$(wc -l < $f) -ge 6103 ]" || return 1
	hwm=$(awk '/^VmHWM/ { print $2 }' /proc/"$ARBORD_PID"/status)
	echo "report: arbord's peak RSS $hwm KiB (at start $rss0 KiB) through a 100 MB line"
	sanitized || [ $((hwm - rss0)) -lt 32768 ] || fail "memory grew by $((hwm - rss0)) KiB" || return 1
	assert_eq "longest line's text" 16384 "$(head -n 3 "$f" | cut -d' ' -f3- | awk '{ print length($0) }' | sort -n | tail -n 1)" || return 1
	ctl stop root/w >/dev/null
	wait_for "the rest written at exit" sh -c "[ \$(wc -l < $f) -eq 6104 ]" || return 1
	assert_eq "every byte" 100000000 "$(cut -d' ' -f3- "$f" | tr -d '\n' | wc -c)"
}

test_journal_fields_through_a_stand_in_socket() {
	command -v unshare >/dev/null || { echo "no unshare here"; return 77; }
	unshare -m true 2>/dev/null || { echo "cannot make a mount namespace here (not root?)"; return 77; }
	out_conf a 'log_journal = "auto";' '{ name = "web"; restart = "temporary";
	  command = ["/bin/sh", "-c", "echo hello-journal; printf '"'"'oops\\377\\n'"'"' >&2; exec sleep 1000"]; }'
	# journald's socket exists only in this mount namespace, ours.
	unshare -m sh -c "
		mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal &&
		python3 '$HELPERS/journal_standin.py' /run/systemd/journal/socket '$T/journal' &
		while [ ! -e '$T/journal.ready' ]; do sleep 0.02; done
		exec '$ARBORD' -c '$T/a.conf' -s '$T/sock'" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord" ctl status || return 1
	wait_for "two journal entries" sh -c "[ \$(wc -l < $T/journal) -ge 2 ]" || return 1
	local pid
	pid=$(pid_of root/web)
	jq -s -e --arg pid "$pid" 'any(.[]; .MESSAGE == "hello-journal" and
	    .ARBOR_PATH == "root/web" and .ARBOR_PID == $pid and
	    .SYSLOG_IDENTIFIER == "web" and .PRIORITY == "6")' "$T/journal" >/dev/null ||
	    fail "stdout entry (pid $pid): $(cat "$T/journal")" || return 1
	jq -s -e 'any(.[]; .PRIORITY == "3" and .MESSAGE == "oops?" and .ARBOR_PATH == "root/web")' \
	    "$T/journal" >/dev/null || fail "stderr entry (valid text): $(cat "$T/journal")" || return 1
	grep -q invalid_utf8 "$T/journal" && fail "the journal got invalid UTF-8" && return 1
	grep -q hello-journal "$T/logs/root/web/current" || fail "the file lost the line"
}

test_echo_prefixes_lines_with_their_path() {
	out_conf a 'log_echo = "on";' '{ name = "flaky"; restart = "temporary"; command = ["/bin/sh", "-c", "echo crashing >&2; exit 1"]; }'
	start_arbord "$T/a.conf"
	wait_for "the echoed line" log_has '^root/flaky| crashing$' || return 1
	out_conf b 'log_echo = "auto";' '{ name = "quiet"; restart = "temporary"; command = ["/bin/sh", "-c", "echo not-a-terminal"]; }'
	stop_arbord
	start_arbord "$T/b.conf"
	wait_for "its log" grep -q not-a-terminal "$T/logs/root/quiet/current" || return 1
	log_has 'not-a-terminal' && fail "auto echoed with stderr not a terminal" && return 1
	stop_arbord
	# On a terminal (make demo), auto echoes.
	command -v script >/dev/null || { echo "no script(1) for a terminal"; return 0; }
	rm -rf "$T/logs"
	script -qfec "'$ARBORD' -c '$T/b.conf' -s '$T/sock'" /dev/null >"$T/tty" 2>&1 &
	ARBORD_PID=$!
	wait_for "the line echoed on the terminal" grep -q '^root/quiet| not-a-terminal' "$T/tty" || return 1
	ctl shutdown >/dev/null
	wait "$ARBORD_PID"
}

test_stdout_inherit_still_writes_to_arbords_stderr() {
	out_conf a '' '{ name = "w"; restart = "temporary"; stdout = "inherit"; stderr = "inherit";
	  command = ["/bin/sh", "-c", "echo inherited-out; echo inherited-err >&2"]; }'
	start_arbord "$T/a.conf"
	wait_for "both lines on arbord's output" sh -c "grep -q '^inherited-out\$' $T/log && grep -q '^inherited-err\$' $T/log" || return 1
	[ ! -e "$T/logs/root/w" ] || fail "a log was made for an inherited worker"
	ctl logs root/w 2>"$T/err"
	assert_eq "logs of it" 1 "$?" || return 1
	grep -q 'not captured' "$T/err" || fail "$(cat "$T/err")"
}

test_log_dir_that_cannot_be_made() {
	touch "$T/file"
	conf bad <<CONF
daemon = { log_dir = "$T/file/log"; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
	"$ARBORD" --check -c "$T/bad.conf" >/dev/null 2>"$T/err"
	assert_eq "--check exit code" 1 "$?" || return 1
	grep -q "^$T/bad.conf:1: daemon: log_dir: \"$T/file/log\" cannot be created: $T/file is not a directory" "$T/err" ||
	    fail "error: $(cat "$T/err")" || return 1
	conf dflt <<CONF
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
	LOGS_DIRECTORY=$T/file/log "$ARBORD" --check -c "$T/dflt.conf" >/dev/null 2>"$T/err"
	assert_eq "--check exit code (default)" 0 "$?" || return 1
	grep -q "warning: log_dir: the default \"$T/file/log\" cannot be created" "$T/err" ||
	    fail "warning: $(cat "$T/err")" || return 1
	# running, lines go to memory only and logs still serves them
	conf mem <<CONF
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sh", "-c", "echo kept-in-memory; exec sleep 1000"]; } ); };
CONF
	LOGS_DIRECTORY=$T/file/log start_arbord "$T/mem.conf"
	wait_for "the line in memory" sh -c "\"$ARBORCTL\" -s $T/sock logs root/w | grep -q kept-in-memory"
}

# Paths are validated names: nothing a config says can put a log outside
# log_dir.
test_no_name_escapes_log_dir() {
	for name in '..' '.' 'a/b' '../x'; do
		conf bad <<CONF
daemon = { log_dir = "$T/logs"; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "$name"; command = ["/bin/true"]; } ); };
CONF
		"$ARBORD" --check -c "$T/bad.conf" >/dev/null 2>"$T/err"
		assert_eq "name \"$name\" refused" 1 "$?" || return 1
	done
}

test_a_worker_that_closes_its_output_costs_nothing() {
	out_conf a '' '{ name = "closed"; command = ["/bin/sh", "-c", "exec >&- 2>&-; exec sleep 1000"]; },
	  { name = "silent"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/a.conf"
	wait_for "both running" sh -c "[ \"\$(\"$ARBORCTL\" -s $T/sock status --json | jq '[.children[] | select(.state == \"running\")] | length')\" = 2 ]" || return 1
	local t0 t1
	t0=$(awk '{ print $14 + $15 }' /proc/"$ARBORD_PID"/stat)
	sleep 1
	t1=$(awk '{ print $14 + $15 }' /proc/"$ARBORD_PID"/stat)
	# a loop on a closed pipe would burn the whole second (100 ticks)
	[ $((t1 - t0)) -le 5 ] || fail "arbord used $((t1 - t0)) ticks in 1 s idle" || return 1
	[ ! -e "$T/logs/root/silent/current" ] || fail "a silent worker got a file"
}

# A follower that never reads is dropped once its backlog is full; the
# flood, the other workers and the control socket go on.
test_a_follower_that_never_reads_is_dropped() {
	out_conf a '' '{ name = "flood"; command = ["/usr/bin/yes", "a-line-of-the-flood-for-a-follower-that-never-reads"]; },
	  { name = "crash"; restart_delay = 0; command = ["/bin/sh", "-c", "sleep 0.2; exit 1"]; }'
	start_arbord "$T/a.conf"
	python3 - "$T/sock" >"$T/follower" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"logs","path":"root/flood","follow":true,"lines":0}\n')
time.sleep(3)                       # never reads meanwhile
s.settimeout(20)
tail = b""
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    tail = (tail + b)[-200:]
print("closed; last bytes:", tail.decode(errors="replace").splitlines()[-1])
PY
	local py=$! r0
	r0=$(restarts_of root/crash)
	wait_for "restarts beside the stuck follower" more_restarts root/crash $((r0 + 5)) || return 1
	wait "$py" || fail "the follower was not dropped" || return 1
	# dropped: closed by arbord (its notice may not fit the full socket)
	grep -q '^closed;' "$T/follower" || fail "$(cat "$T/follower")" || return 1
	timeout 2 "$ARBORCTL" -s "$T/sock" status >/dev/null || fail "status did not answer"
}

# chatty_conf NAME KEYS CHILDREN: a pool whose template floods with lines of
# about 100 bytes, beside CHILDREN.
chatty_conf() {
	out_conf "$1" "$2" "{ name = \"pool\"; strategy = \"simple_one_for_one\";
	  template = { command = [\"/usr/bin/yes\", \"pool line $(printf '%090d' 0)\"]; }; }$3"
}

# rotated_files_sound DIR: current within 4096 bytes, gzip files valid,
# nothing left half-rotated.
rotated_files_sound() {
	local f
	ls "$1" | grep -qv -e '^current$' -e '^current\.[1-5]\.gz$' && return 1
	[ "$(stat -c %s "$1/current")" -le 4096 ] || return 1
	for f in "$1"/current.*.gz; do gzip -t "$f" || return 1; done
}

# removed_or_dead PATH: PATH is no more, or arbord is not (a crash is
# seen at once).
removed_or_dead() { ! alive "$ARBORD_PID" || ! ctl status "$1"; }

# A removed worker's held lines (more than log_max_bytes) rotate again
# after it is gone: its record stays until the compressor lets go of it.
test_removing_a_chatty_worker_while_its_log_rotates() {
	chatty_conf a 'log_max_bytes = 4096; log_keep = 5;' ',
	  { name = "spew"; command = ["/usr/bin/yes", "spew line"]; }'
	start_arbord "$T/a.conf"
	local d=$T/logs/root/pool/child
	for i in 1 2; do
		ctl start-child root/pool >/dev/null || return 1
		wait_for "child.$i rotating" test -e "$d.$i/current.5.gz" || return 1
		sleep 0.2	# its pipe fills while the compressor has its file
		ctl terminate-child "root/pool/child.$i" >/dev/null || return 1
		wait_for "child.$i removed" removed_or_dead "root/pool/child.$i" || return 1
		alive "$ARBORD_PID" || fail "arbord died" || return 1
	done
	# the same through a reload that removes a flooding worker
	wait_for "spew rotating" test -e "$T/logs/root/spew/current.5.gz" || return 1
	chatty_conf a 'log_max_bytes = 4096; log_keep = 5;' ''
	ctl reload >/dev/null || fail "reload" || return 1
	wait_for "compression done" sh -c "$(declare -f rotated_files_sound);
	    rotated_files_sound $d.1 && rotated_files_sound $d.2 && rotated_files_sound $T/logs/root/spew" || return 1
	ctl status >/dev/null || fail "arbord died" || return 1
	stop_arbord || fail "arbord's exit code: $?"
}

# Followers that go away while a flood is sent to them: dropped inside one
# epoll batch, with an event of theirs still pending in it.
test_followers_leaving_during_a_flood() {
	out_conf a '' '{ name = "spew"; command = ["/usr/bin/yes", "a line of the spew"]; }'
	start_arbord "$T/a.conf"
	wait_for "the flood" test -s "$T/logs/root/spew/current" || return 1
	python3 - "$T/sock" <<'PY' || fail "clients" || return 1
import random, socket, sys, threading
def client(n):
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        s.sendall(b'{"cmd":"logs","path":"root/spew","lines":10000,"follow":true}\n')
        s.makefile("rb").readline()
        threading.Event().wait(random.random() * 0.2)
        s.close()
ts = [threading.Thread(target=client, args=(5,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
PY
	ctl logs root/spew -n 1 | grep -q 'a line of the spew' || fail "logs after the followers" || return 1
	stop_arbord || fail "arbord's exit code: $?"
}

# A rotation that fails (here current.rotated is a directory) is said once,
# current grows past log_max_bytes meanwhile, and rotating resumes once it
# works. (It used to be tried again at once, forever, in the output thread.)
test_a_failing_rotation_is_said_once_and_tried_again() {
	local d=$T/logs/root/w
	mkdir -p "$d/current.rotated/x"
	out_conf a 'log_max_bytes = 4096; log_keep = 2;' "{ name = \"w\";
	  command = [\"/bin/sh\", \"-c\", \"burst() { for i in \$(seq 1 100); do echo \$1-\$i-$(printf '%060d' 0); done; };
	    burst first; while [ ! -e $T/go ]; do sleep 0.05; done; while :; do echo second; sleep 0.1; done\"]; }"
	start_arbord "$T/a.conf"
	wait_for "the first burst" grep -q 'first-100-' "$d/current" || return 1
	assert_eq "said once" 1 "$(grep -c "root/w: log rotation: $d/current: Is a directory; it grows past log_max_bytes" "$T/log")" || return 1
	[ "$(stat -c %s "$d/current")" -gt 4096 ] || fail "current within log_max_bytes" || return 1
	rm -r "$d/current.rotated"
	touch "$T/go"
	# tried again a second after the last failure, at a write
	wait_for "rotated again" test -s "$d/current.1.gz" || return 1
	zgrep -q 'first-100-' "$d/current.1.gz" || fail "the first burst is not in a rotated file" || return 1
	wait_for "the rotation's recovery said" log_has 'root/w: log rotation works again'
}

# readd_conf NAME WORD: a worker "w" (if WORD is not empty) writing WORD
# lines once $T/go exists, beside one that writes nothing.
readd_conf() {
	local w=
	[ -n "$2" ] && w=", { name = \"w\"; command = [\"/bin/sh\", \"-c\", \"while [ ! -e $T/go ]; do sleep 0.01; done;
	  while :; do echo $2-$(printf '%060d' 0); sleep 0.01; done\"]; }"
	out_conf "$1" 'log_max_bytes = 4096; log_keep = 5;' "{ name = \"idle\";
	  command = [\"/bin/sleep\", \"1000\"]; }$w"
}

# hold_compressor: stops arbord's compressor thread (ptrace, that thread
# only: as a slow disk would hold it) until $T/release exists.
hold_compressor() {
	local h
	wait_for "the output helper" helper_pid output || return 1
	h=$(helper_pid output)
	python3 "$HELPERS/threadstop.py" "$h" arbord-gzip "$T/held" "$T/release" &
	wait_for "the compressor held" test -e "$T/held"
}

# A worker removed and added again while the compressor still has the old
# one's file: the new one must not rotate into current.rotated meanwhile.
test_a_worker_added_again_while_its_old_log_is_compressed() {
	readd_conf a one
	start_arbord "$T/a.conf"
	hold_compressor || return 1
	touch "$T/go"
	wait_for "w's first rotation queued" test -e "$T/logs/root/w/current.rotated" || return 1
	readd_conf a ''
	ctl reload >/dev/null || return 1
	readd_conf a two
	ctl reload >/dev/null || return 1
	# past log_max_bytes (or, wrongly, rotated into current.rotated)
	wait_for "the new w's lines" sh -c "grep -q ' out two-' $T/logs/root/w/current.rotated ||
	    [ \$(grep -c ' out two-' $T/logs/root/w/current) -ge 100 ]" || return 1
	touch "$T/release"	# the compressor goes on
	wait_for "w's old file compressed" test -e "$T/logs/root/w/current.2.gz" || return 1
	log_has 'log rotation: cannot' && fail "a rotation failed" && return 1
	zgrep -q ' out one-' "$T/logs/root/w/current.2.gz" || fail "the old w's lines are not in current.2.gz" || return 1
	zgrep -q ' out two-' "$T/logs/root/w/current.1.gz" || fail "the new w's lines are not in current.1.gz"
}

# run_as_other CMD: what another user of the machine does: uid 54321, not
# the helpers' user (nobody on a machine without the user arbor, which
# writes the logs).
OTHER_UID=54321
run_as_other() { setpriv --reuid=$OTHER_UID --regid=$OTHER_UID --clear-groups sh -c "$1"; }

# chatty CHAR: a worker command writing lines of CHAR every 10 ms.
chatty() { echo "[\"/bin/sh\", \"-c\", \"while :; do echo $1-$(printf '%060d' 0); sleep 0.01; done\"]"; }

# Root never writes, nor reads for `logs`, through a symlink (issue 26, 5):
# not in a worker's directory another user owns (refused whole, said), not
# at current in its own (an admin's or an attacker's from before this
# start), not at the temporary name a rotation compresses into.
test_worker_logs_never_follow_a_symlink() {
	chmod 711 "$T"
	printf 'secret one\n' >"$T/secret1"
	printf 'secret two\n' >"$T/secret2"
	chmod 600 "$T/secret1" "$T/secret2"
	local d=$T/logs/root
	mkdir -p "$d/theirs" "$d/planted" "$d/rot"
	chown $OTHER_UID "$d/theirs"
	run_as_other "ln -s $T/secret1 $d/theirs/current && ln -s $T/secret2 $d/theirs/current.1.gz.tmp" || return 1
	ln -s "$T/secret1" "$d/planted/current"
	ln -s "$T/secret2" "$d/rot/current.1.gz.tmp"
	out_conf a 'log_max_bytes = 4096;' "{ name = \"theirs\"; command = $(chatty t); },
	  { name = \"planted\"; command = $(chatty p); }, { name = \"rot\"; command = $(chatty r); }"
	start_arbord "$T/a.conf" || return 1
	wait_for "rot rotated" test -e "$d/rot/current.2.gz" || return 1
	[ "$(cat "$T/secret1")" = "secret one" ] || fail "root appended to the first file: $(wc -l <"$T/secret1") lines" || return 1
	[ "$(cat "$T/secret2")" = "secret two" ] || fail "root wrote over the second file: $(file -b "$T/secret2")" || return 1
	wait_for "theirs refused" log_has "root/theirs: log $d/theirs/current: directory: $d/theirs: owned by uid $OTHER_UID, not by root" || return 1
	wait_for "planted refused" log_has "root/planted: log $d/planted/current: open: Too many levels of symbolic links" || return 1
	wait_for "their lines counted as dropped" sh -c "\"$ARBORCTL\" -s $T/sock metrics | grep -qE '^arbor_log_lines_dropped_total\{path=\"root\"\} [1-9]'" || return 1
	ctl logs root/planted >"$T/shown" 2>&1
	ctl logs root/theirs >>"$T/shown" 2>&1
	grep -q secret "$T/shown" && fail "logs showed a file a symlink named: $(cat "$T/shown")" && return 1
	# (a rotation shifts current.1.gz to .2 before it writes the new .1:
	# its rotated lines are in one of them)
	wait_for "rot's rotated lines" sh -c "zcat $d/rot/current.*.gz 2>/dev/null | grep -q ' out r-'"
}

# What arbord makes under log_dir has its own mode whatever arbord's umask
# (issue 26, 6): directories 0755, current and its rotated files 0640
# (gzopen made those 0666 less the umask: another user read them).
test_worker_logs_keep_their_modes_under_umask_0() {
	chmod 711 "$T"
	out_conf a 'log_max_bytes = 4096; log_keep = 2;' '{ name = "w"; command = ["/bin/sh", "-c",
	  "while :; do echo DB_PASSWORD=s3cr3t-0123456789012345678901234567890123456789; sleep 0.01; done"]; }'
	umask 0
	start_arbord "$T/a.conf" || return 1
	local d=$T/logs/root/w
	wait_for "a second rotation" test -e "$d/current.2.gz" || return 1
	wait_for "the live file" test -e "$d/current" || return 1
	wait_for "current.1.gz (made anew after each shift)" test -e "$d/current.1.gz" || return 1
	assert_eq "the directories' modes" "755 755 755" "$(stat -c %a "$T/logs" "$T/logs/root" "$d" | xargs)" || return 1
	assert_eq "the files' modes" "640 640 640" "$(stat -c %a "$d/current" "$d/current.1.gz" "$d/current.2.gz" | xargs)" || return 1
	! run_as_other "zcat $d/current.1.gz" >/dev/null 2>&1 || fail "another user read the rotated lines"
}

# small_disk DIR KIB: a tmpfs of KIB KiB at DIR, mode 0755 (a tmpfs is
# 1777 unless told, and arbord writes in no directory others can write).
small_disk() {
	mkdir -p "$1" && mount -t tmpfs -o size="$2"k,mode=0755 arbor-it "$1" ||
		{ echo "cannot mount a tmpfs"; return 77; }
}

# full_disk_rotation: see below; the disk is $T/disk.
full_disk_rotation() {
	local d=$T/disk/root/w pad=$(printf '%077d' 0)
	# Room for current's 300000 bytes (74 pages) and nothing more: the
	# gzip of the first rotation finds the disk full.
	dd if=/dev/zero of="$T/disk/fill" bs=4096 count=$(($(stat -f -c %a "$T/disk") - 74)) status=none
	# Lines of 120 bytes stamped: 2500 fill current to log_max_bytes;
	# the one after them finds the disk full.
	conf a <<CONF
daemon = { log_dir = "$T/disk"; log_max_bytes = 300000; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sh", "-c",
  "seq -f 'line-%04g-$pad' 1 2500; echo while-full; while [ ! -e $T/go ]; do sleep 0.01; done;
   while [ ! -e $T/go2 ]; do echo retry; sleep 0.05; done; seq -f 'line-%04g-$pad' 2501 5000; exec sleep 1000"]; } ); };
CONF
	start_arbord "$T/a.conf" || return 1
	wait_for "the gzip failed" log_has "root/w: log rotation: cannot write $d/current.1.gz: No space left on device" || return 1
	[ -s "$d/current.1" ] || fail "the rotated lines were not kept: $(ls "$d")" || return 1
	wait_for "the line the full disk took counted" sh -c "\"$ARBORCTL\" -s $T/sock metrics | grep -qxE 'arbor_log_lines_dropped_total\{path=\"root(/w)?\"\} 1'" || return 1
	rm "$T/disk/fill"
	touch "$T/go"
	# Writing is tried again a second after it failed.
	wait_for "writing again" log_has "root/w: log: writing again" || return 1
	touch "$T/go2"
	# The kept file moves up a slot and is compressed there.
	wait_for "the last line" sh -c "grep -q ' out line-5000-' $d/current || zgrep -q ' out line-5000-' $d/current.1.gz" || return 1
	wait_for "the kept lines compressed" sh -c "[ ! -e $d/current.2 ] && [ -e $d/current.2.gz ]" || return 1
	assert_eq "every line that reached the disk, in order" "$(seq 1 5000 | md5sum)" \
	    "$( (zcat "$d/current.2.gz" "$d/current.1.gz"; cat "$d/current") | grep ' out line-' |
	    sed -E 's/.* out line-0*([0-9]+)-.*/\1/' | md5sum)"
}

# A rotation on a full disk keeps the plain file (issue 26, 8): its
# lines reached the disk, so they stay there, in the rotation's place,
# and a later rotation compresses them once there is room. What cannot
# be written at all is counted.
test_a_rotation_on_a_full_disk_keeps_the_plain_file() {
	[ "$(id -u)" = 0 ] || { echo "needs root to mount a small tmpfs"; return 77; }
	small_disk "$T/disk" 1024 || return
	full_disk_rotation
	local rc=$?
	stop_arbord
	umount -l "$T/disk"
	return $rc
}

# A current.rotated that a rotation left (arbord killed while it was
# compressed) is rotated first, never replaced by the next one.
test_a_rotation_left_half_done_is_finished_not_replaced() {
	local d=$T/logs/root/w
	mkdir -p "$d"
	printf '2026-12-01T20:00:00.000000Z out left-by-a-killed-arbord\n' >"$d/current.rotated"
	out_conf a 'log_max_bytes = 4096;' "{ name = \"w\"; command = $(chatty n); }"
	start_arbord "$T/a.conf" || return 1
	wait_for "two rotations" test -e "$d/current.2.gz" || return 1
	# In a .gz file, compressed and kept, not replaced: which one depends
	# on how many rotations w's first read held (its lines may wait in its
	# pipe for the output helper's start), and a rotation may be shifting
	# them as they are read.
	wait_for "the left lines in a .gz file" sh -c "zcat $d/current.*.gz 2>/dev/null | grep -q ' out left-by-a-killed-arbord\$'" || return 1
	wait_for "w's lines in current.1.gz (made anew after each shift)" zgrep -q ' out n-' "$d/current.1.gz"
}

# log_dir removed while arbord runs (its directory fd is held): made anew
# at the next rotation's write, as at start.
test_log_dir_removed_while_running_is_made_again() {
	out_conf a 'log_max_bytes = 4096;' "{ name = \"w\"; command = $(chatty m); }"
	start_arbord "$T/a.conf" || return 1
	wait_for "a rotation" test -e "$T/logs/root/w/current.1.gz" || return 1
	rm -r "$T/logs"
	wait_for "log_dir made again" test -s "$T/logs/root/w/current" || return 1
	assert_eq "its mode" 755 "$(stat -c %a "$T/logs/root/w")"
}
