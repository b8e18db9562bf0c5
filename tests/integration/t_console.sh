# SPDX-License-Identifier: BSD-2-Clause
# The console (arbord(8), CONSOLE): its page and API on the metrics
# listener, read-only, safe, live; in a real browser where chromium is.
# Only for those signed in through `arborctl console` (arbord(8),
# SECURITY): the tests sign in with console_cookie (lib.sh), curl sending
# the cookie from $T/jar.

XSS='<script>alert(1)</script>'

con_conf() {
	PORT=${PORT:-$(free_port)}
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = "127.0.0.1:$PORT"; ${2:-} };
tree = { strategy = "one_for_one"; intensity = 100000; period = 10; children = (
${1//\$HELPERS/$HELPERS}
); };
CONF
}

PAIR='{ name = "pair"; strategy = "one_for_all"; intensity = 1000; children = (
  { name = "a"; command = ["/bin/sh", "-c", "echo '"'"'<script>alert(1)</script>'"'"'; exec python3 $HELPERS/notifier.py --status '"'"'<script>alert(1)</script>'"'"' --ready"]; ready = "notify"; },
  { name = "b"; command = ["/bin/sleep", "1000"]; } ); },
{ name = "solo"; command = ["/bin/sleep", "1000"]; }'

url() { echo "http://127.0.0.1:$PORT$1"; }
code_of() { curl -b "$T/jar" -s -o /dev/null -w '%{http_code}' "$@"; }

