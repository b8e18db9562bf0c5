# SPDX-License-Identifier: BSD-2-Clause
# Sockets held by arbord, the fd store and readiness by fd (arbor.conf(5):
# SOCKETS; arbord(8): SOCKETS AND THE FD STORE).

sw() { argv_json /usr/bin/python3 "$HELPERS/sockworker.py" "$@"; }

# ask PORT: the line a server on 127.0.0.1:PORT answers with.
ask() {
	python3 -c 'import socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5); print(s.makefile().readline().strip())' "$1"
}
# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)' "$1" 2>/dev/null
}

# fd_links PID: the targets of PID's open fds, one a line.
fd_links() {
	local f
	for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null
}

test_the_protocol_is_systemds() {
	ensure_test_user || return 1
	local port=$(free_port)
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "web"; command = $(sw --report "$T/r.json");
    sockets = ( { listen = "127.0.0.1:$port"; name = "http"; backlog = 64; },
                { listen = "$T/u.sock"; mode = "0660"; owner = "arbor-it"; group = "arbor-it-sup"; },
                { listen = "@arbor-t-$$-$port"; type = "dgram"; name = "logs"; } ); }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the worker's report" test -s "$T/r.json" || return 1
	local pid=$(pid_of root/web)
	assert_eq "LISTEN_PID" "$pid" "$(jq -r .listen_pid "$T/r.json")" || return 1
	assert_eq "LISTEN_FDS" 3 "$(jq -r .listen_fds "$T/r.json")" || return 1
	assert_eq "LISTEN_FDNAMES, in order" "http:web:logs" "$(jq -r .names "$T/r.json")" || return 1
	assert_eq "fds 3 and 4 listen" "1 1" "$(jq -r '[.fds[0].listening, .fds[1].listening] | join(" ")' "$T/r.json")" || return 1
	assert_eq "families and types" "AF_INET SOCK_STREAM AF_UNIX SOCK_STREAM AF_UNIX SOCK_DGRAM" \
		"$(jq -r '[.fds[] | .family, .type] | join(" ")' "$T/r.json")" || return 1
	assert_eq "the unix socket's mode and owner" "srw-rw---- arbor-it arbor-it-sup" \
		"$(stat -c '%A %U %G' "$T/u.sock")" || return 1
	# Only what is passed: nothing else of arbord's past fd 5.
	[ -z "$(ls /proc/"$pid"/fd | awk '$1 > 5 && $1 < 255')" ] || {
		ls -l /proc/"$pid"/fd >&2; fail "the worker got more than fds 0-5"; return 1; }
	ctl status root/web --json | jq -e '[.sockets[].name] == ["http", "web", "logs"]' >/dev/null ||
		fail "status does not list the held sockets" || return 1
}

