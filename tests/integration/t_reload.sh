# SPDX-License-Identifier: BSD-2-Clause
# Live reload: arborctl reload and SIGHUP (arborctl(8)).

v1() {
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "keep"; command = ["/bin/sleep", "1000"]; },
  { name = "gone"; command = ["/bin/sleep", "1001"]; },
  { name = "change"; command = ["/bin/sh", "-c", "echo \$MODE > $T/mode; exec sleep 1000"]; env = ["MODE=one"]; },
  { name = "pool"; strategy = "simple_one_for_one"; template = { command = ["/bin/sleep", "1000"]; }; }
); };
CONF
}

v2() {
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; intensity = 7; children = (
  { name = "keep"; command = ["/bin/sleep", "1000"]; },
  { name = "added"; command = ["/bin/sleep", "1002"]; },
  { name = "change"; command = ["/bin/sh", "-c", "echo \$MODE > $T/mode; exec sleep 1000"]; env = ["MODE=two"]; },
  { name = "pool"; strategy = "simple_one_for_one"; template = { command = ["/bin/sleep", "1000"]; }; }
); };
CONF
}

test_reload_adds_removes_changes_keeps() {
	v1
	start_arbord "$T/tree.conf"
	ctl start-child root/pool >/dev/null || return 1
	wait_for "mode one" grep -qx one "$T/mode" || return 1
	local keep=$(pid_of root/keep) gone=$(pid_of root/gone) change=$(pid_of root/change) dyn=$(pid_of root/pool/child.1)
	v2
	ctl reload >"$T/out" || fail "reload failed" || return 1
	cat >"$T/expected" <<EXP
added: root/added
removed: root/gone
changed: root/change
updated: root
EXP
	diff "$T/expected" "$T/out" >&2 || fail "reload summary differs" || return 1
	wait_for "gone is gone" bash -c "! $ARBORCTL -s $T/sock status root/gone" || return 1
	dead "$gone" || fail "removed worker still running" || return 1
	wait_for "added running" is_state root/added running || return 1
	wait_for "change restarted" is_running_new root/change "$change" || return 1
	wait_for "mode two" grep -qx two "$T/mode" || return 1
	assert_eq "change is no crash" "shutdown 0" "$(json root/change '"\(.last_exit.reason) \(.restarts)"')" || return 1
	assert_eq "unchanged keeps its pid" "$keep" "$(pid_of root/keep)" || return 1
	assert_eq "dynamic child kept" "$dyn" "$(pid_of root/pool/child.1)" || return 1
	assert_eq "order of the new file" "keep added change pool" \
		"$(ctl status --json | jq -r '[.children[] | .path | split("/")[1]] | join(" ")')" || return 1
	wait_for "the reload event in the log" log_has "reload root added=root/added removed=root/gone changed=root/change updated=root"
}

test_invalid_reload_changes_nothing() {
	v1
	start_arbord "$T/tree.conf"
	local before=$(ctl status --json | jq -c '[.. | .pid? // empty]')
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "keep"; command = ["/bin/sleep", "1000"]; restart = "sometimes"; },
  { name = "x"; command = ["relative"]; }
); };
CONF
	ctl reload 2>"$T/err"
	assert_eq "exit code" 1 "$?" || return 1
	grep -qx "$T/tree.conf:2: root/keep: unknown restart type \"sometimes\"" "$T/err" || fail "first error missing: $(cat "$T/err")" || return 1
	grep -qx "$T/tree.conf:3: root/x: command\[0\]: \"relative\" is not an absolute path" "$T/err" || fail "second error missing" || return 1
	grep -q "configuration refused, nothing changed" "$T/err" || fail "no summary line" || return 1
	assert_eq "same processes" "$before" "$(ctl status --json | jq -c '[.. | .pid? // empty]')" || return 1
	wait_for "the errors in the log" log_has "arborctl reload: $T/tree.conf:2: root/keep: unknown restart type"
	# A syntax error is refused the same way.
	echo 'tree = {' >"$T/tree.conf"
	ctl reload 2>"$T/err"
	assert_eq "exit code" 1 "$?" || return 1
	grep -q "syntax error" "$T/err" || fail "no syntax error"
}

test_sighup_reloads() {
	v1
	start_arbord "$T/tree.conf"
	local gone=$(pid_of root/gone)
	v2
	kill -HUP "$ARBORD_PID"
	wait_for "added by SIGHUP" is_state root/added running || return 1
	wait_for "gone stopped" dead "$gone" || return 1
	# A broken file on SIGHUP is logged and changes nothing.
	echo 'tree = {' >"$T/tree.conf"
	kill -HUP "$ARBORD_PID"
	wait_for "refusal logged" log_has "SIGHUP: .* refused, nothing changed" || return 1
	is_state root/added running
}

