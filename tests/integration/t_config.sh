# SPDX-License-Identifier: BSD-2-Clause
# arbord --check, refused configurations, options (arbord(8), arbor.conf(5)).

test_check_prints_the_tree() {
	"$ARBORD" --check -c "$ROOT/config/examples/demo.conf" >"$T/out" 2>"$T/err"
	assert_eq "exit code" 0 "$?" || return 1
	head -n 1 "$T/out" | grep -q '^root (supervisor one_for_one' || fail "no root: $(cat "$T/out")" || return 1
	grep -q '^    .* (worker) restart=' "$T/out" || fail "nested workers not shown" || return 1
	[ ! -s "$T/err" ] || fail "unexpected diagnostics: $(cat "$T/err")"
}

test_invalid_config_refused_whole_nothing_started() {
	conf bad <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "good"; command = ["/bin/sh", "-c", "touch $T/started; exec sleep 1000"]; },
  { name = "web"; command = ["/bin/true"]; restart = "sometimes"; },
  { name = "web"; command = ["relative"]; }
); };
CONF
	"$ARBORD" --check -c "$T/bad.conf" >"$T/out" 2>"$T/err"
	assert_eq "--check exit code" 1 "$?" || return 1
	cat >"$T/expected" <<EXP
$T/bad.conf:3: root/web: unknown restart type "sometimes"
$T/bad.conf:4: root/web: command[0]: "relative" is not an absolute path
$T/bad.conf:4: root: duplicate child name "web" (first on line 3)
arbord: $T/bad.conf: 3 errors; nothing was started
EXP
	diff "$T/expected" "$T/err" >&2 || fail "--check errors differ" || return 1
	"$ARBORD" -c "$T/bad.conf" -s "$T/sock" >"$T/out" 2>"$T/err"
	assert_eq "arbord exit code" 1 "$?" || return 1
	diff "$T/expected" "$T/err" >&2 || fail "arbord errors differ" || return 1
	[ ! -e "$T/started" ] && [ ! -e "$T/sock" ] || fail "something was started"
}

test_options() {
	"$ARBORD" >/dev/null 2>"$T/err"
	assert_eq "no -c" 1 "$?" || return 1
	grep -q -- '-c FILE is required' "$T/err" || fail "no clear error" || return 1
	"$ARBORD" -c x --log-format xml 2>"$T/err"
	assert_eq "bad --log-format" 1 "$?" || return 1
	"$ARBORD" --bogus 2>/dev/null
	assert_eq "unknown option" 1 "$?" || return 1
	"$ARBORD" --version | grep -Eq '^arbord [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version" || return 1
	"$ARBORD" --help | grep -q -- '--no-bpf' || fail "--help" || return 1
	"$ARBORD" -c /nonexistent.conf 2>"$T/err"
	assert_eq "missing file" 1 "$?" || return 1
	grep -q '/nonexistent.conf: cannot read: No such file or directory' "$T/err" || fail "no clear error"
}

test_json_log_format() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "a"; command = ["/bin/sh", "-c", "exit 4"]; restart = "temporary"; }
); };
CONF
	start_arbord "$T/tree.conf" --log-format json
	wait_for "a stopped" is_state root/a stopped || return 1
	stop_arbord
	grep '"event"' "$T/log" >"$T/events"
	jq -e . "$T/events" >/dev/null || fail "not JSON lines" || return 1
	assert_eq "exit event" "root/a crash 4 null" \
		"$(jq -r 'select(.event == "exit") | "\(.path) \(.reason) \(.status) \(.signal)"' "$T/events")" || return 1
	jq -se 'map(select(.event == "spawn")) | length > 0 and all((.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and .mono_ns > 0 and .pid > 0)' "$T/events" >/dev/null ||
		fail "spawn event fields" || return 1
	# A spawn's times in their order: arbord's clone, the child's start,
	# its execve, arbord's return from the clone.
	jq -se 'map(select(.event == "spawn")) | length > 0 and all(.clone_mono_ns > 0 and .clone_mono_ns <= .child_mono_ns and .child_mono_ns <= .exec_mono_ns and .exec_mono_ns <= .spawned_mono_ns)' "$T/events" >/dev/null ||
		fail "spawn event times out of order: $(jq -c 'select(.event == "spawn")' "$T/events")"
}

