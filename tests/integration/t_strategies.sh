# SPDX-License-Identifier: BSD-2-Clause
# Each strategy on real processes (arbord(8)).

three_children() {
	conf tree <<CONF
tree = { strategy = "$1"; intensity = 10; children = (
  { name = "a"; command = ["/bin/sleep", "1000"]; },
  { name = "b"; command = ["/bin/sleep", "1000"]; },
  { name = "c"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf"
	A=$(pid_of root/a) B=$(pid_of root/b) C=$(pid_of root/c)
}

# spawn lines of the log after line $1, as "a b c"
spawn_order() { tail -n +"$1" "$T/log" | awk '$3 == "spawn" { sub("root/", "", $4); printf "%s ", $4 }'; }
stop_order() { tail -n +"$1" "$T/log" | awk '$3 == "stop" { sub("root/", "", $4); printf "%s ", $4 }'; }

test_one_for_one_restarts_only_the_crashed_child() {
	three_children one_for_one
	kill -KILL "$B"
	wait_for "b restarted" is_running_new root/b "$B" || return 1
	assert_eq "a pid" "$A" "$(pid_of root/a)" || return 1
	assert_eq "c pid" "$C" "$(pid_of root/c)" || return 1
	assert_eq "b restarts" 1 "$(json root/b .restarts)" || return 1
	assert_eq "b last exit" "crash SIGKILL" "$(json root/b '"\(.last_exit.reason) \(.last_exit.signal)"')"
}

test_one_for_all_restarts_all_in_order() {
	three_children one_for_all
	local mark=$(($(wc -l <"$T/log") + 1))
	kill -KILL "$B"
	wait_for "c restarted" is_running_new root/c "$C" || return 1
	wait_for "a restarted" is_running_new root/a "$A" || return 1
	assert_eq "stop order" "c a " "$(stop_order $mark)" || return 1
	assert_eq "start order" "a b c " "$(spawn_order $mark)" || return 1
	dead "$A" && dead "$C" || fail "old processes survive"
}

test_rest_for_one_restarts_exactly_the_later_siblings() {
	three_children rest_for_one
	local mark=$(($(wc -l <"$T/log") + 1))
	kill -KILL "$B"
	wait_for "c restarted" is_running_new root/c "$C" || return 1
	wait_for "b restarted" is_running_new root/b "$B" || return 1
	assert_eq "a keeps its pid" "$A" "$(pid_of root/a)" || return 1
	assert_eq "start order" "b c " "$(spawn_order $mark)" || return 1
	assert_eq "a restarts" 0 "$(json root/a .restarts)"
}

test_simple_one_for_one_dynamic_children() {
	conf pool <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "conns"; strategy = "simple_one_for_one"; max_children = 2;
    template = { command = ["/bin/sh", "-c", "echo \"\$@\" > $T/args.\$(basename \$ARBOR_PATH); exec sleep 1000", "sh"];
                 restart = "transient"; }; }
); };
CONF
	start_arbord "$T/pool.conf"
	assert_eq "starts empty" 0 "$(json root/conns '.children | length')" || return 1
	assert_eq "first" root/conns/child.1 "$(ctl start-child root/conns x1 y1)" || return 1
	assert_eq "second" root/conns/child.2 "$(ctl start-child root/conns)" || return 1
	ctl start-child root/conns 2>"$T/err" && fail "max_children not enforced"
	grep -q "max_children" "$T/err" || fail "no clear error: $(cat "$T/err")"
	wait_for "args written" test -s "$T/args.child.1" || return 1
	assert_eq "args appended" "x1 y1" "$(cat "$T/args.child.1")" || return 1
	local p1=$(pid_of root/conns/child.1)
	kill -KILL "$p1"
	wait_for "child.1 restarted" is_running_new root/conns/child.1 "$p1" || return 1
	ctl terminate-child root/conns/child.2 || return 1
	wait_for "child.2 removed" bash -c "! $ARBORCTL -s $T/sock status root/conns/child.2"
	assert_eq "next name" root/conns/child.3 "$(ctl start-child root/conns)"
}