# Connections wait in the backlog of the socket arbord holds while the
# server is restarted: none is refused.
test_a_crashing_server_refuses_no_connection() {
	local port=$(free_port) own=$(free_port)
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 1000; period = 1; children = (
  { name = "held"; command = $(sw --serve --crash-after 200);
    sockets = ( { listen = "127.0.0.1:$port"; } ); },
  { name = "own"; command = $(sw --serve --bind "$own" --crash-after 200); }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "both serving" sh -c "$(declare -f ask); ask $port | grep -q pong && ask $own | grep -q pong" || return 1
	python3 "$HELPERS/connloop.py" "$port" 10 1 >"$T/held.json" &
	local c1=$!
	python3 "$HELPERS/connloop.py" "$own" 10 1 >"$T/own.json"
	wait "$c1"
	echo "report: held socket: $(cat "$T/held.json"); restarts $(json root/held .restarts)"
	echo "report: own socket:  $(cat "$T/own.json"); restarts $(json root/own .restarts)"
	[ "$(json root/held .restarts)" -ge 20 ] || fail "the server did not crash every 200 ms" || return 1
	assert_eq "refused with the held socket" 0 "$(jq .refused "$T/held.json")" || return 1
	assert_eq "every connection answered" "$(jq .attempts "$T/held.json")" "$(jq .answered "$T/held.json")" || return 1
	[ "$(jq .refused "$T/own.json")" -gt 0 ] || fail "a server binding its own port was never refused" || return 1
}

test_the_fd_store_outlives_restarts_not_a_stop() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 100; children = (
  { name = "w"; command = $(sw --counter "$T/count"); fd_store_max = 4; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the first count" grep -qx 1 "$T/count" || return 1
	wait_for "the counter stored" sh -c "'$ARBORCTL' -s '$T/sock' status root/w --json | jq -e '.fd_store == [\"counter\"]'" || return 1
	local i p
	for i in 2 3 4 5 6; do
		p=$(pid_of root/w)
		kill -KILL "$p"
		wait_for "count $i after a SIGKILL" grep -qx "$i" "$T/count" || return 1
	done
	ctl stop root/w >/dev/null || return 1
	wait_for "stopped" is_state root/w stopped || return 1
	assert_eq "the store after a stop" "[]" "$(json root/w '.fd_store | tojson')" || return 1
	ctl start root/w >/dev/null || return 1
	wait_for "counting from 0 after stop and start" grep -qx 1 "$T/count" || return 1
}

test_a_stored_fd_whose_peer_closed_is_dropped() {
	mkdir "$T/kept" || return 1
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --store-pair --store-dir "$T/kept"); fd_store_max = 8; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the directory stored" sh -c "'$ARBORCTL' -s '$T/sock' status root/w --json | jq -e '.fd_store | index(\"dir\")'" || return 1
	wait_for "the pair dropped once its peer closed" sh -c "'$ARBORCTL' -s '$T/sock' status root/w --json | jq -e '.fd_store == [\"dir\"]'" || return 1
	wait_for "the drop said" log_has 'stored fd "pair" dropped: its peer hung up' || return 1
	# A directory is held as asked, and closed when the store is emptied.
	fd_links "$ARBORD_PID" | grep -qx "$T/kept" || fail "arbord does not hold the directory" || return 1
	ctl stop root/w >/dev/null || return 1
	wait_for "the directory closed after the stop" sh -c "! ls -l /proc/$ARBORD_PID/fd | grep -q ' $T/kept\$'" || return 1
}

test_an_fdstore_flood_is_bounded() {
	# No metrics listener: the default port, taken by another lane's
	# arbord, is retried with backoff, and its socket would count here.
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --flood 10000); fd_store_max = 3; ready = "notify"; ready_timeout = "infinity"; }
); };
CONF
	start_arbord "$T/tree.conf"
	local before=$(min_fds "$ARBORD_PID")
	wait_for "the flood sent" sh -c "'$ARBORCTL' -s '$T/sock' status root/w --json | jq -e '.status_text == \"flooded\"'" || return 1
	assert_eq "stored" 3 "$(json root/w '.fd_store | length')" || return 1
	local after=$(min_fds "$ARBORD_PID")
	echo "report: arbord's fds: $before before the flood, $after after"
	[ "$after" -le $((before + 3)) ] || fail "arbord's fds grew from $before to $after" || return 1
	wait_for "the refusal said" log_has 'refused, it holds 3 of fd_store_max 3' || return 1
}

test_ready_fd_gates_the_next_sibling() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "db"; command = $(sw --ready-fd 5 --ready-when "$T/db-ready"); ready = "fd"; ready_fd = 5; },
  { name = "app"; command = ["/bin/sleep", "1000"]; },
  { name = "mute"; command = $(sw); ready = "fd"; ready_fd = 3; ready_timeout = 300; }
); };
CONF
	start_arbord "$T/tree.conf"
	assert_eq "db before its newline" starting "$(state_of root/db)" || return 1
	assert_eq "app waits for db" stopped "$(state_of root/app)" || return 1
	touch "$T/db-ready"
	wait_for "app started" is_state root/app running || return 1
	assert_eq "db ready" running "$(state_of root/db)" || return 1
	local ready_line=$(grep -n 'ready root/db' "$T/log" | cut -d: -f1)
	local app_line=$(grep -n 'spawn root/app' "$T/log" | cut -d: -f1)
	[ -n "$ready_line" ] && [ "$ready_line" -lt "$app_line" ] || fail "app spawned before db was ready" || return 1
	wait_for "mute's ready_timeout" sh -c "'$ARBORCTL' -s '$T/sock' status root/mute --json | jq -e '.last_exit.cause == \"ready_timeout\"'" || return 1
}

