# SPDX-License-Identifier: BSD-2-Clause
# Health checks (arbor.conf(5), HEALTH CHECKS): exec, tcp and http checks
# against real servers on loopback, readiness by a check, unhealthy
# workers restarted as crashes.

SERVER=$HELPERS/checkserver.py

# health_conf NAME DAEMON_KEYS CHILDREN: a one_for_one tree.
health_conf() {
	conf "$1" <<CONF
daemon = { log_dir = ""; $2 };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 100; period = 10;
  children = ( $3 ); };
CONF
}

# events_of PATH KIND: the events of that kind of the node, one per line.
events_of() {
	ctl events | jq -c --arg p "$1" --arg k "$2" 'select(.path == $p and .event == $k)'
}
has_event() { [ -n "$(events_of "$1" "$2")" ]; }
has_unhealthy_exit() { events_of "$1" exit | grep -q '"cause":"unhealthy"'; }
metric() { ctl metrics | awk -v m="$1" '$1 == m { print $2 }'; }
health_is() { [ "$(json "$1" .health.detail)" = "$2" ]; }

test_tcp_check_gates_the_next_sibling_until_the_server_listens() {
	local port listen_ns spawn_ns ev
	port=$(free_port)
	health_conf a '' "{ name = \"db\"; ready = \"health\";
	    command = [\"/usr/bin/python3\", \"$SERVER\", \"listen\", \"$port\", \"$T/go\", \"$T/listening\"];
	    health = { tcp = \"127.0.0.1:$port\"; interval = 5000; }; },
	  { name = \"web\"; command = [\"/bin/sleep\", \"1000\"]; }"
	start_arbord "$T/a.conf"
	assert_eq "db while its server is not listening" starting "$(state_of root/db)" || return 1
	assert_eq "web while db is starting" stopped "$(state_of root/web)" || return 1
	touch "$T/go"	# the server listens now, not after a time a loaded machine may outrun
	wait_for "web started" is_state root/web running || return 1
	wait_for "web's spawn event" has_event root/web spawn || return 1
	listen_ns=$(cat "$T/listening")
	spawn_ns=$(events_of root/web spawn | jq .mono_ns)
	[ "$spawn_ns" -gt "$listen_ns" ] ||
	    fail "web spawned at $spawn_ns, before db listened at $listen_ns" || return 1
	# db is ready by its check's pass: a health event, then ready
	assert_eq "db's events" "spawn exec health ready" \
	    "$(ctl events | jq -r 'select(.path == "root/db") | .event' | tr '\n' ' ' | sed 's/ $//')" || return 1
	ev=$(events_of root/db health)
	assert_eq "check" tcp "$(echo "$ev" | jq -r .check)" || return 1
	assert_eq "ok" true "$(echo "$ev" | jq -r .ok)" || return 1
	assert_eq "detail" "connected to 127.0.0.1:$port" "$(echo "$ev" | jq -r .detail)" || return 1
	assert_eq "status health.ok" true "$(json root/db .health.ok)"
}

test_http_check_turns_unhealthy_on_500_and_restarts_the_worker() {
	local port pid ev
	port=$(free_port)
	health_conf a '' "{ name = \"api\"; ready = \"health\";
	    command = [\"/usr/bin/python3\", \"$SERVER\", \"http\", \"$port\", \"$T/fail\"];
	    health = { http = \"http://localhost:$port/healthz\"; interval = 200; failures = 2; }; }"
	start_arbord "$T/a.conf"
	wait_for "api ready" is_state root/api running || return 1
	pid=$(pid_of root/api)
	assert_eq "status detail" "HTTP 200" "$(json root/api .health.detail)" || return 1
	touch "$T/fail"
	wait_for "an unhealthy exit" has_unhealthy_exit root/api || return 1
	rm -f "$T/fail"
	wait_for "a new api" is_running_new root/api "$pid" || return 1
	ev=$(events_of root/api exit)
	assert_eq "exit reason" crash "$(echo "$ev" | jq -r .reason)" || return 1
	assert_eq "stopped by" SIGTERM "$(echo "$ev" | jq -r .signal)" || return 1
	ev=$(events_of root/api health | jq -c 'select(.ok == false)')
	assert_eq "failure events (a change of result only)" 1 "$(echo "$ev" | wc -l)" || return 1
	assert_eq "failure detail" "HTTP 500: broken" "$(echo "$ev" | jq -r .detail)" || return 1
	assert_eq "check" http "$(echo "$ev" | jq -r .check)" || return 1
	has_event root/api restart || fail "no restart event" || return 1
	assert_eq "restarts" 1 "$(json root/api .restarts)" || return 1
	assert_eq "last_exit.cause" unhealthy "$(json root/api .last_exit.cause)" || return 1
	# Counted as histograms are: under the supervisor by default.
	assert_eq "arbor_child_health_failures_total" 2 \
	    "$(metric 'arbor_child_health_failures_total{path="root"}')"
}

# hanging_exec_check DAEMON_KEYS ESCAPE: an exec check that hangs, with a
# child (and with ESCAPE one in a session of its own), is killed at its
# timeout; the failure counts, nothing of it is left.
hanging_exec_check() {
	cat >"$T/check.sh" <<SH
#!/bin/sh
if mkdir "$T/first" 2>/dev/null; then
	sleep 1000 & echo \$! >>"$T/pids"
	$2
	echo \$\$ >>"$T/pids"
fi
exec sleep 1000
SH
	chmod +x "$T/check.sh"
	health_conf a "$1" "{ name = \"w\"; command = [\"/bin/sleep\", \"1000\"];
	    health = { exec = [\"$T/check.sh\"]; interval = 500; timeout = 300; failures = 1000; }; }"
	start_arbord "$T/a.conf"
	wait_for "a failed check" has_event root/w health || return 1
	local ev pid
	ev=$(events_of root/w health)
	assert_eq "ok" false "$(echo "$ev" | jq -r .ok)" || return 1
	assert_eq "detail" "timed out after 300 ms, killed" "$(echo "$ev" | jq -r .detail)" || return 1
	assert_eq "failures" 1 "$(echo "$ev" | jq -r .failures)" || return 1
	[ "$(wc -l <"$T/pids")" -ge 2 ] || fail "pids: $(cat "$T/pids")" || return 1
	for pid in $(cat "$T/pids"); do
		wait_for "check process $pid gone" dead "$pid" || return 1
	done
	assert_eq "the worker itself" running "$(state_of root/w)"
}

test_a_hanging_exec_check_is_killed_at_its_timeout_with_its_children() {
	hanging_exec_check '' 'setsid sleep 1000 & echo $! >>'"$T/pids"
}

test_a_hanging_exec_check_is_killed_with_its_group_without_cgroups() {
	hanging_exec_check 'cgroup = "off";' ''
}

test_a_check_that_outlives_its_interval_fails_once() {
	# Killed at its timeout (past its interval): the next check is due at
	# once, and waits until the killed one's cgroup is empty. It cannot
	# start before: that is no second failure, which would have made the
	# worker unhealthy (failures = 2).
	need_cgroups || return $?
	cat >"$T/check.sh" <<SH
#!/bin/sh
if mkdir "$T/first" 2>/dev/null; then
	sleep 1000 &
	exec sleep 1000
fi
SH
	chmod +x "$T/check.sh"
	health_conf a '' "{ name = \"w\"; command = [\"/bin/sleep\", \"1000\"];
	    health = { exec = [\"$T/check.sh\"]; interval = 500; timeout = 1000; failures = 2; }; }"
	start_arbord "$T/a.conf"
	wait_for "a pass after the failure" sh -c "\"$ARBORCTL\" -s $T/sock events | grep -q '\"event\":\"health\".*\"ok\":true'" || return 1
	local ev
	ev=$(events_of root/w health | jq -c 'select(.ok == false)')
	assert_eq "failure events" 1 "$(echo "$ev" | wc -l)" || return 1
	assert_eq "the failure" "timed out after 1000 ms, killed" "$(echo "$ev" | jq -r .detail)" || return 1
	assert_eq "exits" "" "$(events_of root/w exit)" || return 1
	assert_eq "failures_total" 1 "$(json root/w .health.failures_total)" || return 1
	assert_eq "the worker" running "$(state_of root/w)"
}

test_start_period_failures_do_not_count() {
	health_conf a '' '{ name = "w"; command = ["/bin/sleep", "1000"]; restart = "temporary";
	    health = { exec = ["/bin/false"]; interval = 100; failures = 1; start_period = 1500; }; }'
	start_arbord "$T/a.conf"
	wait_for "the unhealthy exit" has_unhealthy_exit root/w || return 1
	local spawn first
	spawn=$(events_of root/w spawn | jq .mono_ns)
	first=$(events_of root/w health | head -1 | jq .mono_ns)
	[ $((first - spawn)) -ge 1500000000 ] ||
	    fail "a failure counted $(((first - spawn) / 1000000)) ms after the spawn, within start_period" || return 1
	assert_eq "health events" 1 "$(events_of root/w health | wc -l)" || return 1
	assert_eq "detail" "exit status 1" "$(events_of root/w health | jq -r .detail)"
}

test_a_flapping_check_escalates_under_intensity() {
	conf a <<CONF
daemon = { log_dir = ""; };
observability = { metrics_listen = ""; };
tree = { name = "root"; strategy = "one_for_one"; intensity = 1; period = 60;
  children = ( { name = "w"; command = ["/bin/sleep", "1000"];
    health = { exec = ["/bin/false"]; interval = 50; failures = 1; }; } ); };
CONF
	expect_exit 3 "$T/a.conf" || return 1
	wait_for "the give_up line" log_has 'give_up root' || return 1
	assert_eq "unhealthy exits" 2 "$(grep -c 'exit root/w .*cause=unhealthy' "$T/log")"
}

test_a_check_that_cannot_exec_is_a_failed_check() {
	health_conf a '' '{ name = "w"; command = ["/bin/sleep", "1000"];
	    health = { exec = ["/nonexistent/check"]; interval = 100; failures = 1000; }; }'
	start_arbord "$T/a.conf"
	wait_for "a failed check" has_event root/w health || return 1
	local ev
	ev=$(events_of root/w health)
	assert_eq "errno" 2 "$(echo "$ev" | jq -r .errno)" || return 1
	assert_eq "detail" "execve /nonexistent/check: No such file or directory" \
	    "$(echo "$ev" | jq -r .detail)" || return 1
	assert_eq "the worker" running "$(state_of root/w)" || return 1
	alive "$ARBORD_PID" || fail "arbord died"
}

test_a_server_that_accepts_and_never_answers_is_a_timeout() {
	local port
	port=$(free_port)
	health_conf a '' "{ name = \"mute\"; command = [\"/usr/bin/python3\", \"$SERVER\", \"mute\", \"$port\"]; },
	  { name = \"w\"; command = [\"/bin/sleep\", \"1000\"];
	    health = { http = \"http://127.0.0.1:$port/\"; interval = 400; timeout = 300; failures = 1000; }; },
	  { name = \"t\"; command = [\"/bin/sleep\", \"1000\"];
	    health = { tcp = \"127.0.0.1:$port\"; interval = 400; }; }"
	start_arbord "$T/a.conf"
	wait_for "a timed-out http check" health_is root/w "timed out after 300 ms" || return 1
	ctl status | grep -E '^  w .*  health failing \([0-9]+ in a row\): timed out after 300 ms$' >/dev/null ||
	    fail "status: $(ctl status)" || return 1
	# a connect is all a tcp check asks
	wait_for "the tcp check's pass" health_is root/t "connected to 127.0.0.1:$port" || return 1
	alive "$ARBORD_PID" || fail "arbord died"
}

test_a_100_mb_response_is_cut_off_not_buffered() {
	local port sent rss
	port=$(free_port)
	health_conf a '' "{ name = \"flood\"; command = [\"/usr/bin/python3\", \"$SERVER\", \"flood\", \"$port\", \"$T/sent\"]; },
	  { name = \"w\"; command = [\"/bin/sleep\", \"1000\"];
	    health = { http = \"http://127.0.0.1:$port/\"; interval = 300; timeout = 5000; }; }"
	start_arbord "$T/a.conf"
	wait_for "the check's pass" health_is root/w "HTTP 200 (body cut off at 64 KiB)" || return 1
	wait_for "the server's count" test -s "$T/sent" || return 1
	sent=$(cat "$T/sent")
	[ "$sent" -lt $((20 * 1024 * 1024)) ] ||
	    fail "the server sent $sent bytes of the 100 MB body" || return 1
	if ! sanitized; then
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$ARBORD_PID/status")
		[ "$rss" -lt 65536 ] || fail "arbord's RSS is $rss KiB" || return 1
	fi
	true
}

test_a_worker_that_dies_ends_its_check_and_the_exit_is_its_own() {
	# A check always under way (0.2 s each, every 20 ms) when the worker
	# dies: the check ends with it, and the exit stays a plain crash,
	# never an "unhealthy" one made of the check killed with the worker.
	health_conf a '' '{ name = "w"; command = ["/bin/sh", "-c", "sleep 0.3; exit 1"];
	    health = { exec = ["/bin/sleep", "0.2"]; interval = 20; timeout = 1000; failures = 1; }; }'
	start_arbord "$T/a.conf"
	wait_for "five exits" sh -c "[ \$(\"$ARBORCTL\" -s $T/sock events | grep -c '\"event\":\"exit\"') -ge 5 ]" || return 1
	local exits
	exits=$(events_of root/w exit)
	assert_eq "exits that are not status 1" "" \
	    "$(echo "$exits" | jq -c 'select(.status != 1 or .cause != null)')" || return 1
	assert_eq "failed checks" "" "$(events_of root/w health | jq -c 'select(.ok == false)')"
}

test_an_exec_check_runs_as_its_worker() {
	# its user, its environment (and ARBOR_PATH, no NOTIFY_SOCKET), a
	# cgroup below its own
	mkdir -m 1777 "$T/seen"
	chmod 755 "$T"
	cat >"$T/check.sh" <<'SH'
#!/bin/sh
echo "$(id -un) $MODE $ARBOR_PATH ${NOTIFY_SOCKET:-none} $(cut -d: -f3 /proc/self/cgroup | grep '^/arbor')" >"$SEEN/out"
SH
	chmod 755 "$T/check.sh"
	health_conf a '' "{ name = \"w\"; command = [\"/bin/sleep\", \"1000\"]; user = \"nobody\";
	    env = [\"MODE=prod\", \"SEEN=$T/seen\"];
	    health = { exec = [\"$T/check.sh\"]; interval = 100; }; }"
	start_arbord "$T/a.conf"
	wait_for "the check's pass" health_is root/w "exit status 0" || return 1
	local seen
	read -r -a seen <"$T/seen/out"
	assert_eq "user" nobody "${seen[0]}" || return 1
	assert_eq "env" prod "${seen[1]}" || return 1
	assert_eq "ARBOR_PATH" root/w "${seen[2]}" || return 1
	assert_eq "NOTIFY_SOCKET" none "${seen[3]}" || return 1
	case ${seen[4]:-} in
	*/root/w/health) ;;
	*) fail "the check's cgroup: ${seen[4]:-none}" || return 1 ;;
	esac
}

# storm_conf NAME CHAOS1 CHAOS2 JAM DEAD: the misbehaving servers, and 12
# workers whose http checks (at random intervals and timeouts) go to them
# or to a port nobody listens on.
storm_conf() {
	local i port kids=""
	for ((i = 0; i < 12; i++)); do
		case $((RANDOM % 6)) in
		0) port=$2 ;; 1) port=$3 ;; 2 | 3 | 4) port=$4 ;; *) port=$5 ;;
		esac
		kids+="{ name = \"w$i\"; command = [\"/bin/sleep\", \"1000\"];
		    health = { http = \"http://127.0.0.1:$port/$RANDOM\";
		    interval = $((50 + RANDOM % 251)); timeout = $((40 + RANDOM % 961)); failures = 1000; }; },"
	done
	health_conf "$1" '' "{ name = \"chaos1\"; command = [\"/usr/bin/python3\", \"$SERVER\", \"chaos\", \"$2\"]; },
	  { name = \"chaos2\"; command = [\"/usr/bin/python3\", \"$SERVER\", \"chaos\", \"$3\"]; },
	  { name = \"jam\"; command = [\"/usr/bin/python3\", \"$SERVER\", \"jam\", \"$4\"]; },
	  ${kids%,}"
}

test_a_reload_storm_of_http_checks_against_misbehaving_servers() {
	# Each reload restarts the workers whose check changed: their checks
	# are cancelled midway, in every state of a transfer, while others
	# start, end and time out in the same batches of the checks thread.
	# A check cancelled while it connects has its socket closed by libcurl
	# before libcurl says so; fdholder.py keeps that socket open meanwhile,
	# as another holder of the descriptor would, and the jam server makes
	# it ready a second later. The sockets are the checks helper's
	# (arbor-checks), which must neither crash nor leak them.
	local p1 p2 jam dead end fds hp
	read -r p1 p2 jam dead < <(python3 -c 'import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
	storm_conf a "$p1" "$p2" "$jam" "$dead"
	start_arbord "$T/a.conf"
	wait_for "the checks helper" helper_pid checks || return 1
	hp=$(helper_pid checks)
	fds=$(min_fds "$hp")
	python3 "$HELPERS/fdholder.py" "$hp" "$jam" 2 "$T/held" &
	end=$(($(now_us) + 6000000))
	while [ "$(now_us)" -lt "$end" ]; do
		storm_conf a "$p1" "$p2" "$jam" "$dead"
		ctl reload >/dev/null || fail "reload refused" || return 1
		sleep 0.5
	done
	alive "$ARBORD_PID" || fail "arbord died" || return 1
	assert_eq "the checks helper's pid" "$hp" "$(helper_pid checks)" || return 1
	[ "$(cat "$T/held" 2>/dev/null || echo 0)" -gt 0 ] ||
	    fail "fdholder.py held no socket: the fault was not injected" || return 1
	assert_eq "workers running" 15 "$(ctl status --json | jq '[.. | objects | select(.state == "running" and .pid)] | length')" || return 1
	# Each socket of curl's is watched through a duplicate: none is left
	# behind (12 checks under way at most, two descriptors each).
	[ "$(min_fds "$hp")" -le $((fds + 24)) ] ||
	    fail "the helper's descriptors: $fds before, $(min_fds "$hp") after" || return 1
	stop_arbord || fail "arbord's exit: $?"
}
