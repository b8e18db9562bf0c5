# SPDX-License-Identifier: BSD-2-Clause
# arborctl commands and exit codes; bad and hostile control clients (arborctl(8)).

raw() { python3 "$HELPERS/rawclient.py" "$@"; }

small_tree() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 20; children = (
  { name = "a"; command = ["/bin/sh", "-c", "trap 'echo hup >> $T/hups' HUP; while :; do sleep 0.02; done"]; },
  { name = "sub"; strategy = "one_for_all"; children = (
    { name = "b"; command = ["/bin/sleep", "1000"]; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf"
}

test_status_human_and_json() {
	small_tree
	ctl status >"$T/out" || fail "status failed" || return 1
	grep -q '^NAME .*STATE .*PID .*UPTIME .*RESTARTS .*LAST EXIT' "$T/out" || fail "no header: $(cat "$T/out")" || return 1
	grep -Eq '^root \(one_for_one\) +running' "$T/out" || fail "no root line" || return 1
	grep -Eq "^    b +running +$(pid_of root/sub/b) " "$T/out" || fail "b not indented under sub: $(cat "$T/out")" || return 1
	assert_eq "json tree" "supervisor one_for_one running worker" \
		"$(ctl status --json | jq -r '"\(.kind) \(.strategy) \(.state) \(.children[0].kind)"')" || return 1
	assert_eq "subtree" "root/sub/b" "$(ctl status root/sub --json | jq -r '.children[0].path')" || return 1
	ctl status root/nope 2>"$T/err"
	assert_eq "unknown path exit code" 1 "$?" || return 1
	grep -q 'unknown path "root/nope"' "$T/err" || fail "no clear error"
}

# status --json copies the tree's bytes out of arbord's reply: the same
# JSON as the reply's "status", even with braces, quotes and backslashes in
# a string (a worker's status text) that must not end the copy early.
test_status_json_is_the_replys_tree() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/usr/bin/env", "python3", "$HELPERS/notifier.py", "--status-hex", "7d7d227b5c207d7d", "--ready"]; ready = "notify"; },
  { name = "x"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "status text" bash -c "$ARBORCTL -s $T/sock status root/w --json | jq -e '.status_text | length > 3'" || return 1
	printf '{"cmd":"status"}\n' | raw send "$T/sock" 1 >"$T/reply" || return 1
	ctl status --json >"$T/tree" || return 1
	assert_eq "the copied tree" "$(jq -cS '.status | del(.. | .uptime_s?, .cpu_seconds?)' "$T/reply")" \
		"$(jq -cS 'del(.. | .uptime_s?, .cpu_seconds?)' "$T/tree")" || return 1
	assert_eq "the status text" '}}"{\ }}' "$(jq -r '.children[0].status_text' "$T/tree")"
}

# arborctl against a stand-in for arbord that answers status with odd
# replies: what follows the tree in the reply is not printed (the tree
# alone is valid JSON), a reply cut short says so and fails, and a split
# C1 control is still escaped.
fake_reply() {
	python3 - "$T/fake.sock" "$@" <<'PY' &
import os, socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
c, _ = s.accept()
c.recv(65536)
for chunk in sys.argv[2:]:
    c.sendall(bytes.fromhex(chunk))
    time.sleep(0.05)
c.close()
PY
	wait_for "the stand-in" test -S "$T/fake.sock"
}

test_status_from_odd_replies() {
	local tree=$'{"path":"root","kind":"worker","state":"running","restarts":0,"status_text":"x\xc2\x85}"}'
	local hex cut
	hex=$(printf '{"ok":true,"status":%s,"extra":1}\n' "$tree" | od -An -tx1 | tr -d ' \n')
	# Split inside the C1 control (its two bytes in two chunks).
	cut=$(printf '%s' "$hex" | grep -bo 'c285' | cut -d: -f1)
	fake_reply "${hex:0:cut+2}" "${hex:cut+2}" || return 1
	"$ARBORCTL" -s "$T/fake.sock" status --json >"$T/out" || fail "status --json: $?" || return 1
	jq -e '.path == "root" and .status_text == "x\u0085}"' "$T/out" >/dev/null || fail "not the tree: $(cat -v "$T/out")" || return 1
	grep -qF '\u0085' "$T/out" || fail "C1 not escaped: $(cat -v "$T/out")" || return 1
	rm -f "$T/fake.sock"
	fake_reply "$hex" || return 1
	"$ARBORCTL" -s "$T/fake.sock" status >"$T/out" || fail "status: $?" || return 1
	grep -Eq '^root +running' "$T/out" || fail "no row: $(cat "$T/out")" || return 1
	rm -f "$T/fake.sock"
	fake_reply "${hex:0:100}" || return 1
	"$ARBORCTL" -s "$T/fake.sock" status --json >"$T/out" 2>"$T/err"
	assert_eq "a reply cut short" 2 "$?" || return 1
	grep -q "the reply ended midway" "$T/err" || fail "$(cat "$T/err")"
}

# The table walks the reply's text itself as it comes (no JSON objects
# built, for a big tree's speed): JSON's escapes decoded, then control
# characters escaped for the terminal; the members in any order before
# "children", which arbord writes last; every column from its member.
test_status_table_decodes_the_replys_text() {
	local w='{"path":"root/caf\u00e9","kind":"worker","state":"running","removing":true,"pid":42,"restarts":3,"uptime_s":75.0,"memory_bytes":1536,"cpu_seconds":0.5,"status_text":"a\"b\\c\/d \ud83d\ude00 \u001b!","last_exit":{"reason":"crash","signal":"SIGSEGV","cause":"ready_timeout","error":"boom"},"health":{"ok":false,"failures":2,"detail":"timed\tout"}}'
	local p='{"path":"root/p","kind":"worker","state":"starting","paused":true,"restarts":0,"last_exit":{"reason":"crash","status":3}}'
	local tree='{"restarts":0,"state":"running","strategy":"one_for_all","kind":"supervisor","path":"root","children":['"$w,$p"']}'
	local hex=$(printf '{"ok":true,"status":%s}\n' "$tree" | od -An -tx1 | tr -d ' \n')
	fake_reply "$hex" || return 1
	"$ARBORCTL" -s "$T/fake.sock" status >"$T/out" || fail "status: $?" || return 1
	# The same reply in pieces cut mid-key, mid-escape and mid-number.
	rm -f "$T/fake.sock"
	local cuts=$(printf '%s' "$hex" | python3 -c '
import sys
h = sys.stdin.read(); t = bytes.fromhex(h)
at = sorted([t.index(b"\"pa") + 2, t.index(b"\\ud83d") + 3, t.index(b"1536") + 2, len(t)])
print(" ".join(h[2 * a:2 * b] for a, b in zip([0] + at, at)))')
	fake_reply $cuts || return 1
	"$ARBORCTL" -s "$T/fake.sock" status >"$T/pieces" || fail "status in pieces: $?" || return 1
	cmp -s "$T/out" "$T/pieces" || fail "in pieces: $(cat "$T/pieces")" || return 1
	grep -Eq '^root \(one_for_all\) +running +- +- +0 +- +- +-$' "$T/out" || fail "root: $(cat -A "$T/out")" || return 1
	# (columns squeezed: the name's width is in bytes, as printf's)
	assert_eq "the worker's row" ' café [removed] running 42 1m15s 3 1.5K 0.50s crash signal=SIGSEGV (ready_timeout: boom) "a"b\c/d 😀 \x1b!" health failing (2 in a row): timed\x09out' \
		"$(sed -n 3p "$T/out" | tr -s ' ')" || return 1
	grep -Eq '^  p +paused +- +- +0 +- +- +crash status=3$' "$T/out" || fail "the paused row: $(cat -A "$T/out")" || return 1
	assert_eq "rows" 4 "$(wc -l <"$T/out")" || return 1
	rm -f "$T/fake.sock"
	fake_reply "$(printf '{"ok":true,"status":{"path":"root","children":[{"path":"x"' | od -An -tx1 | tr -d ' \n')0a" || return 1
	"$ARBORCTL" -s "$T/fake.sock" status >"$T/out" 2>"$T/err"
	assert_eq "a malformed reply" 2 "$?" || return 1
	grep -q "malformed reply" "$T/err" || fail "$(cat "$T/err")"
}

# The table's UPTIME and CPU columns are read from the text without
# strtod: each must be what printf makes of the double ("%.1fs" under a
# minute, then whole minutes, hours, days; "%.2fs"), halfway cases and
# carries included.
test_status_table_numbers_are_printfs() {
	local nums="0.37499999999999999999 1.00500000000000000001 0.04999999999999999999 -0 -1.5 0 0.05 0.125 0.135 2.675 9.25 9.95 59.94 59.95 59.96 59.99 60 61.5 3599.9 3600.001 86399.999 86400.5 0.999 0.994999 0.995 0.005 1.005 123.456789 987654321.125 1e-06 12345678901.5"
	local kids=$(python3 -c '
import json, sys
print(",".join(json.dumps({"path": "root/w%d" % i, "kind": "worker", "state": "running", "restarts": 0}, separators=(",", ":")).rstrip("}") +
               ",\"uptime_s\":%s,\"cpu_seconds\":%s}" % (n, n) for i, n in enumerate(sys.argv[1:])))' $nums)
	local hex=$(printf '{"ok":true,"status":{"path":"root","kind":"supervisor","strategy":"one_for_one","state":"running","restarts":0,"children":[%s]}}\n' "$kids" | od -An -tx1 | tr -d ' \n')
	fake_reply "$hex" || return 1
	"$ARBORCTL" -s "$T/fake.sock" status >"$T/out" || fail "status: $?" || return 1
	python3 - "$T/out" $nums <<'PY' || fail "columns: $(cat "$T/out")"
import sys
rows = open(sys.argv[1]).read().splitlines()[2:]
bad = 0
for n, row in zip(sys.argv[2:], rows):
    f = row.split()
    s = float(n)
    t = int(s)
    up = ("%.1fs" % s if t < 60 else "%dm%02ds" % (t // 60, t % 60) if t < 3600 else
          "%dh%02dm" % (t // 3600, t % 3600 // 60) if t < 86400 else "%dd%02dh" % (t // 86400, t % 86400 // 3600))
    want = (up, "%.2fs" % s)
    if (f[3], f[6]) != want:
        print("%s: uptime %s cpu %s, printf's %s %s" % (n, f[3], f[6], *want))
        bad += 1
if len(rows) != len(sys.argv) - 2:
    print("rows: %d" % len(rows)); bad += 1
sys.exit(bad > 0)
PY
}

# The deepest tree the table walks (2,048 levels below the root, its
# TREE_DEPTH_MAX) prints every row, each indented by its depth (wider than
# the label's buffer on the stack: the rest go to the heap); one deeper is
# a malformed reply, said, not a crash.
test_status_table_of_the_deepest_tree() {
	local deep
	for deep in 2048 2049; do
		local hex=$(python3 -c '
import sys
n = int(sys.argv[1])
node = "{\"path\":\"x\",\"children\":["	# small: the reply goes as one argument
sys.stdout.write(("{\"ok\":true,\"status\":" + node * (n + 1) + "]}" * (n + 1) + "}\n").encode().hex())' "$deep")
		rm -f "$T/fake.sock"
		fake_reply "$hex" || return 1
		"$ARBORCTL" -s "$T/fake.sock" status >"$T/out" 2>"$T/err"
		local rc=$?
		if [ "$deep" = 2048 ]; then
			assert_eq "exit of 2,049 levels" 0 "$rc" || { cat "$T/err"; return 1; }
			assert_eq "rows" 2050 "$(wc -l <"$T/out")" || return 1
			assert_eq "the deepest row's indent" 4096 "$(tail -n 1 "$T/out" | sed 's/x.*//' | tr -d '\n' | wc -c)" || return 1
		else
			assert_eq "exit of 2,050 levels" 2 "$rc" || return 1
			grep -q "malformed reply" "$T/err" || fail "$(cat "$T/err")" || return 1
		fi
	done
}

test_daemon_reports_its_pid_heap_and_rss() {
	small_tree
	ctl daemon >"$T/out" || fail "daemon failed" || return 1
	assert_eq "pid" "$ARBORD_PID" "$(awk '$1 == "pid" { print $2 }' "$T/out")" || return 1
	local heap=$(awk '$1 == "heap_bytes" { print $2 }' "$T/out") rss=$(awk '$1 == "rss_bytes" { print $2 }' "$T/out")
	local kb=$(awk '/VmRSS/ { print $2 }' /proc/"$ARBORD_PID"/status)
	# The heap is arbord's own (sanitizers bring their own allocator).
	sanitized || [ "${heap:-0}" -gt 0 ] || fail "no heap figure: $(cat "$T/out")" || return 1
	# RSS as /proc says it, within a megabyte of a read a moment later.
	[ $((rss / 1024 - kb)) -le 1024 ] && [ $((kb - rss / 1024)) -le 1024 ] ||
		fail "rss_bytes $rss against VmRSS ${kb}k" || return 1
	ctl daemon extra 2>/dev/null
	assert_eq "daemon takes no argument (usage)" 2 "$?"
}

test_start_stop_restart_signal() {
	small_tree
	local a=$(pid_of root/a) b=$(pid_of root/sub/b)
	ctl stop root/a || return 1
	wait_for "a stopped" is_state root/a stopped || return 1
	assert_eq "stop reason" shutdown "$(json root/a .last_exit.reason)" || return 1
	dead "$a" || fail "a still alive" || return 1
	ctl stop root/a || fail "stopping a stopped child should succeed" || return 1
	ctl start root/a || return 1
	wait_for "a running" is_state root/a running || return 1
	ctl start root/a 2>"$T/err"
	assert_eq "start running child" 1 "$?" || return 1
	grep -q "already running" "$T/err" || fail "no reason given" || return 1
	a=$(pid_of root/a)
	ctl restart root/a || return 1
	wait_for "a restarted" is_running_new root/a "$a" || return 1
	assert_eq "restart is no crash" shutdown "$(json root/a .last_exit.reason)" || return 1
	ctl restart root/sub || return 1
	wait_for "b restarted with sub" is_running_new root/sub/b "$b" || return 1
	ctl signal root/a HUP || return 1
	wait_for "HUP delivered" test -s "$T/hups" || return 1
	ctl signal root/sub HUP 2>"$T/err"
	assert_eq "signal a supervisor" 1 "$?" || return 1
	grep -q "not a worker" "$T/err" || fail "no reason" || return 1
	ctl signal root/a NOSUCHSIG 2>/dev/null
	assert_eq "bad signal" 1 "$?" || return 1
	ctl stop root 2>/dev/null
	assert_eq "stop root" 1 "$?" || return 1
	ctl start-child root/sub 2>"$T/err"
	assert_eq "start-child on one_for_all" 1 "$?" || return 1
	grep -q "not a simple_one_for_one" "$T/err" || fail "no reason"
}

test_exit_codes_usage_and_unreachable() {
	"$ARBORCTL" -s "$T/none.sock" status 2>"$T/err"
	assert_eq "unreachable" 2 "$?" || return 1
	grep -q "cannot reach arbord at $T/none.sock" "$T/err" || fail "no clear error" || return 1
	"$ARBORCTL" -s "$T/none.sock" bogus 2>/dev/null
	assert_eq "unknown command" 2 "$?" || return 1
	"$ARBORCTL" -s "$T/none.sock" stop 2>/dev/null
	assert_eq "missing argument" 2 "$?" || return 1
	ARBOR_SOCKET=$T/none.sock "$ARBORCTL" status 2>"$T/err"
	grep -q "$T/none.sock" "$T/err" || fail "ARBOR_SOCKET not used"
}

test_shutdown_command_returns_when_arbord_is_gone() {
	small_tree
	local a=$(pid_of root/a)
	ctl shutdown || return 1
	dead "$ARBORD_PID" || fail "arbord still running after arborctl shutdown returned" || return 1
	dead "$a" || fail "worker left behind" || return 1
	wait "$ARBORD_PID"
	assert_eq "exit code" 0 "$?"
}

# Text from workers and checks (a check's output, sd_notify's STATUS=) and
# from requests reaches arborctl's human output with its control characters
# escaped, never sent to the terminal (arbord's own text log too); the
# JSON forms keep JSON's escapes and write DEL and C1 as \u escapes too.
test_human_output_escapes_control_characters() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/usr/bin/env", "python3", "$HELPERS/notifier.py", "--status-hex", "1b5b324ac29b", "--ready"]; ready = "notify";
    health = { exec = ["/bin/sh", "-c", "printf '\\\\033[31mRED\\\\177'; exit 1"]; interval = 100; failures = 1000000; }; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "a failed check" bash -c "$ARBORCTL -s $T/sock status root/w --json | jq -e '.health.ok == false and .status_text != null'" || return 1
	wait_for "the health event" bash -c "$ARBORCTL -s $T/sock events | grep -q '\"event\":\"health\"'" || return 1
	ctl status >"$T/out" || return 1
	ctl status --json >"$T/json" || return 1
	ctl events >"$T/events" || return 1
	ctl status $'root/\e[2J' 2>"$T/err"
	local f
	for f in out json events err log; do
		! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' "$T/$f" ||
			fail "a control character in $f: $(cat -v "$T/$f")" || return 1
	done
	grep -qF 'health failing (' "$T/out" && grep -qF 'exit status 1: \x1b[31mRED\x7f' "$T/out" ||
		fail "check output not escaped: $(cat "$T/out")" || return 1
	grep -qF '"\x1b[2J\u009b"' "$T/out" || fail "status text not escaped: $(cat "$T/out")" || return 1
	grep -qF 'unknown path "root/\x1b[2J"' "$T/err" || fail "error not escaped: $(cat "$T/err")" || return 1
	assert_eq "json keeps the bytes" "$(printf '\e[2J\xc2\x9b')" "$(jq -r '.children[0].status_text' "$T/json")" || return 1
	jq -e 'select(.event == "health") | .detail | contains("\u001b[31mRED\u007f")' "$T/events" >/dev/null ||
		fail "no health event with the detail: $(cat "$T/events")" || return 1
	grep -qF 'exec failed: exit status 1: \x1b[31mRED\x7f (1 in a row)' "$T/log" || fail "arbord's log: $(grep health "$T/log")"
}

test_bad_requests_get_errors_and_the_connection_goes_on() {
	small_tree
	printf '%s\n' '{"cmd":' 'null' '[1,2]' '{"nocmd":1}' '{"cmd":"fly"}' \
		'{"cmd":"stop","path":7}' '{"cmd":"stop"}' '{"cmd":"signal","path":"root/a","signal":999}' \
		'{"cmd":"status","path":"root/a"}' >"$T/req"
	raw send "$T/sock" 9 <"$T/req" >"$T/replies" || return 1
	assert_eq "error replies" 8 "$(head -n 8 "$T/replies" | jq -r 'select(.ok == false) | .error' | wc -l)" || return 1
	grep -q 'invalid JSON' "$T/replies" || fail "no JSON error" || return 1
	grep -q 'unknown command \\"fly\\"' "$T/replies" || fail "no unknown command error: $(cat "$T/replies")" || return 1
	assert_eq "connection still served" running "$(tail -n 1 "$T/replies" | jq -r .status.state)" || return 1
	# an 8 MiB line, garbage bytes, then a good request on the same connection
	{ head -c $((8 * 1024 * 1024)) /dev/zero | tr '\0' 'x'; printf '\n\x01\xff\xfe garbage\n{"cmd":"status","path":"root/a"}\n'; } >"$T/big"
	raw send "$T/sock" 3 <"$T/big" >"$T/replies" || return 1
	grep -q 'request longer than 65536 bytes' "$T/replies" || fail "no size error: $(head -c 300 "$T/replies")" || return 1
	assert_eq "after the flood" running "$(tail -n 1 "$T/replies" | jq -r .status.state)" || return 1
	# jansson's error text cuts the bad token inside a UTF-8 sequence
	# ("invalid escape near '\"p\\\xc8'"): the reply must still be JSON
	printf '{"p\\\xc8\x85"}\n{"cmd":"status","path":"root/a"}\n' >"$T/utf8"
	raw send "$T/sock" 2 <"$T/utf8" >"$T/replies" || return 1
	assert_eq "error for a cut UTF-8 token" "invalid escape" \
		"$(head -n 1 "$T/replies" | jq -r .error | grep -o 'invalid escape')" || return 1
	assert_eq "after the cut token" running "$(tail -n 1 "$T/replies" | jq -r .status.state)" || return 1
	is_state root/a running
}

test_hostile_clients_never_stall_supervision() {
	small_tree
	python3 "$HELPERS/rawclient.py" idle "$T/sock" 300 >"$T/idle" &
	local idle=$!
	wait_for "idle clients connected" grep -q ready "$T/idle" || return 1
	python3 "$HELPERS/rawclient.py" noread "$T/sock" >"$T/noread" &
	local noread=$!
	local a=$(pid_of root/a)
	kill -KILL "$a"
	wait_for "a restarted while clients misbehave" is_running_new root/a "$a" || return 1
	wait "$noread"
	grep -q 'dropped after' "$T/noread" || fail "a client that never reads was not dropped: $(cat "$T/noread")" || return 1
	kill "$idle"
	ctl status >/dev/null
}

test_socket_mode_and_peer_credentials() {
	[ "$(id -u)" = 0 ] || { echo "needs root to act as another uid"; return 77; }
	small_tree
	assert_eq "socket mode" 600 "$(stat -c %a "$T/sock")" || return 1
	chmod 755 "$T"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$ARBORCTL" -s "$T/sock" status 2>"$T/err"
	assert_eq "other uid cannot connect" 2 "$?" || return 1
	# Even with the file opened up, arbord refuses another uid in neither
	# daemon.socket_group nor read_group (SO_PEERCRED; neither is set).
	chmod 666 "$T/sock"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$ARBORCTL" -s "$T/sock" status 2>"$T/err"
	assert_eq "other uid refused" 1 "$?" || return 1
	grep -q "permission denied" "$T/err" || fail "no permission error: $(cat "$T/err")" || return 1
	ctl status >/dev/null
}

# The groups the access tests give nobody: arbor-rd (read_group) and
# arbor-ctl (socket_group).
ensure_access_groups() {
	getent group arbor-rd >/dev/null || groupadd --system arbor-rd || return 1
	getent group arbor-ctl >/dev/null || groupadd --system arbor-ctl
}
gid_of() { getent group "$1" | cut -d: -f3; }

# as_nobody GIDS CMD...: CMD as nobody, group nogroup, with only the
# supplementary groups GIDS (comma-separated; "" for none).
as_nobody() {
	local g=$1
	shift
	if [ -n "$g" ]; then
		setpriv --reuid=nobody --regid=nogroup --groups="$g" "$@"
	else
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	fi
}
actl() { local g=$1; shift; as_nobody "$g" "$ARBORCTL" -s "$T/sock" "$@"; }

# access_conf KEYS: small_tree's tree with KEYS in the daemon group (a
# reload between two of them changes no worker).
access_conf() {
	conf tree <<CONF
daemon = { $1 };
tree = { strategy = "one_for_one"; intensity = 20; children = (
  { name = "a"; command = ["/bin/sh", "-c", "trap 'echo hup >> $T/hups' HUP; while :; do sleep 0.02; done"]; },
  { name = "sub"; strategy = "one_for_all"; children = (
    { name = "b"; command = ["/bin/sleep", "1000"]; }
  ); }
); };
CONF
}

# What nobody runs must be reachable by nobody (not a shim in /root).
need_access_setup() {
	[ "$(id -u)" = 0 ] || { echo "needs root to act as another uid"; return 77; }
	as_nobody "" /usr/bin/python3 -c '' 2>/dev/null || { echo "nobody cannot run /usr/bin/python3"; return 77; }
	ensure_access_groups
}

# A reader (read_group) sees the tree and is refused control, by name, on
# a connection that goes on; before the key, nobody cannot connect at all.
test_read_group_may_look_but_not_control() {
	need_access_setup || return
	local rd a rc
	rd=$(gid_of arbor-rd)
	small_tree
	chmod 755 "$T"
	rc=0; actl "$rd" status >/dev/null 2>"$T/err" || rc=$?
	assert_eq "exit status, a root-only socket" 2 "$rc" || return 1
	grep -q "cannot reach arbord at $T/sock: Permission denied" "$T/err" || fail "no clear error: $(cat "$T/err")" || return 1
	access_conf 'read_group = "arbor-rd";'
	ctl reload >"$T/reload" || fail "reload: $(cat "$T/reload")" || return 1
	grep -qxF 'setting: daemon.read_group: (none) -> "arbor-rd"' "$T/reload" || fail "reload says: $(cat "$T/reload")" || return 1
	assert_eq "socket mode and group" "660 arbor-rd" "$(stat -c '%a %G' "$T/sock")" || return 1
	actl "$rd" status >"$T/out" 2>"$T/err" || fail "status as a reader: $(cat "$T/err")" || return 1
	grep -q '^  a  *running' "$T/out" || fail "no tree: $(cat "$T/out")" || return 1
	a=$(pid_of root/a)
	rc=0; actl "$rd" stop root/a 2>"$T/err" || rc=$?
	assert_eq "exit status of stop as a reader" 1 "$rc" || return 1
	assert_eq "its message" "arborctl: permission denied: stop needs control" "$(cat "$T/err")" || return 1
	printf '%s\n' '{"cmd":"stop","path":"root/a"}' '{"cmd":"status","path":"root/a"}' >"$T/req"
	as_nobody "$rd" /usr/bin/python3 "$HELPERS/rawclient.py" send "$T/sock" 2 <"$T/req" >"$T/replies" || return 1
	assert_eq "the refusal" '{"ok":false,"error":"permission denied: stop needs control"}' "$(head -n 1 "$T/replies")" || return 1
	assert_eq "status on the same connection" "running $a" "$(tail -n 1 "$T/replies" | jq -r '.status.state + " " + (.status.pid | tostring)')" || return 1
	actl "$rd" daemon >"$T/daemon" || return 1
	grep -qx 'access read' "$T/daemon" || fail "arborctl daemon: $(cat "$T/daemon")" || return 1
	rc=0; actl "" status >/dev/null 2>&1 || rc=$?
	assert_eq "exit status, nobody outside the group" 2 "$rc" || return 1
	assert_eq "a never stopped" "running $a" "$(json root/a '.state + " " + (.pid | tostring)')"
}

# A member of socket_group (here by gid) controls; with both groups the
# socket is open to all and arbord refuses non-members itself; a reload to
# no group makes it root's alone again.
test_socket_group_controls_and_two_groups_open_the_socket() {
	need_access_setup || return
	local rd cg rc
	rd=$(gid_of arbor-rd) cg=$(gid_of arbor-ctl)
	access_conf "socket_group = $cg;"
	start_arbord "$T/tree.conf" || return 1
	chmod 755 "$T"
	assert_eq "socket mode and group" "660 arbor-ctl" "$(stat -c '%a %G' "$T/sock")" || return 1
	actl "$cg" stop root/a 2>"$T/err" || fail "stop as a controller: $(cat "$T/err")" || return 1
	assert_eq "a stopped by a member of socket_group" stopped "$(state_of root/a)" || return 1
	rc=0; actl "$rd" status >/dev/null 2>&1 || rc=$?
	assert_eq "exit status, a reader with no read_group" 2 "$rc" || return 1
	access_conf "socket_group = \"arbor-ctl\"; read_group = \"arbor-rd\";"
	"$ARBORD" --check -c "$T/tree.conf" | tail -n 2 >"$T/check"
	printf '%s\n' "daemon.socket_group \"arbor-ctl\" (gid $cg) may control" \
		"daemon.read_group \"arbor-rd\" (gid $rd) may read" | diff - "$T/check" >&2 ||
		fail "--check says: $(cat "$T/check")" || return 1
	ctl reload >"$T/reload" || fail "reload: $(cat "$T/reload")" || return 1
	assert_eq "socket mode and group, both" "666 arbor-rd" "$(stat -c '%a %G' "$T/sock")" || return 1
	rc=0; actl "" status >/dev/null 2>"$T/err" || rc=$?
	assert_eq "exit status, in neither group" 1 "$rc" || return 1
	assert_eq "its message" "arborctl: permission denied" "$(cat "$T/err")" || return 1
	actl "$rd" status root/a >/dev/null || fail "a reader refused status" || return 1
	rc=0; actl "$rd" start root/a 2>"$T/err" || rc=$?
	assert_eq "a reader's start" "1 arborctl: permission denied: start needs control" "$rc $(cat "$T/err")" || return 1
	actl "$cg" start root/a || fail "start as a controller" || return 1
	wait_for "a running again" is_state root/a running || return 1
	actl "$rd,$cg" daemon >"$T/daemon" || return 1
	grep -qx 'access control' "$T/daemon" || fail "in both groups: $(cat "$T/daemon")" || return 1
	grep -qx 'socket_mode 0666' "$T/daemon" || fail "no socket mode: $(cat "$T/daemon")" || return 1
	access_conf ''
	ctl reload >/dev/null || return 1
	assert_eq "socket mode and group, none" "600 root" "$(stat -c '%a %G' "$T/sock")" || return 1
	rc=0; actl "$cg" status >/dev/null 2>&1 || rc=$?
	assert_eq "exit status, root's alone again" 2 "$rc"
}

# start_with_readers: arbord with arbor-rd as read_group, its socket
# reachable by nobody; rd is that group's id. (Returns 77 where the groups
# cannot be set up.)
start_with_readers() {
	need_access_setup || return
	rd=$(gid_of arbor-rd)
	access_conf 'read_group = "arbor-rd";'
	start_arbord "$T/tree.conf" || return 1
	chmod 755 "$T"
}

# held_lines: the held connection's reply has its third line (a function:
# wait_for must count the lines anew each time).
held_lines() { [ "$(wc -l <"$T/held")" -ge 3 ]; }

# Access is decided at connect: a reader's connection stays a reader's
# after a reload makes its group socket_group; a new one controls.
test_access_is_that_of_the_connection() {
	local rd
	start_with_readers || return
	printf '%s\n' '{"cmd":"daemon"}' '{"cmd":"stop","path":"root/a"}' |
		as_nobody "$rd" /usr/bin/python3 "$HELPERS/rawclient.py" later "$T/sock" "$T/go" >"$T/held" &
	wait_for "the reader connected" grep -q ready "$T/held" || return 1
	assert_eq "the reader's access" read "$(head -n 1 "$T/held" | jq -r .daemon.access)" || return 1
	access_conf 'socket_group = "arbor-rd";'
	ctl reload >/dev/null || return 1
	touch "$T/go"
	wait_for "the held connection answered" held_lines || return 1
	assert_eq "the held connection" '{"ok":false,"error":"permission denied: stop needs control"}' "$(tail -n 1 "$T/held")" || return 1
	assert_eq "a running" running "$(state_of root/a)" || return 1
	actl "$rd" stop root/a 2>"$T/err" || fail "a new connection: $(cat "$T/err")" || return 1
	assert_eq "a stopped by the new connection" stopped "$(state_of root/a)"
}

# A read group filling the control socket's 128 places takes only its
# own members' places: a connection of root's, idle meanwhile, is kept.
test_readers_cannot_crowd_out_roots_clients() {
	local rd
	start_with_readers || return
	printf '%s\n' '{"cmd":"daemon"}' '{"cmd":"status","path":"root/a"}' |
		python3 "$HELPERS/rawclient.py" later "$T/sock" "$T/go" >"$T/held" &
	wait_for "root's connection" grep -q ready "$T/held" || return 1
	as_nobody "$rd" /usr/bin/python3 "$HELPERS/rawclient.py" idle "$T/sock" 140 >"$T/idle" &
	local idle=$!
	wait_for "140 readers connected" grep -q ready "$T/idle" || return 1
	touch "$T/go"
	wait_for "root's connection answered" held_lines || return 1
	assert_eq "root's second request, after the readers" running "$(tail -n 1 "$T/held" | jq -r .status.state)" || return 1
	kill "$idle" 2>/dev/null
	wait "$idle" 2>/dev/null
	return 0
}

# A group that does not exist is an error with its line, at --check, at
# start, and at a reload, which leaves the tree and the socket as they are.
test_an_unknown_group_is_a_config_error() {
	local rc a
	conf bad <<CONF
tree = { strategy = "one_for_one"; children = ( { name = "a"; command = ["/bin/sleep", "1000"]; } ); };
daemon = {
  socket_group = "no-such-group-arbor";
  read_group = 1.5;
};
CONF
	printf '%s\n' "$T/bad.conf:3: daemon.socket_group: no group \"no-such-group-arbor\"" \
		"$T/bad.conf:4: daemon.read_group: expected a group name or a gid, got a float" >"$T/expected"
	rc=0; "$ARBORD" --check -c "$T/bad.conf" >/dev/null 2>"$T/err" || rc=$?
	assert_eq "--check exit code" 1 "$rc" || return 1
	grep -F daemon. "$T/err" | diff "$T/expected" - >&2 || fail "--check errors differ: $(cat "$T/err")" || return 1
	rc=0; "$ARBORD" -c "$T/bad.conf" -s "$T/sock" >/dev/null 2>"$T/err" || rc=$?
	assert_eq "exit code at start" 1 "$rc" || return 1
	grep -F daemon. "$T/err" | diff "$T/expected" - >&2 || fail "start errors differ: $(cat "$T/err")" || return 1
	[ ! -e "$T/sock" ] || fail "a socket was made" || return 1
	small_tree
	a=$(pid_of root/a)
	access_conf 'socket_group = "no-such-group-arbor";'
	rc=0; ctl reload >"$T/out" 2>"$T/err" || rc=$?
	assert_eq "reload exit code" 1 "$rc" || return 1
	grep -qxF "$T/tree.conf:1: daemon.socket_group: no group \"no-such-group-arbor\"" "$T/err" || fail "reload errors: $(cat "$T/err")" || return 1
	assert_eq "a untouched" "$a" "$(pid_of root/a)" || return 1
	assert_eq "the socket untouched" "600 root" "$(stat -c '%a %G' "$T/sock")" || return 1
	ctl daemon >"$T/daemon" || return 1
	! grep -q '^socket_group' "$T/daemon" || fail "a socket_group after a refused reload"
}

test_second_arbord_on_the_same_socket_is_refused() {
	small_tree
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" 2>"$T/err2"
	assert_eq "exit code" 1 "$?" || return 1
	grep -q "another arbord is running there; nothing was started" "$T/err2" || fail "no clear error: $(cat "$T/err2")" || return 1
	ctl status >/dev/null
}

test_arguments_that_are_not_utf8_are_refused_by_arborctl() {
	small_tree
	local rc=0
	ctl restart $'root/\xff' 2>"$T/err" || rc=$?
	assert_eq "exit code" 2 "$rc" || return 1
	grep -q 'argument 2 is not valid UTF-8' "$T/err" || fail "no clear error: $(cat "$T/err")" || return 1
	is_state root/a running
}

# The socket's directory must be arbord's own: one another user can write,
# or one another user made first (the /tmp/arbor-UID default), is refused
# before anything starts, naming it; and a path that names something other
# than a socket (a typo naming a file) is never removed.
test_a_socket_in_a_directory_others_control_is_refused() {
	[ "$(id -u)" = 0 ] || { echo "needs root to act as another uid"; return 77; }
	small_tree
	stop_arbord
	local rc
	mkdir -m 1777 "$T/open"
	rc=0; "$ARBORD" -c "$T/tree.conf" -s "$T/open/sock" 2>"$T/err" || rc=$?
	assert_eq "exit code, sticky 1777" 1 "$rc" || return 1
	grep -q "$T/open is writable by others (mode 1777)" "$T/err" || fail "no clear error: $(cat "$T/err")" || return 1
	mkdir -m 755 "$T/theirs" && chown nobody "$T/theirs"
	rc=0; "$ARBORD" -c "$T/tree.conf" -s "$T/theirs/sock" 2>"$T/err" || rc=$?
	assert_eq "exit code, another user's" 1 "$rc" || return 1
	grep -q "$T/theirs belongs to uid $(id -u nobody)" "$T/err" || fail "no clear error: $(cat "$T/err")" || return 1
	echo precious >"$T/precious"
	rc=0; "$ARBORD" -c "$T/tree.conf" -s "$T/precious" 2>"$T/err" || rc=$?
	assert_eq "exit code, a file at the path" 1 "$rc" || return 1
	grep -q "not a socket is there" "$T/err" || fail "no clear error: $(cat "$T/err")" || return 1
	assert_eq "the file" precious "$(cat "$T/precious")" || return 1
	echo precious >"$T/sock2.notify"
	rc=0; "$ARBORD" -c "$T/tree.conf" -s "$T/sock2" 2>"$T/err" || rc=$?
	assert_eq "exit code, a file at the notify path" 1 "$rc" || return 1
	assert_eq "the notify-named file" precious "$(cat "$T/sock2.notify")" || return 1
	[ ! -e "$T/sock2" ] || fail "the control socket was left behind" || return 1
	# the trusted case still starts, and a stale socket is replaced
	start_arbord "$T/tree.conf" && ctl status >/dev/null
}

# Pipelined requests all get their replies: statuses (answered with the
# cgroup figures by the observability thread when alone) and a metrics
# request behind them, which hands the connection over, is answered or
# refused with an error, never dropped with the replies queued before it.
test_pipelined_requests_lose_no_reply() {
	small_tree
	wait_for "observability up" sh -c "$ARBORCTL -s $T/sock metrics | grep -q arbor_child_up"
	local reqs=$(for ((i = 0; i < 300; i++)); do echo '{"cmd":"status"}'; done; echo '{"cmd":"metrics"}')
	printf '%s\n' "$reqs" | raw send "$T/sock" 301 >"$T/replies" || fail "fewer than 301 replies: $(wc -l <"$T/replies")" || return 1
	assert_eq "status replies" 300 "$(head -n 300 "$T/replies" | jq -s 'map(select(.ok and .status)) | length')" || return 1
	tail -n 1 "$T/replies" | jq -e '.metrics or (.ok == false and (.error | test("hands the connection over")))' >/dev/null ||
		fail "the last reply: $(tail -n 1 "$T/replies" | cut -c1-200)" || return 1
	# alone, it is answered
	echo '{"cmd":"metrics"}' | raw send "$T/sock" 1 | jq -e .metrics >/dev/null || fail "metrics alone"
}

# A start of many goes on in steps (arbord(8), DESCRIPTION): a status asked
# at its beginning is answered at once, not after the last worker, and a
# worker that dies meanwhile elsewhere in the tree comes back at once.
test_status_is_answered_while_a_large_start_goes_on() {
	local n=600 last=599 x
	{
		echo 'tree = { strategy = "one_for_one"; children = ('
		echo '  { name = "b"; strategy = "one_for_one"; children = ('
		echo '    { name = "x"; command = ["/bin/sleep", "1000"]; }'
		echo '  ); },'
		echo '  { name = "pool"; strategy = "one_for_one"; children = ('
		for i in $(seq 0 $((n - 1))); do
			echo "    { name = \"w$i\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; }$([ "$i" -lt $last ] && echo ,)"
		done
		echo '  ); }'
		echo '); };'
	} >"$T/tree.conf"
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "a first answer" bash -c "'$ARBORCTL' -s '$T/sock' status root/pool --json >'$T/first.json'" || return 1
	# A supervisor's states are running, stopping and stopped: the pool
	# shows running while its last worker waits for its step.
	assert_eq "the pool and its last worker, while the start goes on" "running stopped" \
		"$(jq -r '"\(.state) \(.children[-1].state)"' "$T/first.json")" || return 1
	x=$(pid_of root/b/x)
	kill -KILL "$x"
	wait_for "x back" is_running_new root/b/x "$x" || return 1
	assert_eq "the last worker when x is back" stopped "$(state_of root/pool/w$last)" || return 1
	wait_for "the last worker running" is_state root/pool/w$last running || return 1
	assert_eq "all running, each started once" "$n 0" \
		"$(ctl status root/pool --json | jq -r '[.children[] | select(.state == "running")] | "\(length) \(map(.restarts) | add)"')"
}
