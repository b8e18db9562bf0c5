# SPDX-License-Identifier: BSD-2-Clause
# Helpers for integration tests: each test_* function runs in a subshell
# with its own directory $T, and fails by returning non-zero (see fail).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ARBORD=$BUILD/arbord
ARBORCTL=$BUILD/arborctl
HELPERS=$ROOT/tests/integration

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${T:-}" ] && [ -f "$T/log" ]; then
		echo "--- arbord log (last 40 lines):" >&2
		tail -n 40 "$T/log" >&2
	fi
	return 1
}

# now_us: microseconds since the epoch ($EPOCHREALTIME's point may be a comma).
now_us() { echo "${EPOCHREALTIME//[.,]/}"; }

# free_port: a loopback TCP port nothing holds now, outside the kernel's
# ephemeral range where it can. (A port from bind(0) is an ephemeral one:
# a test in another lane opening hundreds of connections, a slowloris,
# may take it as a client's own port before this test's server binds it;
# the server then fails with EADDRINUSE. Outside the range no connect
# picks it.) With no room outside the range, bind(0)'s.
free_port() {
	python3 -c '
import random, socket
low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
ranges = [r for r in ((10000, low), (high + 1, 65536)) if r[1] - r[0] >= 100]
for _ in range(1000 if ranges else 0):
    a, b = random.choice(ranges)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(a, b)))
    except OSError:
        continue
    break
else:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
'
}

# wait_for DESCRIPTION COMMAND...: polls every 20 ms for up to 20 s of
# elapsed time (times ARBOR_TIME_SCALE), however long each poll takes. (It
# returns as soon as COMMAND holds: the bound only says when to give up,
# and a loaded machine under ASan needs its margin; 500 polls of a status
# request used to take 15-20 s.)
wait_for() {
	local desc=$1 end
	shift
	end=$(($(now_us) + 20000000 * ${ARBOR_TIME_SCALE:-1}))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		[ "$(now_us)" -lt "$end" ] || break
		sleep 0.02
	done
	fail "timed out waiting for: $desc"
}

ctl() { "$ARBORCTL" -s "$T/sock" "$@"; }

# start_arbord CONFIG [ARGS...]: runs arbord in the background, waits for
# its control socket.
start_arbord() {
	local conf=$1
	shift
	"$ARBORD" -c "$conf" -s "$T/sock" "$@" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait_for "arbord control socket" ctl status
}

# stop_arbord: orderly shutdown, returns arbord's exit code.
stop_arbord() {
	ctl shutdown >/dev/null 2>&1
	wait "$ARBORD_PID"
}

# json PATH JQ: a field of status --json.
json() { ctl status "$1" --json | jq -r "$2"; }
state_of() { json "$1" .state; }
pid_of() { json "$1" '.pid // empty'; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
is_running_new() { [ "$(state_of "$1")" = running ] && [ "$(pid_of "$1")" != "$2" ]; }
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
dead() { ! alive "$1"; }
log_has() { grep -q -- "$1" "$T/log"; }
# helper_pid NAME: the pid of arbord's helper process NAME (arborctl daemon);
# fails while there is none, so that wait_for can wait for one.
helper_pid() { ctl daemon | awk -v h="$1" '$1 == "helper" && $2 == h && $5 > 0 { print $5; n++ } END { exit n == 0 }'; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# sanitized: arbord is built with ASan or TSan (its RSS means little then).
sanitized() { ldd "$ARBORD" | grep -q 'lib[at]san'; }

# argv_json PROG ARG...: a command as the config writes it, ["PROG", "ARG", ...].
argv_json() {
	local a out="[\"$1\""
	shift
	for a in "$@"; do out+=", \"$a\""; done
	echo "$out]"
}

# conf NAME <<EOF ... EOF: writes $T/NAME.conf from stdin.
conf() { cat >"$T/$1.conf"; }

# expect_exit CODE CONFIG: runs arbord on CONFIG until it exits by itself
# and checks its exit code.
expect_exit() {
	"$ARBORD" -c "$2" -s "$T/sock" >"$T/log" 2>&1 &
	ARBORD_PID=$!
	wait "$ARBORD_PID"
	assert_eq "arbord exit code" "$1" "$?"
}

# min_fds PID: the fewest open fds of PID over 20 samples. A crash loop
# holds a pidfd and a spawn pipe only for moments: the minimum is its
# baseline.
min_fds() {
	local i n min=100000
	for ((i = 0; i < 20; i++)); do
		n=$(ls /proc/"$1"/fd | wc -l)
		[ "$n" -lt "$min" ] && min=$n
	done
	echo "$min"
}

# need_cgroups: 77 (skip, saying why) unless arbord can keep a cgroup v2
# subtree here: a writable cgroup2 mount on Linux 5.14+ (cgroup.kill).
CGMOUNT=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n 1)
need_cgroups() {
	[ -n "$CGMOUNT" ] || { echo "no cgroup v2 mount here"; return 77; }
	[ -w "$CGMOUNT" ] || { echo "cgroup v2 at $CGMOUNT is not writable (not root?)"; return 77; }
	local v; v=$(uname -r); v=${v%%-*}
	if [ "${v%%.*}" -lt 5 ] || { [ "${v%%.*}" -eq 5 ] && [ "$(echo "$v" | cut -d. -f2)" -lt 14 ]; }; then
		echo "Linux $v has no cgroup.kill (5.14+)"; return 77
	fi
}
# cgbase: the cgroup base of the test's arbord (socket $T/sock).
cgbase() { echo "$CGMOUNT/arbor-$(echo "${T#/}/sock" | tr / -)"; }
# v1dir CONTROLLER: arbord's v1 base of CONTROLLER (hybrid hosts), or nothing.
v1dir() {
	local mnt own
	mnt=$(awk -v c="$1" '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" && ("," $(i+3) ",") ~ ("," c ",")) print $5; break } }' /proc/self/mountinfo | head -n 1)
	[ -n "$mnt" ] || return 1
	own=$(awk -F: -v c="$1" '("," $2 ",") ~ ("," c ",") { print $3 }' /proc/self/cgroup)
	[ "$own" = / ] && own=
	echo "$mnt$own/arbor-$(echo "${T#/}/sock" | tr / -)"
}

# ensure_test_user: the unprivileged user arbor-it (group arbor-it-sup too).
ensure_test_user() {
	getent group arbor-it-sup >/dev/null || groupadd --system arbor-it-sup || return 1
	getent passwd arbor-it >/dev/null ||
		useradd --system --no-create-home --shell /usr/sbin/nologin -G arbor-it-sup arbor-it
}

# console_cookie JAR: signs in to the test's arbord's console as a browser
# would, through the link `arborctl console` prints (waiting for the
# listener), and keeps the session cookie in JAR (curl -b JAR then sends it).
console_cookie() {
	wait_for "a console sign-in link" sh -c "'$ARBORCTL' -s '$T/sock' console >'$T/signin'" || return 1
	[ "$(curl -s -o /dev/null -c "$1" -w '%{http_code}' "$(cat "$T/signin")")" = 303 ] ||
		fail "signing in with $(cat "$T/signin") did not redirect"
}
# console_session JAR: the session id the cookie jar holds.
console_session() { awk '$6 == "arbor_session" { print $7 }' "$1"; }