# A reload that re-adds a child still stopping keeps it.
test_readding_a_child_still_stopping_keeps_it() {
	local a=$T/a.conf b=$T/b.conf
	cat >"$a" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "x"; command = ["/bin/sh", "-c", "trap '' TERM; echo \$\$ > $T/x.pid; while :; do sleep 0.05; done"]; shutdown = 3000; },
  { name = "y"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	cat >"$b" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "y"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	cp "$a" "$T/tree.conf"
	start_arbord "$T/tree.conf"
	wait_for "x running" is_state root/x running || return 1
	local old=$(pid_of root/x)
	cp "$b" "$T/tree.conf"
	ctl reload | grep -qx "removed: root/x" || fail "x not removed" || return 1
	assert_eq "x stopping" "stopping true" "$(json root/x '"\(.state) \(.removing)"')" || return 1
	ctl restart root/x 2>"$T/err" && fail "restart of a removed child accepted" && return 1
	grep -q "being removed" "$T/err" || fail "restart refusal: $(cat "$T/err")" || return 1
	cp "$a" "$T/tree.conf"
	ctl reload | grep -qx "added: root/x" || fail "x not re-added" || return 1
	# the old process is killed at its shutdown time; x comes back
	wait_for "x back with a new pid" is_running_new root/x "$old" || return 1
	dead "$old" || fail "old x still alive" || return 1
	assert_eq "x kept" "x y" "$(ctl status --json | jq -r '[.children[] | .path | split("/")[1]] | join(" ")')" || return 1
	assert_eq "not removing" "null" "$(json root/x .removing)"
}

# A reload that removes a supervisor removes everything below it: its
# workers' health checks (one of them used to stay behind, pointing at the
# freed worker, and arbord wrote into it at shutdown) and their series in
# the metrics (arbor_child_up of a removed worker stayed at 0 forever).
test_removing_a_supervisor_removes_its_workers_checks_and_series() {
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = (
  { name = "keep"; command = ["/bin/sleep", "1000"]; },
  { name = "sub"; strategy = "one_for_one"; children = (
    { name = "w"; command = ["/bin/sleep", "1000"];
      health = { exec = ["/bin/true"]; interval = 100; }; }
  ); }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	has_series() { ctl metrics | grep -q "arbor_child_up{path=\"$1\"}"; }
	wait_for "root/sub/w's series" has_series root/sub/w || return 1
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = (
  { name = "keep"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	ctl reload >/dev/null || return 1
	wait_for "root/sub gone" sh -c "! $ARBORCTL -s $T/sock status root/sub >/dev/null 2>&1" || return 1
	wait_for "root/sub/w's series gone" sh -c "! $ARBORCTL -s $T/sock metrics | grep -q 'path=\"root/sub'" || return 1
	has_series root/keep || fail "root/keep's series went too" || return 1
	stop_arbord
	assert_eq "arbord's exit code" 0 "$?" || return 1
	! grep -q "AddressSanitizer\|runtime error" "$T/log" || fail "sanitizer: $(grep -m1 -A3 ERROR "$T/log")"
}

# A reload of daemon.log_dir to "" keeps worker output in memory only: the
# lines held while the last file was compressed go there too, never to
# /<tree>/<worker>/ (a path made from ""). The summary lists every changed
# daemon key, and which apply only at the next start.
test_reload_of_log_dir_to_memory_only() {
	local tree=arbor-it-$$
	logs_conf() {
		conf tree <<CONF
daemon = { log_dir = "$1"; log_max_bytes = 4096; log_keep = $2; };
observability = { metrics_listen = ""; event_log_keep = $3; };
tree = { name = "$tree"; strategy = "one_for_one"; children = (
  { name = "spew"; command = ["/usr/bin/yes", "a line of a hundred bytes or so, written again and again by yes, to fill a log fast"]; }
); };
CONF
	}
	logs_conf "$T/logs" 2 5
	start_arbord "$T/tree.conf" || return 1
	# Three rounds: lines are held only while a file is being compressed,
	# which with yes writing is most of the time, but not always.
	local i
	for i in 1 2 3; do
		wait_for "a rotated log" test -e "$T/logs/$tree/spew/current.1.gz" || return 1
		logs_conf "" 3 4
		ctl reload >"$T/out" || fail "reload failed" || return 1
		cat >"$T/expected" <<EXP
setting: daemon.log_dir: "$T/logs" -> ""
setting: daemon.log_keep: 2 -> 3
warning: observability.event_log_keep changed: it applies at the next start of arbord; the running value stays
EXP
		diff "$T/expected" "$T/out" >&2 || { rm -rf "/$tree"; fail "reload summary differs"; return 1; }
		wait_for "lines in memory" bash -c "$ARBORCTL -s $T/sock logs $tree/spew -n 1 | grep -q 'out a line'" ||
			{ rm -rf "/$tree"; return 1; }
		if [ -e "/$tree" ]; then
			rm -rf "/$tree"
			fail "lines written under /$tree"
			return 1
		fi
		rm -f "$T/logs/$tree/spew/current.1.gz"
		logs_conf "$T/logs" 2 5
		ctl reload >/dev/null || return 1
	done
	wait_for "the change logged" log_has "arborctl reload: daemon.log_dir: \"$T/logs\" -> \"\" (worker output is kept in memory only)" || return 1
	# The JSON reply has each key, its values and whether it waits for a restart.
	logs_conf "" 2 5
	printf '{"cmd":"reload"}\n' | python3 "$HELPERS/rawclient.py" send "$T/sock" 1 >"$T/reply" || return 1
	assert_eq "settings in JSON" "daemon.log_dir \"$T/logs\" \"\" false" \
		"$(jq -r '.reload.settings[] | "\(.key) \(.from) \(.to) \(.restart)"' "$T/reply")"
}
