# SPDX-License-Identifier: BSD-2-Clause
# What a worker's process looks like: environment, cwd, umask, credentials,
# rlimits, no_new_privs, stdio, session and process group (arbor.conf(5), arbord(8)).

# A worker that reports about itself into $T/<what> and then sleeps.
REPORT='env > $D/env; pwd > $D/cwd; umask > $D/umask; ulimit -n > $D/nofile; ulimit -c > $D/core;
grep -E "^(Uid|Gid|Groups|NoNewPrivs):" /proc/self/status > $D/status;
ps -o pgid= -p $$ | tr -d " " > $D/pgid; echo $$ > $D/pid; echo to-stdout; echo to-stderr >&2;
exec sleep 1000'

report_worker() {
	# report_worker NAME EXTRA_KEYS
	local d=$T/$1
	mkdir -p "$d"
	chmod 777 "$d"
	chmod 755 "$T"
	printf '  { name = "%s"; command = ["/bin/sh", "-c", "D=%s; %s"]; %s }' \
		"$1" "$d" "$(printf '%s' "$REPORT" | tr '\n' ' ' | sed 's/"/\\"/g')" "$2"
}

test_environment_cwd_umask_stdio() {
	mkdir -p "$T/work"
	export ARBOR_OBS_FAULT=none NOTIFY_SOCKET=/nonexistent FROM_ARBORD=yes
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
$(report_worker plain 'stdout = "file:'"$T"'/plain.out"; stderr = "null";'),
$(report_worker custom 'env = ["MODE=prod", "FROM_ARBORD=overridden"]; cwd = "'"$T"'/work"; umask = "027"; stdout = "file:'"$T"'/custom.out"; stderr = "file:'"$T"'/custom.out";'),
$(report_worker clear 'env = ["ONLY=this"]; env_clear = true;')
); };
CONF
	start_arbord "$T/tree.conf"
	for w in plain custom clear; do
		wait_for "$w reported" test -s "$T/$w/pid" || return 1
	done
	grep -qx 'ARBOR_PATH=root/plain' "$T/plain/env" || fail "no ARBOR_PATH" || return 1
	grep -qx 'FROM_ARBORD=yes' "$T/plain/env" || fail "arbord's environment not inherited" || return 1
	grep -q '^ARBOR_OBS_FAULT=\|^NOTIFY_SOCKET=' "$T/plain/env" && fail "arbord's internal variables leak" && return 1
	grep -qx 'MODE=prod' "$T/custom/env" || fail "env not added" || return 1
	grep -qx 'FROM_ARBORD=overridden' "$T/custom/env" || fail "env does not override" || return 1
	assert_eq "env_clear" "ARBOR_PATH=root/clear ONLY=this" \
		"$(grep -v '^PWD=\|^SHLVL=\|^_=' "$T/clear/env" | sort | tr '\n' ' ' | sed 's/ $//')" || return 1
	assert_eq "cwd" "$T/work" "$(cat "$T/custom/cwd")" || return 1
	assert_eq "umask" 0027 "$(cat "$T/custom/umask")" || return 1
	assert_eq "stdout file" to-stdout "$(cat "$T/plain.out")" || return 1
	assert_eq "stdout+stderr file" "to-stdout to-stderr" "$(tr '\n' ' ' <"$T/custom.out" | sed 's/ $//')" || return 1
	grep -q to-stderr "$T/log" && fail "stderr = null leaked into arbord's stderr" && return 1
	# each worker leads its own process group
	assert_eq "own process group" "$(cat "$T/plain/pid")" "$(cat "$T/plain/pgid")"
}

test_workers_get_arbords_original_nofile_limit() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
$(report_worker plain '')
); };
CONF
	# arbord raises its own soft limit (a pidfd per worker), not theirs.
	prlimit --nofile=512:4096 "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "reported" test -s "$T/plain/pid" || return 1
	assert_eq "worker's soft nofile" 512 "$(cat "$T/plain/nofile")" || return 1
	assert_eq "arbord's soft nofile" 4096 "$(awk '/Max open files/ { print $4 }' /proc/$ARBORD_PID/limits)"
}

test_rlimits_and_no_new_privs() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
$(report_worker lim 'rlimits = { nofile = 333; core = 0; }; no_new_privs = true;')
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "reported" test -s "$T/lim/pid" || return 1
	assert_eq "nofile" 333 "$(cat "$T/lim/nofile")" || return 1
	assert_eq "core" 0 "$(cat "$T/lim/core")" || return 1
	grep -q 'NoNewPrivs:[[:space:]]1' "$T/lim/status" || fail "NoNewPrivs not set: $(cat "$T/lim/status")"
}