test_socket_from_config_and_environment() {
	conf tree <<CONF
daemon = { socket = "$T/from-config.sock"; };
tree = { strategy = "one_for_one"; children = ( { name = "a"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	"$ARBORD" -c "$T/tree.conf" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "socket from the config" "$ARBORCTL" -s "$T/from-config.sock" status || return 1
	ARBOR_SOCKET=$T/from-config.sock "$ARBORCTL" shutdown || return 1
	wait "$ARBORD_PID"
}

test_demo_tree_runs() {
	sed "s|/run/arbor-demo.sock|$T/sock|" "$ROOT/config/examples/demo.conf" >"$T/demo.conf"
	"$ARBORD" -c "$T/demo.conf" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "demo up" ctl status || return 1
	for p in root/clock root/stack/db root/stack/cache root/stack/app root/pair/left root/pair/right; do
		wait_for "$p running" is_state "$p" running || return 1
	done
	assert_eq "pool" root/pool/job.1 "$(ctl start-child root/pool 30)" || return 1
	stop_arbord
}

# A node's path is at most 255 bytes (arbor.conf(5), TREE): longer ones,
# and a pool whose children's names could be, are refused with their line;
# workers whose names differ only past 159 bytes stay apart in events,
# logs and the event log (OBSQ_PATH cut them to one before).
test_long_names_refused_or_kept_whole() {
	local a170 n250 n251 n300
	a170=$(printf 'a%.0s' {1..170})
	n250=$(printf 'c%.0s' {1..250})
	n251=${n250}c
	n300=$(printf 'b%.0s' {1..300})
	conf long <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "$n251"; command = ["/bin/true"]; },
  { name = "x"; strategy = "one_for_one"; children = (
    { name = "$n300"; command = ["/bin/true"]; } ); },
  { name = "pool"; strategy = "simple_one_for_one";
    template = { name = "$n250"; command = ["/bin/true"]; }; }
); };
CONF
	"$ARBORD" --check -c "$T/long.conf" >"$T/out" 2>"$T/err"
	assert_eq "--check exit code" 1 "$?" || return 1
	cat >"$T/expected" <<EXP
$T/long.conf:2: root/$n251: the path is 256 bytes, longer than 255, the most a node's path may be (a directory of its logs, a cgroup, a label of its events and series): shorten the name or a parent's
$T/long.conf:4: root/x/$n300: the path is 307 bytes, longer than 255, the most a node's path may be (a directory of its logs, a cgroup, a label of its events and series): shorten the name or a parent's
$T/long.conf:6: root/pool/template: the children's paths ("root/pool/$n250.4294967295") can be 271 bytes, longer than 255, the most a node's path may be: shorten the template's name or the pool's path
arbord: $T/long.conf: 3 errors; nothing was started
EXP
	diff "$T/expected" "$T/err" >&2 || fail "--check errors differ" || return 1
	conf ok <<CONF
daemon = { log_dir = "$T/logs"; };
observability = { metrics_listen = ""; event_log = "$T/events.jsonl"; };
tree = { strategy = "one_for_one"; children = (
  { name = "${a170}1"; command = ["/bin/sh", "-c", "echo one; exec sleep 1000"]; },
  { name = "${a170}2"; command = ["/bin/sh", "-c", "echo two; exec sleep 1000"]; },
  { name = "$n250"; command = ["/bin/sh", "-c", "echo edge; exec sleep 1000"]; }
); };
CONF
	start_arbord "$T/ok.conf" || return 1
	wait_for "three running" bash -c "[ \$($ARBORCTL -s $T/sock status --json | jq '[.children[] | select(.state == \"running\")] | length') = 3 ]" || return 1
	wait_for "their lines" bash -c "grep -q ' out edge' '$T/logs/root/$n250/current'" || return 1
	grep -q ' out one' "$T/logs/root/${a170}1/current" && grep -q ' out two' "$T/logs/root/${a170}2/current" ||
		fail "logs not apart" || return 1
	spawned() { ctl events | jq -r 'select(.event == "spawn") | .path' | sort | tr '\n' ' ' | sed 's/ $//'; }
	wait_for "three spawn events" bash -c "[ \$($ARBORCTL -s $T/sock events | jq -r 'select(.event == \"spawn\") | .path' | wc -l) -ge 3 ]" || return 1
	assert_eq "spawn events apart" "root/${a170}1 root/${a170}2 root/$n250" "$(spawned)" || return 1
	wait_for "the event log" bash -c "[ \$(jq -r 'select(.event == \"spawn\") | .path' '$T/events.jsonl' | sort -u | wc -l) = 3 ]"
}