test_a_reload_keeps_the_same_socket() {
	local port=$(free_port) port2=$(free_port)
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "web"; command = $(sw --report "$T/r.json"); env = ["V=1"];
    sockets = ( { listen = "127.0.0.1:$port"; }, { listen = "$T/u.sock"; } ); },
  { name = "old"; command = $(sw); sockets = ( { listen = "127.0.0.1:$port2"; } ); }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the first report" test -s "$T/r.json" || return 1
	local pid=$(pid_of root/web) inodes=$(jq -c '[.fds[].inode]' "$T/r.json")
	rm "$T/r.json"
	# web changes (env): restarted, with the same sockets; old is removed.
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "web"; command = $(sw --report "$T/r.json"); env = ["V=2"];
    sockets = ( { listen = "127.0.0.1:$port"; }, { listen = "$T/u.sock"; } ); }
); };
CONF
	ctl reload >/dev/null || return 1
	wait_for "the new report" test -s "$T/r.json" || return 1
	[ "$(pid_of root/web)" != "$pid" ] || fail "web was not restarted" || return 1
	assert_eq "the same sockets (inodes)" "$inodes" "$(jq -c '[.fds[].inode]' "$T/r.json")" || return 1
	wait_for "the removed worker's socket closed" sh -c "$(declare -f listening); ! listening $port2" || return 1
	# Another backlog: the same socket, the new backlog applied, the
	# worker restarted. Another path: a new socket.
	rm "$T/r.json"
	pid=$(pid_of root/web)
	sed -i "s|listen = \"$T/u.sock\"; }|listen = \"$T/u.sock\"; backlog = 7; }|" "$T/tree.conf"
	ctl reload >/dev/null || return 1
	wait_for "the report after the change" test -s "$T/r.json" || return 1
	[ "$(pid_of root/web)" != "$pid" ] || fail "web was not restarted" || return 1
	assert_eq "the same sockets, the backlog changed" "$inodes" "$(jq -c '[.fds[].inode]' "$T/r.json")" || return 1
	assert_eq "the backlog applied" 7 "$(ss -xl | awk -v p="$T/u.sock" '$5 == p { print $4 }')" || return 1
	rm "$T/r.json"
	sed -i "s|$T/u.sock|$T/v.sock|" "$T/tree.conf"
	ctl reload >/dev/null || return 1
	wait_for "the report after the move" test -s "$T/r.json" || return 1
	assert_eq "the TCP socket kept" "$(echo "$inodes" | jq '.[0]')" "$(jq '.fds[0].inode' "$T/r.json")" || return 1
	[ "$(echo "$inodes" | jq '.[1]')" != "$(jq '.fds[1].inode' "$T/r.json")" ] || fail "a socket at a new path is the old one" || return 1
	test -S "$T/v.sock" || fail "no socket at the new path"
}

test_a_pools_children_share_its_sockets() {
	local port=$(free_port)
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "pool"; strategy = "simple_one_for_one";
    template = { name = "srv"; command = ["/bin/sh", "-c", "exec python3 $HELPERS/sockworker.py --report $T/r.\$\$ --serve"];
                 sockets = ( { listen = "127.0.0.1:$port"; } ); }; }
); };
CONF
	start_arbord "$T/tree.conf"
	ctl start-child root/pool >/dev/null || return 1
	ctl start-child root/pool >/dev/null || return 1
	wait_for "two reports" sh -c "[ \$(ls $T | grep -c '^r\.[0-9]*\$') -eq 2 ]" || return 1
	assert_eq "one socket, both children" 1 "$(cat "$T"/r.[0-9]* | jq -s '[.[].fds[0].inode] | unique | length')" || return 1
	ask "$port" | grep -q pong || fail "nobody answers on the pool's socket"
}