test_user_group_and_supplementary_groups() {
	[ "$(id -u)" = 0 ] || { echo "needs root to change credentials"; return 77; }
	getent group arbor-it-sup >/dev/null || groupadd --system arbor-it-sup || return 1
	getent passwd arbor-it >/dev/null ||
		useradd --system --no-create-home --shell /usr/sbin/nologin -G arbor-it-sup arbor-it || return 1
	local uid=$(id -u arbor-it) gid=$(id -g arbor-it) sup=$(getent group arbor-it-sup | cut -d: -f3)
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
$(report_worker asuser 'user = "arbor-it";'),
$(report_worker asgroup 'user = "arbor-it"; group = "nogroup";')
); };
CONF
	start_arbord "$T/tree.conf"
	wait_for "asuser reported" test -s "$T/asuser/pid" || return 1
	wait_for "asgroup reported" test -s "$T/asgroup/pid" || return 1
	grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" "$T/asuser/status" || fail "uid: $(cat "$T/asuser/status")" || return 1
	grep -Eq "^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid$" "$T/asuser/status" || fail "gid: $(cat "$T/asuser/status")" || return 1
	assert_eq "supplementary groups" "$(echo $gid $sup | tr ' ' '\n' | sort -n | tr '\n' ' ')" \
		"$(grep ^Groups: "$T/asuser/status" | cut -f2 | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')" || return 1
	grep -Eq "^Gid:[[:space:]]+65534[[:space:]]" "$T/asgroup/status" || fail "group override: $(cat "$T/asgroup/status")"
}

test_unknown_user_is_a_failed_start() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 0; children = (
  { name = "w"; command = ["/bin/true"]; user = "no-such-user-arbor"; }
); };
CONF
	expect_exit 3 "$T/tree.conf" || return 1
	log_has 'root/w: cannot start: unknown user "no-such-user-arbor"' || fail "no clear line"
}

# Fds of a worker's main process: what its sleep holds open.
worker_fds() { ls /proc/"$1"/fd | sort -n | tr '\n' ' '; }

test_workers_inherit_only_their_stdio() {
	# fds 10 and 251 are open in the runner (and so in arbord), and
	# arbord holds a pidfd per worker: a worker gets 0, 1 and 2 only, both
	# when arbord keeps its pidfds high (its usual way) and when its fd
	# limit keeps them low.
	exec 10</dev/null 251</dev/null
	local kids="" i
	for ((i = 0; i < 40; i++)); do kids+="{ name = \"s$i\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; },"; done
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  $kids
  { name = "w"; command = ["/bin/sh", "-c", "echo hello \$\$; exec sleep 1000"]; stdout = "file:$T/w.out"; },
  { name = "c"; command = ["/bin/sh", "-c", "echo captured \$\$; exec sleep 1000"]; }
); };
CONF
	local limit
	for limit in "" 128; do
		if [ -z "$limit" ]; then
			start_arbord "$T/tree.conf" || return 1
		else
			prlimit --nofile=$limit:$limit "$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/log" 2>&1 &
			ARBORD_PID=$!
			wait_for "arbord control socket" ctl status || return 1
		fi
		wait_for "w started" is_state root/w running || return 1
		local p=$(pid_of root/w)
		wait_for "w wrote" grep -q "hello $p" "$T/w.out" || return 1
		assert_eq "fds of a worker (fd limit ${limit:-raised})" "0 1 2 " "$(worker_fds "$p")" || return 1
		# one whose output is captured: its pipes, no other fd of arbord's
		p=$(pid_of root/c)
		assert_eq "fds of a captured worker (fd limit ${limit:-raised})" "0 1 2 " "$(worker_fds "$p")" || return 1
		stop_arbord
	done
}

# Users are looked up (NSS: files, LDAP, sssd) when the config is loaded,
# never at a spawn in the core: restarts open no user database.
test_spawns_look_up_no_user() {
	[ "$(id -u)" = 0 ] || { echo "needs root (user = nobody)"; return 77; }
	command -v strace >/dev/null || { echo "strace not installed"; return 77; }
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 1000; period = 1; children = (
  { name = "w"; command = ["/bin/sh", "-c", "exit 1"]; user = "nobody"; group = "nogroup"; restart_delay = 20; }
); };
CONF
	start_arbord "$T/tree.conf"
	strace -f -qq -e trace=openat,connect -p "$ARBORD_PID" -o "$T/strace" &
	local st=$! n0=$(json root/w .restarts)
	wait_for "strace attached" grep -q . "$T/strace" || { kill "$st"; return 1; }
	# Bounded: a make check once hung here for its whole 120 s (not seen
	# again in many runs); a stuck arborctl or arbord now says where.
	wait_for "ten restarts traced" bash -c "[ \$(timeout 5 $ARBORCTL -s $T/sock status root/w --json | jq .restarts) -ge $((n0 + 10)) ]" ||
		{ kill "$st"; fail "arbord's threads: $(cat /proc/$ARBORD_PID/task/*/stat 2>/dev/null | awk '{ print $2, $3 }' | tr '\n' ' ')"; return 1; }
	kill "$st"; timeout 10 tail --pid="$st" -f /dev/null || kill -KILL "$st" 2>/dev/null
	kill -CONT "$ARBORD_PID" 2>/dev/null	# never left stopped by the tracer
	! grep -E '/etc/(passwd|group|nsswitch)|nscd|sss' "$T/strace" >&2 || fail "a spawn looked a user up"
}