test_the_page_is_served_safe_and_read_only() {
	con_conf "$PAIR"
	start_arbord "$T/tree.conf" || return 1
	console_cookie "$T/jar" || return 1
	curl -b "$T/jar" -s -D "$T/h" -o "$T/page" "$(url /)"
	grep -qi "^content-security-policy: default-src 'self'" "$T/h" || fail "no CSP on /: $(cat "$T/h")" || return 1
	grep -qi '^content-type: text/html' "$T/h" || fail "/ is not HTML" || return 1
	grep -q '<script src="/console.js"' "$T/page" || fail "the page does not load its script" || return 1
	# Nothing from elsewhere: every src and href is the page's own.
	! grep -Eo '(src|href)="[^"]*"' "$T/page" | grep -v '="/' || fail "the page loads from elsewhere" || return 1
	for a in /console.js:text/javascript /console.css:text/css; do
		curl -b "$T/jar" -s -D "$T/h" -o /dev/null "$(url "${a%%:*}")"
		grep -qi "^content-type: ${a#*:}" "$T/h" || fail "${a%%:*} is not ${a#*:}" || return 1
		grep -qi '^x-content-type-options: nosniff' "$T/h" || fail "${a%%:*} without nosniff" || return 1
	done
	# No path outside the embedded set.
	for p in /../etc/passwd /%2e%2e/etc/passwd /console.js/../../etc/passwd //etc/passwd \
	    /..%2f..%2fetc%2fpasswd /index.htm /api /api/ /console.js.map /etc/passwd; do
		[ "$(code_of --path-as-is "$(url "$p")")" = 404 ] || fail "GET $p is not 404" || return 1
	done
	# Read-only: any other method is 405, on every path.
	for m in POST PUT DELETE PATCH; do
		for p in / /api/status /api/events /metrics /nowhere; do
			[ "$(code_of -X "$m" "$(url "$p")")" = 405 ] || fail "$m $p is not 405" || return 1
		done
	done
	# /api/status is status --json; an unknown path is 404.
	wait_for "a running" is_state root/pair/a running || return 1
	# (The tree's text as arbord wrote it: the same members, in the same
	# order, as arborctl prints; the figures that move left out.)
	local moving='del(.. | .uptime_s?, .cpu_seconds?, .memory_bytes?, .pids?)'
	curl -b "$T/jar" -sf -D "$T/h" "$(url /api/status)" | jq -c "$moving" >"$T/api"
	ctl status --json | jq -c "$moving" >"$T/ctl"
	[ -s "$T/api" ] && cmp -s "$T/api" "$T/ctl" || fail "/api/status is not the tree: $(cat "$T/api") against $(cat "$T/ctl")" || return 1
	grep -qi '^content-type: application/json' "$T/h" || fail "/api/status is not JSON: $(cat "$T/h")" || return 1
	[ "$(curl -b "$T/jar" -s "$(url '/api/status?path=root/solo')" | jq -r .kind)" = worker ] || fail "/api/status?path= is not the node" || return 1
	[ "$(code_of "$(url '/api/status?path=root/nope')")" = 404 ] || fail "an unknown path is not 404" || return 1
	# A worker's STATUS= text and log line come as data, never as markup.
	[ "$(curl -b "$T/jar" -s "$(url '/api/status?path=root/pair/a')" | jq -r .status_text)" = "$XSS" ] ||
		fail "STATUS= text not in /api/status" || return 1
	wait_for "a's log line" sh -c "curl -b '$T/jar' -s '$(url '/api/logs?path=root/pair/a')' | grep -qF '$XSS'" || return 1
	curl -b "$T/jar" -s -D "$T/h" -o /dev/null "$(url '/api/logs?path=root/pair/a')"
	grep -qi '^content-type: text/plain' "$T/h" || fail "logs are not text/plain" || return 1
	[ "$(code_of "$(url '/api/logs')")" = 400 ] || fail "/api/logs without a path is not 400" || return 1
	# The page writes text as text: nowhere does it parse markup.
	! grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(' "$ROOT/exporters/console/console.js" ||
		fail "console.js parses markup" || return 1
	alive "$ARBORD_PID" || fail "arbord died"
}

test_the_console_can_be_turned_off() {
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'console = false;'
	start_arbord "$T/tree.conf" || return 1
	wait_for "metrics" curl -b "$T/jar" -sf -o /dev/null "$(url /metrics)" || return 1
	[ "$(code_of "$(url /)")" = 404 ] || fail "console = false still serves /" || return 1
	[ "$(code_of "$(url /api/status)")" = 404 ] || fail "console = false still serves /api/status"
}

# The stream says what happened as it happens: a SIGKILL with its killer,
# and a one_for_all restart as one cascade with its time.
test_the_event_stream_is_live() {
	con_conf "$PAIR"
	start_arbord "$T/tree.conf" || return 1
	wait_for "a running" is_state root/pair/a running || return 1
	wait_for "b running" is_state root/pair/b running || return 1
	console_cookie "$T/jar" || return 1
	curl -b "$T/jar" -sN -m 20 "$(url /api/events)" >"$T/sse" &
	local reader=$!
	wait_for "the stream live" grep -q '^event: live' "$T/sse" || return 1
	local pid=$(pid_of root/pair/b)
	kill -KILL "$pid"
	wait_for "the exit streamed" grep -q "\"event\":\"exit\",\"path\":\"root/pair/b\",\"pid\":$pid" "$T/sse" || return 1
	wait_for "the cascade streamed" grep -q '"event":"cascade","path":"root/pair/b"' "$T/sse" || return 1
	local c=$(grep '"event":"cascade"' "$T/sse" | tail -n 1 | sed 's/^data: //')
	[ "$(echo "$c" | jq -r .workers)" = 2 ] && [ "$(echo "$c" | jq -r .ready)" = 2 ] ||
		fail "the cascade is not both workers: $c" || return 1
	[ "$(echo "$c" | jq -r '.duration_ns > 0 and .duration_ns < 10000000000')" = true ] ||
		fail "the cascade has no duration: $c" || return 1
	# The sibling's restart names its cause and cascade.
	grep '"event":"restart","path":"root/pair/a"' "$T/sse" | grep -q "\"cascade\":$(echo "$c" | jq .cascade)" ||
		fail "a's restart is not in the cascade" || return 1
	if grep -q '"killer_comm"' "$T/sse"; then
		grep "\"event\":\"exit\",\"path\":\"root/pair/b\"" "$T/sse" | grep -q '"killer_comm":"bash"' ||
			fail "the killer is not the shell that sent SIGKILL: $(grep '"event":"exit"' "$T/sse")" || return 1
	fi
	kill "$reader" 2>/dev/null
	echo "report: cascade of 2 workers: $(( $(echo "$c" | jq .duration_ns) / 1000 )) us from the kernel exit to the last ready"
}

# A trace shows the cascade: a flow from the cause's exit to each sibling.
test_a_trace_links_a_cascade() {
	con_conf "$PAIR"
	start_arbord "$T/tree.conf" || return 1
	wait_for "b running" is_state root/pair/b running || return 1
	ctl trace --duration 2 -o "$T/trace.json" &
	local tracer=$!
	sleep 0.3
	kill -KILL "$(pid_of root/pair/a)"
	wait "$tracer" || fail "trace failed" || return 1
	jq -e '[.traceEvents[] | select(.cat == "cascade" and .ph == "s")] | length >= 1' "$T/trace.json" >/dev/null ||
		fail "no flow start in the trace" || return 1
	jq -e '[.traceEvents[] | select(.cat == "cascade" and .ph == "f")] | length >= 1' "$T/trace.json" >/dev/null ||
		fail "no flow end in the trace" || return 1
	jq -e '[.traceEvents[] | select(.cat == "cascade" and .ph == "X" and .args.workers == 2)] | length == 1' "$T/trace.json" >/dev/null ||
		fail "no cascade span in the trace" || return 1
}

# A hundred streams, one that never reads and a crash loop: the readers
# keep up, the non-reader is dropped, arbord's memory stays bounded.
test_many_streams_a_non_reader_and_a_crash_loop() {
	# Under TSan the observability thread runs some ten times slower than
	# the crash loop's 4,000 events a second need: every stream falls
	# behind and is dropped, as it should be, and nothing is measured.
	if ldd "$ARBORD" | grep -q libtsan; then
		echo "arbord is built with ThreadSanitizer: too slow to feed 100 streams at this rate"
		return 77
	fi
	con_conf '{ name = "loop"; command = ["/bin/false"]; restart_delay = 0; },
{ name = "calm"; command = ["/bin/sleep", "1000"]; }'
	# Under ASan freed memory waits in a quarantine (RSS grows by it): none.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0 \
		start_arbord "$T/tree.conf" || return 1
	console_cookie "$T/jar" || return 1
	local rss0=$(awk '/^VmRSS/ { print $2 }' /proc/$ARBORD_PID/status)
	python3 - "$PORT" 100 8 "$(console_session "$T/jar")" >"$T/streams" <<'PY' || fail "streams: $(cat "$T/streams"); root/loop restarted $(json root/loop .restarts) times" || return 1
import socket, subprocess, sys, time, selectors
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
req = ("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: arbor_session=%s\r\n\r\n"
       % (port, sys.argv[4])).encode()
sel = selectors.DefaultSelector()
got, cut = {}, []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    got[s] = 0
# The one that never reads, with a small window.
lazy = socket.socket()
lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
lazy.connect(("127.0.0.1", port))
lazy.sendall(req)
lazy_port = lazy.getsockname()[1]


def lazy_held():
    """arbord's end of the non-reader's connection is still established."""
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          "( sport = :%d and dport = :%d )" % (port, lazy_port)],
                         capture_output=True, text=True).stdout
    return bool(out.strip())