test_bad_sockets_are_errors_with_their_line() {
	cat >"$T/bad.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/true"];
    sockets = ( { listen = "localhost:80"; },
                { listen = "127.0.0.1:99999"; type = "raw"; } ); }
); };
CONF
	"$ARBORD" --check -c "$T/bad.conf" >"$T/out" 2>"$T/err"
	assert_eq "--check exit code" 1 "$?" || return 1
	grep -q "bad.conf:3: root/w: sockets\[0\].listen: \"localhost:80\": HOST must be an IPv4 address" "$T/err" || { cat "$T/err" >&2; fail "no error for a name"; return 1; }
	grep -q "bad.conf:4: root/w: sockets\[1\].listen: \"127.0.0.1:99999\": PORT must be a number 1-65535" "$T/err" || { cat "$T/err" >&2; fail "no error for the port"; return 1; }
	grep -q "bad.conf:4: root/w: sockets\[1\].type: expected \"stream\", \"dgram\" or \"seqpacket\", got \"raw\"" "$T/err" || { cat "$T/err" >&2; fail "no error for the type"; return 1; }
	# A port in use: an error at start with its line, and nothing runs.
	python3 -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/port" &
	local squat=$!
	wait_for "the squatter" test -s "$T/port" || return 1
	local port=$(cat "$T/port")
	cat >"$T/busy.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sleep", "100"];
    sockets = ( { listen = "127.0.0.1:$port"; } ); }
); };
CONF
	expect_exit 1 "$T/busy.conf" || { kill "$squat"; return 1; }
	grep -q "busy.conf:3: root/w: sockets\[0\] \"127.0.0.1:$port\": bind: Address already in use; nothing was started" "$T/log" ||
		{ kill "$squat"; fail "no error naming the line"; return 1; }
	# At a reload: refused, the running tree untouched.
	local free=$(free_port)
	sed "s/:$port\"/:$free\"/" "$T/busy.conf" >"$T/ok.conf"
	start_arbord "$T/ok.conf"
	local pid=$(pid_of root/w)
	cp "$T/busy.conf" "$T/ok.conf"
	ctl reload >"$T/reload.out" 2>&1 && { kill "$squat"; fail "a reload onto a port in use went through"; return 1; }
	kill "$squat"
	grep -q "Address already in use" "$T/reload.out" || { cat "$T/reload.out" >&2; fail "the reload's error does not say why"; return 1; }
	assert_eq "the worker untouched" "$pid" "$(pid_of root/w)" || return 1
	assert_eq "its socket kept" "127.0.0.1:$free" "$(json root/w '.sockets[0].listen')" || return 1
	listening "$free" || fail "the held socket was closed by the refused reload"
}

test_a_socket_shut_down_by_a_worker_is_bound_again() {
	local port=$(free_port)
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "if [ -e $T/shut ]; then exec python3 $HELPERS/sockworker.py --report $T/r.json --serve; fi; touch $T/shut; exec python3 $HELPERS/sockworker.py --shutdown-fd"];
    sockets = ( { listen = "127.0.0.1:$port"; } ); }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the report after the shutdown" test -s "$T/r.json" || return 1
	wait_for "the rebinding said" log_has "root/w: socket \"127.0.0.1:$port\" was no longer listening" || return 1
	assert_eq "fd 3 listens again" 1 "$(jq '.fds[0].listening' "$T/r.json")" || return 1
	ask "$port" | grep -q pong || fail "the socket bound again takes no connection"
}

# A socket file's directory is checked again whenever arbord binds in it,
# not only when the config was loaded: made writable by others since, it
# is refused (anyone could have put a symlink at the name), and the file
# there is left as it was.
test_a_directory_made_unsafe_since_the_load_is_not_bound_in() {
	mkdir -m 0755 "$T/s"
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "if [ -e $T/shut ]; then exec sleep 100; fi; while [ ! -e $T/go ]; do sleep 0.05; done; touch $T/shut; exec python3 $HELPERS/sockworker.py --shutdown-fd"];
    sockets = ( { listen = "$T/s/a.sock"; } ); }
); };
CONF
	start_arbord "$T/tree.conf"
	local ino=$(stat -c %i "$T/s/a.sock")
	chmod 0777 "$T/s"
	touch "$T/go"
	wait_for "the refusal said" log_has "root/w: .*socket \"$T/s/a.sock\" was shut down and cannot be bound again: $T/s: writable by others" || return 1
	assert_eq "the file at the name" "$ino" "$(stat -c %i "$T/s/a.sock")" || return 1
	[ "$(ls "$T/s")" = a.sock ] || fail "arbord made something in the unsafe directory: $(ls "$T/s")"
}