# A "file:" output is opened as the worker's user, never as root: a worker
# that owns the directory and turns the name into a symlink to a root-only
# file gets a failed start that names the file, and the root file is left
# as it was. A file the worker creates is its own, mode 0640 at most.
test_a_stdout_file_is_opened_as_the_worker() {
	[ "$(id -u)" = 0 ] || { echo "needs root (user = nobody)"; return 77; }
	chmod 755 "$T"
	mkdir "$T/app" && chown nobody "$T/app"
	printf 'root only\n' >"$T/secret" && chmod 600 "$T/secret"
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 100; period = 1; children = (
  { name = "ok"; command = ["/bin/sleep", "1000"]; },
  { name = "w"; user = "nobody"; restart_delay = 100; stdout = "file:$T/app/out.log";
    command = ["/bin/sh", "-c", "echo line from \$(id -u); rm -f $T/app/out.log; ln -s $T/secret $T/app/out.log; exit 1"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "the symlinked file refused" log_has "root/w: cannot start: opening its stdout file $T/app/out.log: Too many levels of symbolic links" || return 1
	assert_eq "the root file" "root only" "$(cat "$T/secret")" || return 1
	assert_eq "the root file's owner and mode" "root 600" "$(stat -c '%U %a' "$T/secret")" || return 1
	ctl stop root/w >/dev/null
	rm -f "$T/app/out.log"
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "w2"; user = "nobody"; stdout = "file:$T/app/new.log";
    command = ["/bin/sh", "-c", "echo hello; exec sleep 1000"]; } ); };
CONF
	ctl reload >/dev/null || return 1
	wait_for "the new file written" grep -q hello "$T/app/new.log" || return 1
	assert_eq "the new file's owner and mode" "nobody 640" "$(stat -c '%U %a' "$T/app/new.log")"
}

# Workers spawned while arbord's output thread rotates and compresses a
# chatty worker's log get none of its files: each start of a crash loop
# lists its fds while the log next to it rotates many times a second.
test_workers_spawned_during_rotations_get_no_log_file() {
	conf tree <<CONF
daemon = { log_dir = "$T/logs"; log_max_bytes = 65536; log_keep = 2; };
tree = { strategy = "one_for_one"; intensity = 10000; period = 1; children = (
  { name = "spew"; command = ["/usr/bin/yes", "a line to rotate, over and over, for the compressor"]; },
  { name = "w"; restart_delay = 10; stdout = "file:$T/fds.out";
    command = ["/bin/sh", "-c", "ls -l /proc/self/fd/ | grep -c -- '->' ; ls -l /proc/self/fd/ | grep -o '/[^ ]*logs/[^ ]*' ; exit 1"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "rotations" test -e "$T/logs/root/spew/current.2.gz" || return 1
	# fds of ls: 0, 1, 2 and the directory it reads.
	starts() { [ "$(grep -c '^[0-9]' "$T/fds.out")" -ge 25 ]; }
	wait_for "25 starts" starts || return 1
	local leaked=$(grep -- '/logs/' "$T/fds.out" | sort | uniq -c)
	[ -z "$leaked" ] || fail "workers inherited log files: $leaked" || return 1
	assert_eq "fd counts seen" 4 "$(grep '^[0-9]' "$T/fds.out" | sort -u | tr '\n' ' ' | sed 's/ $//')"
}

# cwd is entered as the worker's user: a directory root may enter and the
# user may not is a failed start that says so.
test_cwd_is_entered_as_the_worker() {
	[ "$(id -u)" = 0 ] || { echo "needs root (user = nobody)"; return 77; }
	chmod 755 "$T"
	mkdir -m 700 "$T/private"
	conf tree <<CONF
tree = { strategy = "one_for_one"; intensity = 100; period = 1; children = (
  { name = "w"; user = "nobody"; cwd = "$T/private"; restart_delay = 200;
    command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "the failed start" log_has "root/w: cannot start: chdir $T/private: Permission denied"
}