# Read for secs at least, then until arbord lets the non-reader go (its
# backlog past the cap, or 5 s without progress), 60 s at most.
t0 = time.time()
dropped, checked = False, 0
while time.time() - t0 < 60:
    for key, _ in sel.select(0.2):
        try:
            d = key.fileobj.recv(1 << 20)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            d = b""
        if not d:	# dropped: it fell 256 KiB behind (a loaded machine)
            sel.unregister(key.fileobj)
            cut.append(got.pop(key.fileobj))
            continue
        got[key.fileobj] += len(d)
    if time.time() - checked > 0.5:
        checked = time.time()
        dropped = not lazy_held()
        if dropped and time.time() - t0 >= secs:
            break
lows = sorted(got.values()) or [0]
print("%d of %d streams kept, min %d median %d bytes each; non-reader dropped: %s after %.0f s" % (
    len(got), n, lows[0], lows[len(lows) // 2], dropped, time.time() - t0))
# The readers kept up (none starved, hardly any fell behind), the lazy one
# was dropped.
sys.exit(0 if len(got) >= 0.9 * n and lows[0] > 0 and
         lows[0] >= 0.9 * lows[len(lows) // 2] and dropped else 1)
PY
	local rss1=$(awk '/^VmRSS/ { print $2 }' /proc/$ARBORD_PID/status)
	local restarts=$(json root/loop .restarts)
	alive "$ARBORD_PID" || fail "arbord died" || return 1
	curl -b "$T/jar" -sf -m 5 -o /dev/null "$(url /metrics)" ||
		fail "no scrape after the streams (curl $?): $(grep -iE 'obs|warn|error' "$T/log" | tail -n 5)" || return 1
	# Bounded: 100 streams' buffers are capped (256 KiB each), not grown.
	[ $((rss1 - rss0)) -lt 65536 ] || fail "arbord's RSS grew $((rss1 - rss0)) KiB" || return 1
	echo "report: $(cat "$T/streams"); arbord RSS ${rss0} -> ${rss1} KiB; root/loop restarted $restarts times meanwhile"
}

# Every error the control socket can reply to a console request is the
# console's answer at once (issue 26 #10): it ends on the error line and
# never waits for arbord to close the connection, so 20 at once (more than
# the 16 requests it asks at a time) neither hang nor keep anyone out.
test_control_socket_errors_are_answered_at_once() {
	con_conf "$PAIR,
{ name = \"quiet\"; command = [\"/bin/sleep\", \"1000\"]; stdout = \"null\"; stderr = \"null\"; }"
	start_arbord "$T/tree.conf" || return 1
	console_cookie "$T/jar" || return 1
	wait_for "a's log line" sh -c "curl -b '$T/jar' -s '$(url '/api/logs?path=root/pair/a')' | grep -qF '$XSS'" || return 1
	local i pids=() code secs
	for ((i = 0; i < 20; i++)); do
		curl -b "$T/jar" -s -m 3 -o "$T/body$i" -w '%{http_code} %{time_total}' "$(url '/api/logs?path=root')" >"$T/code$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for ((i = 0; i < 20; i++)); do
		read -r code secs <"$T/code$i"
		[ "$code" = 404 ] && grep -q 'root: a supervisor has no output' "$T/body$i" ||
			fail "/api/logs?path=root (#$i of 20 at once): $code after ${secs}s: $(cat "$T/body$i")" || return 1
	done
	# Each route against each error the control socket gives it: what
	# arbord says, with the status that fits.
	local c p want text
	for c in "/api/logs?path=root/pair|404|root/pair: a supervisor has no output" \
	    "/api/logs?path=root/nope|404|unknown path" \
	    "/api/logs?path=root/quiet|404|its output is not captured" \
	    "/api/logs?path=root/pair/a%ff|400|path is not UTF-8" \
	    "/api/logs?path=root/pair/a&lines=10001|400|lines: a number" \
	    "/api/status?path=root/nope|404|unknown path" \
	    "/api/status?path=%ff|400|path is not UTF-8"; do
		IFS='|' read -r p want text <<<"$c"
		code=$(curl -b "$T/jar" -s -m 3 -o "$T/body" -w '%{http_code}' "$(url "$p")")
		[ "$code" = "$want" ] && grep -qF "$text" "$T/body" ||
			fail "GET $p: $code, not $want with \"$text\": $(cat "$T/body")" || return 1
	done
	# The output thread's own refusal: 64 logs clients that never read.
	python3 "$HELPERS/rawclient.py" stuck "$T/sock" 64 '{"cmd":"logs","path":"root/pair/a","follow":true}' >"$T/stuck" &
	local stuck=$!
	wait_for "64 logs clients" sh -c "'$ARBORCTL' -s '$T/sock' logs root/pair/a 2>&1 | grep -q 'too many logs clients'" || return 1
	code=$(curl -b "$T/jar" -s -m 3 -o "$T/body" -w '%{http_code}' "$(url '/api/logs?path=root/pair/a')")
	[ "$code" = 503 ] && grep -q 'too many logs clients' "$T/body" ||
		fail "/api/logs past the output thread's clients: $code: $(cat "$T/body")" || return 1
	kill "$stuck"
	# And the console works as before.
	wait_for "a's log again" sh -c "curl -b '$T/jar' -sf '$(url '/api/logs?path=root/pair/a')' | grep -qF '$XSS'" || return 1
	[ "$(curl -b "$T/jar" -s -m 3 "$(url '/api/status?path=root/solo')" | jq -r .kind)" = worker ] ||
		fail "/api/status after the errors: $(curl -b "$T/jar" -s -m 3 "$(url /api/status)")" || return 1
	alive "$ARBORD_PID" || fail "arbord died"
}

# needs_browser: 77 (skip, saying why) without chromium and playwright-core.
# needs_browser: chromium and playwright-core, on the build users run.
# Under a sanitizer the browser tests skip: what they add to the other
# tests is the page's own script (the sign-in, the stream and its
# reconnects run in C under the sanitizer in the tests that use curl).
needs_browser() {
	if sanitized; then
		echo "the page's script is tested on the plain build (its C paths run here in the other tests)"
		return 77
	fi
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	[ -x "$CHROMIUM" ] || { echo "chromium is not installed (make deps installs Debian's chromium)"; return 77; }
	[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] ||
		{ echo "playwright-core is not installed (make deps runs npm in tests/browser)"; return 77; }
	export CHROMIUM
}

# Signed in through the link `arborctl console` printed, as a user would.
test_the_console_in_a_real_browser() {
	needs_browser || return
	con_conf "$PAIR"
	start_arbord "$T/tree.conf" || return 1
	wait_for "a running" is_state root/pair/a running || return 1
	wait_for "solo running" is_state root/solo running || return 1
	wait_for "a sign-in link" sh -c "'$ARBORCTL' -s '$T/sock' console >'$T/signin'" || return 1
	timeout 120 node "$ROOT/tests/browser/console.mjs" "$(cat "$T/signin")" "$T/console.png" >"$T/browser" 2>&1 ||
		fail "the browser test failed: $(cat "$T/browser")" || return 1
	cp "$T/console.png" "$BUILD/console.png"
	echo "report: $(grep '^console ok' "$T/browser"), copied to $BUILD/console.png"
}

# A session that ends (here its lifetime, 3 s) leaves a message on the
# page, not a page that silently stops moving.
test_an_expired_session_says_so_in_the_browser() {
	needs_browser || return
	con_conf "$PAIR"
	ARBOR_CONSOLE_SESSION_TTL_MS=3000 start_arbord "$T/tree.conf" || return 1
	wait_for "a sign-in link" sh -c "'$ARBORCTL' -s '$T/sock' console >'$T/signin'" || return 1
	timeout 60 node "$ROOT/tests/browser/console.mjs" "$(cat "$T/signin")" "$T/console.png" expire >"$T/browser" 2>&1 ||
		fail "the browser test failed: $(cat "$T/browser")" || return 1
	echo "report: $(grep '^console ok' "$T/browser")"
}

# as_nobody CURL_ARGS...: curl as a user who may not read arbord's socket.
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups curl "$@"; }

# Another user on the host sees nothing of the tree or its output, while
# Prometheus still scrapes (issue 27).
test_nobody_sees_nothing_without_signing_in() {
	[ "$(id -u)" = 0 ] || { echo "setpriv needs root"; return 77; }
	con_conf '{ name = "w"; command = ["/bin/sh", "-c", "echo password=hunter2 connecting >&2; exec sleep 1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	wait_for "metrics" curl -sf -o /dev/null "$(url /metrics)" || return 1
	local p code
	for p in / /index.html /api/status '/api/logs?path=root/w&lines=5' /api/events; do
		code=$(as_nobody -s -m 3 -o "$T/body" -w '%{http_code}' "$(url "$p")")
		[ "$code" = 401 ] || fail "GET $p as nobody: $code, not 401: $(head -c 300 "$T/body")" || return 1
		! grep -q 'hunter2\|root/w' "$T/body" || fail "GET $p as nobody shows the tree: $(cat "$T/body")" || return 1
	done
	as_nobody -s "$(url /)" | grep -q 'arborctl console' || fail "/ does not say to run arborctl console" || return 1
	[ "$(as_nobody -s -o /dev/null -w '%{http_code}' "$(url /metrics)")" = 200 ] || fail "/metrics is not open" || return 1
	# The page's static parts say nothing and stay open.
	[ "$(as_nobody -s -o /dev/null -w '%{http_code}' "$(url /console.js)")" = 200 ] || fail "/console.js is not open" || return 1
	# A made-up cookie or token is no better than none.
	[ "$(as_nobody -s -o /dev/null -w '%{http_code}' -b "arbor_session=$(printf '%064d' 0)" "$(url /api/status)")" = 401 ] ||
		fail "a made-up session was taken" || return 1
	[ "$(as_nobody -s -o /dev/null -w '%{http_code}' "$(url "/login?token=$(printf '%064d' 0)")")" = 401 ] ||
		fail "a made-up token was taken" || return 1
	# Nor can nobody ask for a link: that takes arbord's control socket.
	! setpriv --reuid=nobody --regid=nogroup --clear-groups "$ARBORCTL" -s "$T/sock" console >"$T/out" 2>&1 ||
		fail "nobody got a sign-in link: $(cat "$T/out")"
}

# A link works once, within its time; its cookie is what arbord(8) says.
test_a_sign_in_link_works_once_and_expires() {
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ARBOR_CONSOLE_TOKEN_TTL_MS=1000 start_arbord "$T/tree.conf" || return 1
	wait_for "a sign-in link" sh -c "'$ARBORCTL' -s '$T/sock' console --json >'$T/reply'" || return 1
	local link=$(jq -r .url "$T/reply")
	[[ $link =~ ^http://127\.0\.0\.1:$PORT/login\?token=[0-9a-f]{64}$ ]] || fail "the link: $link" || return 1
	[ "$(jq -r .expires_in_ms "$T/reply")" = 1000 ] || fail "the reply: $(cat "$T/reply")" || return 1
	[ "$(ctl console)" != "$link" ] || fail "two links are the same" || return 1
	# A HEAD (a chat's link preview) leaves the link unused.
	[ "$(curl -s -I -o /dev/null -w '%{http_code}' "$link")" = 405 ] || fail "HEAD /login is not 405" || return 1
	curl -s -D "$T/h" -o /dev/null -c "$T/jar" "$link"
	grep -q '^HTTP/1.1 303' "$T/h" && grep -qi '^location: /\s*$' "$T/h" || fail "no redirect to /: $(cat "$T/h")" || return 1
	grep -qiE '^set-cookie: arbor_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200\s*$' "$T/h" ||
		fail "the cookie: $(grep -i set-cookie "$T/h")" || return 1
	[ "$(code_of "$(url /api/status)")" = 200 ] || fail "the cookie does not sign in" || return 1
	[ "$(code_of "$(url /)")" = 200 ] || fail "the cookie does not open /" || return 1
	# Used once: no second session from it.
	[ "$(curl -s -o "$T/again" -w '%{http_code}' "$link")" = 401 ] || fail "a used link signed in again" || return 1
	grep -q 'arborctl console' "$T/again" || fail "the used link's page: $(cat "$T/again")" || return 1
	# Unused past its time (1 s here, 60 s by default): refused.
	link=$(ctl console)
	sleep 1.2
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$link")" = 401 ] || fail "an expired link signed in" || return 1
	# And the session still works.
	[ "$(code_of "$(url /api/status)")" = 200 ] || fail "the session ended with the link"
}

# The DNS-rebinding defence: a Host that is not this listener is 421.
test_the_host_header_is_checked() {
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'console_hosts = ["arbor.example"];'
	start_arbord "$T/tree.conf" || return 1
	console_cookie "$T/jar" || return 1
	# curl matches a jar's cookies against -H Host: the cookie is given as is.
	local h p code c="arbor_session=$(console_session "$T/jar")"
	[ ${#c} = 78 ] || fail "no session in the jar: $(cat "$T/jar")" || return 1
	for p in / /api/status /api/events /console.js /login; do
		for h in 'Host: evil.example' "Host: evil.example:$PORT" 'Host: 127.0.0.2' 'Host: [::1]' 'Host:' 'Host: localhost.evil.example'; do
			code=$(code_of -b "$c" -m 2 -H "$h" "$(url "$p")")
			[ "$code" = 421 ] || fail "GET $p with '$h': $code, not 421" || return 1
		done
	done
	for h in "Host: 127.0.0.1:$PORT" 'Host: 127.0.0.1' 'Host: localhost:8080' 'Host: LocalHost' \
	    'Host: arbor.example' "Host: ARBOR.Example:$PORT"; do
		code=$(code_of -b "$c" -H "$h" "$(url /api/status)")
		[ "$code" = 200 ] || fail "GET /api/status with '$h': $code, not 200" || return 1
	done
	# two Host headers, the good one first: malformed, refused
	# (curl sends one of them: the request is written by hand)
	code=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1
		printf "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nHost: evil.example\r\nCookie: %s\r\nConnection: close\r\n\r\n" "$1" "$2" >&3
		head -n 1 <&3' _ "$PORT" "$c" | cut -d" " -f2)
	[ "$code" = 421 ] || fail "two Host headers: $code, not 421" || return 1
	# a junk arbor_session cookie before the good one (set by a page on
	# another port of this host) does not sign the console out
	code=$(code_of -b "arbor_session=$(printf '%064d' 0); $c" "$(url /api/status)")
	[ "$code" = 200 ] || fail "a junk cookie first: $code, not 200" || return 1
	# /metrics is scraped by any name, as exporters are.
	[ "$(code_of -H 'Host: evil.example' "$(url /metrics)")" = 200 ] || fail "/metrics checks Host"
}

# A wildcard listener: the link names the loopback, which it answers as its own.
test_a_wildcard_listener_signs_in_on_the_loopback() {
	PORT=$(free_port)
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = "0.0.0.0:$PORT"; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };
CONF
	start_arbord "$T/tree.conf" || return 1
	console_cookie "$T/jar" || return 1
	[[ $(cat "$T/signin") == "http://127.0.0.1:$PORT/login?token="* ]] || fail "the link: $(cat "$T/signin")" || return 1
	[ "$(code_of "$(url /api/status)")" = 200 ] || fail "the loopback is not the listener's own" || return 1
	[ "$(code_of -H 'Host: evil.example' "$(url /api/status)")" = 421 ] || fail "a wildcard listener takes any Host"
}

# console_auth = "none": open, said at start and by arborctl daemon.
test_console_auth_none_is_open_and_warns() {
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'console_auth = "none";'
	start_arbord "$T/tree.conf" || return 1
	wait_for "metrics" curl -sf -o /dev/null "$(url /metrics)" || return 1
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$(url /api/status)")" = 200 ] || fail "none still wants a cookie" || return 1
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$(url /)")" = 200 ] || fail "none still wants a cookie for /" || return 1
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$(url /)")" = 421 ] || fail "none skips the Host check" || return 1
	log_has 'console_auth = "none"' || fail "no warning at start" || return 1
	ctl daemon | grep -q '^warning: observability.console_auth = "none"' || fail "arborctl daemon: $(ctl daemon)" || return 1
	[ "$(ctl console)" = "http://127.0.0.1:$PORT/" ] || fail "arborctl console: $(ctl console)"
}

# Bad keys are errors at their line; a console that is off says so.
test_console_keys_are_checked() {
	local out
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'console_auth = "maybe";'
	out=$("$ARBORD" -c "$T/tree.conf" --check 2>&1) && fail "console_auth = maybe was taken" || true
	grep -q "tree.conf:1: observability: console_auth: expected \"token\" or \"none\", got \"maybe\"" <<<"$out" ||
		fail "the error: $out" || return 1
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'console_hosts = ["ok.example", "evil.example:80"];'
	out=$("$ARBORD" -c "$T/tree.conf" --check 2>&1) && fail "a host with a port was taken" || true
	grep -q 'tree.conf:1: observability: console_hosts\[1\]: "evil.example:80" is not a host name' <<<"$out" ||
		fail "the error: $out" || return 1
	con_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }' 'console = false;'
	start_arbord "$T/tree.conf" || return 1
	out=$(ctl console 2>&1); [ $? = 1 ] || fail "arborctl console with the console off: $out" || return 1
	grep -q 'the console is off' <<<"$out" || fail "arborctl console: $out"
}