# A socket path through a symlink another user owns is never followed:
# that user could point it at another directory between arbord's steps.
# The same link made by root, in a directory only root writes, is.
test_a_socket_path_through_another_users_symlink_is_refused() {
	[ "$(id -u)" = 0 ] || { echo "needs root (the link's owner is nobody)"; return 77; }
	mkdir -m 0755 "$T/real"
	ln -s "$T/real" "$T/link" && chown -h nobody "$T/link"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sleep", "100"]; sockets = ( { listen = "$T/link/a.sock"; } ); }
); };
CONF
	expect_exit 1 "$T/tree.conf" || return 1
	log_has "tree.conf:2: root/w: sockets\[0\] \"$T/link/a.sock\": .*/link: a symlink owned by uid $(id -u nobody), neither root nor arbord's user: not followed" ||
		fail "no error naming the link: $(cat "$T/log")" || return 1
	[ ! -e "$T/real/a.sock" ] || fail "a socket was bound through the link" || return 1
	rm "$T/link" && ln -s "$T/real" "$T/link"
	start_arbord "$T/tree.conf" || return 1
	[ -S "$T/real/a.sock" ] || fail "root's own link was not followed"
}

# Connections that wait on a restart show as the socket's backlog: the
# gauge while they wait, and the restart event's backlog_peak.
test_a_restart_shows_the_connections_that_waited() {
	local port=$(free_port)
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "web"; command = $(sw --serve --slow-if "$T/slow" --notify-ready); ready = "notify";
    sockets = ( { listen = "127.0.0.1:$port"; name = "http"; } ); }
); };
observability = { event_log = "$T/events.jsonl"; };
CONF
	start_arbord "$T/tree.conf"
	wait_for "serving" sh -c "$(declare -f ask); ask $port | grep -q pong" || return 1
	# One client, started (and its Python up) before the kill: 5
	# connections at once as soon as the server is gone.
	python3 -c '
import os, socket, sys, time
port, go, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
open(go + ".armed", "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
cs = [socket.create_connection(("127.0.0.1", port), 10) for i in range(5)]
for c in cs:
    c.settimeout(10)
with open(out, "w") as f:
    f.write(" ".join(c.makefile().readline().strip().split()[0] for c in cs))
' "$port" "$T/go" "$T/answers" &
	local client=$!
	# Its Python up (under load, a second or more) before the crash.
	wait_for "the client armed" test -e "$T/go.armed" || return 1
	touch "$T/slow"
	kill -KILL "$(pid_of root/web)"
	touch "$T/go"
	wait_for "5 connections waiting in the gauge" sh -c "'$ARBORCTL' -s '$T/sock' metrics | grep -qx 'arbor_socket_backlog{path=\"root/web\",name=\"http\"} 5'" || return 1
	wait "$client"
	assert_eq "every waiting connection answered" "pong pong pong pong pong" "$(cat "$T/answers")" || return 1
	wait_for "the restart event" grep -q '"event":"restart"' "$T/events.jsonl" || return 1
	assert_eq "backlog_peak" 5 "$(grep '"event":"restart"' "$T/events.jsonl" | jq .backlog_peak)" || return 1
}

# A reload that is refused leaves every socket file as it was, though it
# bound a new socket for one of them (its type changed) before the
# refusal: the held one still answers at its name.
test_a_refused_reload_leaves_socket_files_alone() {
	local squat port
	python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/port" &
	squat=$!
	wait_for "the squatter" test -s "$T/port" || return 1
	port=$(cat "$T/port")
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --serve); sockets = ( { listen = "$T/a.sock"; } ); }
); };
CONF
	start_arbord "$T/tree.conf"
	local ino=$(stat -c %i "$T/a.sock")
	# The type changes (a new socket at the same name), and a port in use
	# makes the reload fail after that socket was bound.
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --serve); sockets = ( { listen = "$T/a.sock"; type = "seqpacket"; }, { listen = "127.0.0.1:$port"; } ); }
); };
CONF
	ctl reload >/dev/null 2>&1 && { kill "$squat"; fail "the reload went through"; return 1; }
	kill "$squat"
	assert_eq "the socket file" "$ino" "$(stat -c %i "$T/a.sock")" || return 1
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); print(s.makefile().readline().strip())' "$T/a.sock" | grep -q pong ||
		fail "the held socket no longer answers at its name" || return 1
	[ -z "$(ls "$T" | grep 'arbor~')" ] || fail "a temporary socket file was left: $(ls "$T")"
}