# log_dir and the event log's directory are checked as the file is: a
# directory others can write (a sticky 1777 one too), or where the
# directory would be made, or one another user owns, is refused with its
# line; a default log_dir so placed is a warning, and output stays in memory.
test_log_dirs_others_can_write_are_refused() {
	mkdir -m 1777 "$T/open" && mkdir -m 0755 "$T/theirs" "$T/ours" && chown nobody "$T/theirs" && chmod 1777 "$T/open" || return 1
	local d
	for d in "$T/open" "$T/open/logs" "$T/theirs"; do
		conf bad <<CONF
daemon = { log_dir = "$d"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
		"$ARBORD" --check -c "$T/bad.conf" >/dev/null 2>"$T/err"
		assert_eq "--check exit code for $d" 1 "$?" || return 1
		grep -q "^$T/bad.conf:1: daemon: log_dir: \"$d\" is not safe for arbord to write in: .*another user could put a symlink" "$T/err" ||
			fail "no error for $d: $(cat "$T/err")" || return 1
	done
	grep -q 'owned by uid' "$T/err" || fail "owner not named: $(cat "$T/err")" || return 1
	conf bad <<CONF
daemon = { log_dir = "$T/ours"; };
observability = { metrics_listen = "";
  event_log = "$T/open/events.jsonl"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
	"$ARBORD" --check -c "$T/bad.conf" >/dev/null 2>"$T/err"
	assert_eq "--check exit code for the event log" 1 "$?" || return 1
	grep -q "^$T/bad.conf:3: observability: event_log's directory: \"$T/open\" is not safe for arbord to write in: it is writable by others (mode 1777: sticky" "$T/err" ||
		fail "no event log error: $(cat "$T/err")" || return 1
	conf good <<CONF
daemon = { log_dir = "$T/ours/logs"; };
observability = { metrics_listen = ""; event_log = "$T/ours/events.jsonl"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
	"$ARBORD" --check -c "$T/good.conf" >/dev/null 2>"$T/err"
	assert_eq "--check exit code for ours" 0 "$?" || return 1
	[ ! -s "$T/err" ] || fail "diagnostics for ours: $(cat "$T/err")" || return 1
	# A worker's stdout = "file:..." there is opened by arbord too: a warning.
	conf file <<CONF
daemon = { log_dir = "$T/ours/logs"; };
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/true"]; stdout = "file:$T/open/w.out"; } ); };
CONF
	"$ARBORD" --check -c "$T/file.conf" >/dev/null 2>"$T/err"
	assert_eq "--check exit code for a file in it" 0 "$?" || return 1
	grep -q "^$T/file.conf:3: root/w: warning: stdout: \"$T/open/w.out\": in $T/open, it is writable by others (mode 1777: sticky, but anyone may still add an entry): another user could put a symlink there" "$T/err" ||
		fail "no warning for a file: $(cat "$T/err")" || return 1
	conf dflt <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/true"]; } ); };
CONF
	LOGS_DIRECTORY=$T/open "$ARBORD" --check -c "$T/dflt.conf" >/dev/null 2>"$T/err"
	assert_eq "--check exit code for the default" 0 "$?" || return 1
	grep -q "warning: log_dir: the default \"$T/open\" is not safe for arbord to write in: it is writable by others .*kept in memory only" "$T/err" ||
		fail "no warning for the default: $(cat "$T/err")"
}