test_a_socket_in_use_by_another_program_is_not_taken() {
	python3 -c 'import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); print("up", flush=True); time.sleep(60)' "$T/x.sock" >"$T/up" &
	local other=$!
	wait_for "the other program's socket" test -s "$T/up" || return 1
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = ["/bin/sleep", "100"]; sockets = ( { listen = "$T/x.sock"; } ); }
); };
CONF
	expect_exit 1 "$T/tree.conf" || { kill "$other"; return 1; }
	kill "$other"
	log_has "tree.conf:2: root/w: sockets\[0\] \"$T/x.sock\": a socket in use is there" || fail "no error naming the line"
}

# A reload that lowers fd_store_max: what it no longer allows is dropped
# before the next start, and the rest is passed.
test_a_lower_fd_store_max_drops_what_it_no_longer_allows() {
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --flood 3); fd_store_max = 4; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "3 stored" sh -c "'$ARBORCTL' -s '$T/sock' status root/w --json | jq -e '.fd_store | length == 3'" || return 1
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --report "$T/r.json"); fd_store_max = 1; ready = "fd"; ready_fd = 4; }
); };
CONF
	ctl reload >/dev/null || return 1
	wait_for "the report" test -s "$T/r.json" || return 1
	assert_eq "passed" "1 flood" "$(jq -r '"\(.listen_fds) \(.names)"' "$T/r.json")" || return 1
	assert_eq "kept" 1 "$(json root/w '.fd_store | length')" || return 1
	log_has 'stored fd "flood" dropped: fd_store_max is now 1' || fail "the drop was not said"
}

# Names past what one environment variable may hold (128 KiB) are refused
# when stored: the worker still starts.
test_stored_names_stay_within_what_execve_takes() {
	local long=$(printf 'x%.0s' $(seq 255))
	cat >"$T/tree.conf" <<CONF
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sh", "-c", "if [ -e $T/flooded ]; then exec python3 $HELPERS/sockworker.py --report $T/r.json; fi; python3 $HELPERS/sockworker.py --flood 600 --flood-name $long & sleep 5; touch $T/flooded; exit 1"];
    fd_store_max = 1024; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the start after the flood" test -s "$T/r.json" || return 1
	local n=$(jq -r .listen_fds "$T/r.json")
	echo "report: $n of 600 names of 255 bytes kept"
	[ "$n" -gt 400 ] && [ "$n" -lt 600 ] || fail "$n stored"
}

test_fdstoreremove_closes_the_fds_of_that_name() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w"; command = $(sw --store-dir "$T" --flood 2 --remove flood); fd_store_max = 4; }
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "the flood removed, the directory kept" sh -c "'$ARBORCTL' -s '$T/sock' status root/w --json | jq -e '.fd_store == [\"dir\"]'" || return 1
}

# A tree whose sockets come near arbord's fd limit starts as a smaller one
# does: arbord holds the low fd numbers while it opens its own (loop.c's
# setup) only where the limit leaves room for the tree's sockets beside
# them. 28 workers of 63 unix sockets each (1,764) under a limit of 2,048.
test_sockets_near_the_fd_limit_all_start() {
	local w s
	mkdir "$T/s"
	{
		echo 'tree = { strategy = "one_for_one"; children = ('
		for w in $(seq 0 27); do
			printf '  { name = "w%d"; command = ["/bin/sleep", "1000"]; stdout = "null"; stderr = "null";\n    sockets = (' "$w"
			for s in $(seq 0 62); do
				printf ' { listen = "%s/s/%d.%d"; }%s' "$T" "$w" "$s" "$([ "$s" -lt 62 ] && echo ,)"
			done
			printf ' ); }%s\n' "$([ "$w" -lt 27 ] && echo ,)"
		done
		echo '); };'
	} >"$T/tree.conf"
	prlimit --nofile=2048:2048 "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status || { cat "$T/log" >&2; return 1; }
	wait_for "all 28 running" sh -c "[ \$($ARBORCTL -s $T/sock status | grep -c ' running ') -ge 28 ]" || {
		ctl status >&2; cat "$T/log" >&2; return 1; }
	assert_eq "w27's fds: 0-2 and its 63 sockets" 66 "$(ls /proc/"$(pid_of root/w27)"/fd | wc -l)" || return 1
	log_has "Too many open files" && fail "arbord ran out of fds: $(grep -m1 'Too many' "$T/log")" && return 1
	stop_arbord
	assert_eq "exit code" 0 "$?"
}
