# SPDX-License-Identifier: BSD-2-Clause
# Prometheus endpoint, event log rotation, events, traces, dashboards and
# alerts (arbord(8), arborctl(8)).

exp_conf() {
	PORT=${PORT:-$(free_port)}
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = "127.0.0.1:$PORT"; event_log = "$T/events.jsonl"; ${2:-} };
tree = { strategy = "one_for_one"; intensity = 1000; period = 10; children = (
$1
); };
CONF
}

scrape() { curl -sf "$@" "http://127.0.0.1:$PORT/metrics"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

test_metrics_endpoint() {
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; },
{ name = "odd-name.x_y"; strategy = "simple_one_for_one"; template = { name = "c.d-e"; command = ["/bin/sleep", "1000"]; }; }'
	start_arbord "$T/tree.conf" || return 1
	ctl start-child root/odd-name.x_y >/dev/null || return 1
	wait_for "endpoint up" scrape -o /dev/null || return 1
	scrape >"$T/plain" || return 1
	promtool check metrics <"$T/plain" >&2 || fail "promtool check metrics failed" || return 1
	grep -qx 'arbor_child_up{path="root/w"} 1' "$T/plain" || fail "no arbor_child_up for root/w" || return 1
	grep -q 'arbor_child_up{path="root/odd-name.x_y"} 1' "$T/plain" || fail "odd pool path missing" || return 1
	for m in arbor_child_restarts_total arbor_child_exits_total arbor_supervisor_give_ups_total \
	    arbor_restart_latency_seconds arbor_exit_detect_latency_seconds arbor_ready_latency_seconds \
	    arbor_runqueue_latency_seconds arbor_oom_kills_total arbor_bpf_enabled \
	    arbor_obs_events_dropped_total arbor_obs_restarts_total process_cpu_seconds_total \
	    process_resident_memory_bytes process_open_fds process_start_time_seconds; do
		grep -q "^# TYPE $m " "$T/plain" || fail "no TYPE for $m" || return 1
	done
	# gzip when asked, plain otherwise; same families either way
	curl -sf -D "$T/headers" -H 'Accept-Encoding: gzip' -o "$T/body.gz" "http://127.0.0.1:$PORT/metrics" || return 1
	grep -qi '^content-encoding: gzip' "$T/headers" || fail "no gzip encoding" || return 1
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers" || fail "content type" || return 1
	gunzip -c "$T/body.gz" >"$T/unzipped" || fail "not gzip" || return 1
	assert_eq "same families" "$(grep '^# TYPE' "$T/plain")" "$(grep '^# TYPE' "$T/unzipped")" || return 1
	assert_eq "404" 404 "$(http_code "http://127.0.0.1:$PORT/other")" || return 1
	assert_eq "405" 405 "$(http_code -X POST "http://127.0.0.1:$PORT/metrics")" || return 1
	# arborctl metrics prints the same exposition
	ctl metrics | grep -qx 'arbor_child_up{path="root/w"} 1' || fail "arborctl metrics differs"
}

test_child_up_follows_readiness() {
	exp_conf "{ name = \"late\"; command = [\"/usr/bin/env\", \"python3\", \"$HELPERS/notifier.py\", \"--delay\", \"2\", \"--ready\"]; ready = \"notify\"; }"
	start_arbord "$T/tree.conf" || return 1
	local up=$(ctl metrics | awk '$1 == "arbor_child_up{path=\"root/late\"}" { print $2 }')
	assert_eq "up before READY=1 (no series or 0)" 0 "${up:-0}" || return 1
	wait_for "ready" is_state root/late running || return 1
	wait_for "up after READY=1" bash -c "$ARBORCTL -s $T/sock metrics | grep -qx 'arbor_child_up{path=\"root/late\"} 1'"
}

# series_of PATH: the samples labelled path="PATH" exactly.
series_of() { grep -v '^#' "$T/m" | grep -F "{path=\"$1\"" ; }

# SPEC: a static worker costs at most 12 series, histograms per supervisor by
# default; here 9, pressure going with the histograms to the supervisor
# (whose cgroup counts its workers' stalls). The worker here has exited for
# all three reasons.
test_a_static_worker_costs_at_most_twelve_series() {
	exp_conf '{ name = "w"; restart = "transient"; restart_delay = 10;
  command = ["/bin/sh", "-c", "while [ ! -e '"$T"'/go ]; do sleep 0.02; done; [ -e '"$T"'/crashed ] || { touch '"$T"'/crashed; exit 1; }; [ -e '"$T"'/done ] || { touch '"$T"'/done; exit 0; }; exec sleep 1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	# The crash comes once the probes are there (if they can be): the
	# restart gap needs their exec time.
	local bpf=0
	wait_for "bpf attached" bash -c "$ARBORCTL -s $T/sock metrics | grep -qx 'arbor_bpf_enabled 1'" 2>/dev/null && bpf=1
	touch "$T/go"
	wait_for "a crash and a normal exit" test -e "$T/done" || return 1
	# Its normal exit reaped (a start before it would be refused: it runs).
	wait_for "w stopped" is_state root/w stopped || return 1
	ctl start root/w >/dev/null || return 1
	wait_for "w running" is_state root/w running || return 1
	ctl restart root/w || return 1
	wait_for "w running again" is_state root/w running || return 1
	wait_for "three exit reasons" bash -c "[ \$($ARBORCTL -s $T/sock metrics | grep -c '^arbor_child_exits_total{path=\"root/w\"') = 3 ]" || return 1
	ctl metrics >"$T/m" || return 1
	local n=$(series_of root/w | wc -l)
	echo "report: root/w: $n series: $(series_of root/w | sed 's/{.*//' | sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')"
	[ "$n" -le 9 ] || fail "root/w has $n series" || return 1
	series_of root/w | grep -q '_bucket' && { fail "a histogram per worker by default"; return 1; }
	series_of root/w | grep -q '^arbor_child_pressure' && { fail "pressure per worker by default"; return 1; }
	local psi=0
	series_of root | grep -q '^arbor_child_pressure_seconds_total{path="root",resource="cpu"}' && psi=1
	# Where arbord runs in cgroups with pressure files, root has them.
	# (the v2 hierarchy's root: /sys/fs/cgroup/unified on a hybrid host,
	# /sys/fs/cgroup on a pure v2 one)
	if log_has 'containment: cgroup' && { [ -e /sys/fs/cgroup/unified/cpu.pressure ] ||
	    [ -e /sys/fs/cgroup/cpu.pressure ]; }; then
		[ $psi = 1 ] || fail "no pressure for the supervisor: $(series_of root | grep -v _bucket)" || return 1
	else
		echo "no cgroup pressure files here: pressure not checked"
	fi
	if [ $bpf = 1 ]; then
		series_of root | grep -q '^arbor_restart_latency_seconds_count{path="root"} [1-9]' ||
			fail "no restart-latency histogram for the supervisor: $(series_of root | grep -v _bucket)" || return 1
	else
		echo "no BPF here: the supervisor's restart-latency histogram not checked"
	fi
	stop_arbord
	# histograms = "worker": the worker has them again.
	exp_conf "{ name = \"w\"; command = [\"/usr/bin/env\", \"python3\", \"$HELPERS/notifier.py\", \"--ready\"]; ready = \"notify\"; }" 'histograms = "worker";'
	start_arbord "$T/tree.conf" || return 1
	wait_for "a worker's ready histogram" bash -c "$ARBORCTL -s $T/sock metrics | grep -q '^arbor_ready_latency_seconds_count{path=\"root/w\"} 1'" || return 1
	if [ $psi = 1 ]; then
		ctl metrics >"$T/m" || return 1
		series_of root/w | grep -q '^arbor_child_pressure_seconds_total{path="root/w",resource="io"}' ||
			fail "no pressure per worker with histograms = worker" || return 1
	fi
}

# A pool's children are counted under their supervisor: a day of short
# children leaves no series of their own.
test_pool_children_are_counted_under_their_supervisor() {
	# The crashers restart every 10 ms until terminated one by one, which
	# takes seconds under a sanitizer: the pool's intensity must outlast it.
	exp_conf '{ name = "pool"; strategy = "simple_one_for_one"; intensity = 100000; period = 10;
  template = { name = "job"; restart = "transient"; command = ["/bin/sh", "-c", "[ \"$0\" = stay ] && exec sleep 1000; exit 1"]; restart_delay = 10; }; }'
	start_arbord "$T/tree.conf" || return 1
	local i
	for i in 1 2 3; do ctl start-child root/pool stay >/dev/null || return 1; done
	for i in $(seq 20); do ctl start-child root/pool >/dev/null || return 1; done
	# At least the three stayers (crashers restarted every 10 ms are up
	# at most moments on a slow machine: exactly 3 may never be seen).
	wait_for "3 up" bash -c "$ARBORCTL -s $T/sock metrics | awk '\$1 == \"arbor_child_up{path=\\\"root/pool\\\"}\" && \$2 >= 3 { f = 1 } END { exit !f }'" || return 1
	# The crashers are restarted until each is given up... by the pool's
	# intensity or terminated: terminate them all, which removes them.
	for i in $(seq 4 23); do ctl terminate-child "root/pool/job.$i" >/dev/null 2>&1; done
	wait_for "crashers gone" bash -c "[ \$($ARBORCTL -s $T/sock status root/pool --json | jq '.children | length') = 3 ]" || return 1
	ctl metrics >"$T/m" || return 1
	grep -v '^#' "$T/m" | grep -q 'path="root/pool/' && { fail "series of a pool child: $(grep 'path="root/pool/' "$T/m" | head -3)"; return 1; }
	local r=$(ctl status root/pool --json | jq '[.children[].restarts] | add')
	assert_eq "up" 3 "$(series_of root/pool | awk '$1 == "arbor_child_up{path=\"root/pool\"}" { print $2 }')" || return 1
	[ "$(series_of root/pool | awk '/^arbor_child_restarts_total/ { print $2 }')" -ge 20 ] ||
		fail "pool restarts: $(series_of root/pool | grep restarts)"
}

test_real_prometheus_scrapes_arbord() {
	command -v prometheus >/dev/null || { echo "prometheus not installed"; return 77; }
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	local pport=$(free_port)
	cat >"$T/prom.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$ROOT/exporters/prometheus/arbor-alerts.yml" ]
scrape_configs:
  - job_name: arbor
    static_configs: [ { targets: [ "127.0.0.1:$PORT" ] } ]
YML
	prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/tsdb" \
		--web.listen-address="127.0.0.1:$pport" >"$T/prom.log" 2>&1 &
	local prom=$!
	local q="http://127.0.0.1:$pport/api/v1/query?query=arbor_child_up%7Bpath%3D%22root%2Fw%22%7D"
	local i ok=
	for ((i = 0; i < 300; i++)); do
		if [ "$(curl -s "$q" | jq -r '.data.result[0].value[1] // empty' 2>/dev/null)" = 1 ]; then
			ok=1
			break
		fi
		sleep 0.1
	done
	kill "$prom"
	wait "$prom" 2>/dev/null
	[ -n "$ok" ] || fail "Prometheus never returned arbor_child_up for root/w: $(tail -n 5 "$T/prom.log")"
}

test_event_log_rotates_into_gzip() {
	exp_conf '{ name = "crasher"; command = ["/bin/false"]; }' 'event_log_max_bytes = 4096; event_log_keep = 2;'
	start_arbord "$T/tree.conf" || return 1
	wait_for "two rotations" test -e "$T/events.jsonl.2.gz" || return 1
	wait_for "a third" bash -c "[ \$(gunzip -c $T/events.jsonl.1.gz | wc -l) -gt 0 ]" || return 1
	[ ! -e "$T/events.jsonl.3.gz" ] || fail "more than event_log_keep files" || return 1
	for f in "$T/events.jsonl.1.gz" "$T/events.jsonl.2.gz"; do
		gunzip -c "$f" | jq -e . >/dev/null || fail "$f: not gzip JSON lines" || return 1
		[ "$(gunzip -c "$f" | wc -c)" -le 4096 ] || fail "$f: over event_log_max_bytes" || return 1
	done
	# Between a rotation and the next line, the current file may not exist.
	[ ! -e "$T/events.jsonl" ] || [ "$(stat -c %s "$T/events.jsonl" 2>/dev/null || echo 0)" -le 4096 ] ||
		fail "current file over its limit"
}

test_events_follow_sees_exit_and_restart() {
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	ctl events >"$T/recent" || return 1
	grep -q '"event":"spawn","path":"root/w"' "$T/recent" || fail "recent events missing the spawn" || return 1
	ctl events --follow >"$T/follow" &
	local follower=$! p=$(pid_of root/w)
	sleep 0.2	# let the follower register before the kill
	kill -9 "$p"
	wait_for "exit followed" grep -q "\"event\":\"exit\",\"path\":\"root/w\",\"pid\":$p" "$T/follow" || return 1
	wait_for "restart followed" grep -q '"event":"restart","path":"root/w"' "$T/follow" || return 1
	kill "$follower"
}

test_trace_is_strictly_nested_and_names_the_worker() {
	exp_conf '{ name = "flappy"; command = ["/bin/sh", "-c", "sleep 0.3; exit 1"]; }'
	start_arbord "$T/tree.conf" || return 1
	ctl trace --duration 1.5 -o "$T/trace.json" || return 1
	jq -e . "$T/trace.json" >/dev/null || fail "trace is not JSON" || return 1
	local tid=$(jq -r '.traceEvents[] | select(.ph == "M" and .name == "thread_name" and .args.name == "root/flappy") | .tid' "$T/trace.json")
	[ -n "$tid" ] || fail "no track named root/flappy" || return 1
	# Spans of one track never overlap, in time order.
	jq -e --argjson tid "$tid" '[.traceEvents[] | select(.ph == "X" and .tid == $tid)] | sort_by(.ts)
		| (length >= 4) and ([range(1; length) as $i | .[$i - 1].ts + .[$i - 1].dur <= .[$i].ts + 0.001] | all)' \
		"$T/trace.json" >/dev/null || fail "spans overlap or too few: $(jq -c '[.traceEvents[] | select(.ph == "X") | [.name, .ts, .dur]]' "$T/trace.json")" || return 1
	for name in down start up; do
		jq -e --arg n "$name" '[.traceEvents[] | select(.ph == "X" and .name == $n)] | length > 0' "$T/trace.json" >/dev/null ||
			fail "no $name span" || return 1
	done
	ctl trace --duration 0 -o "$T/x.json" 2>/dev/null
	assert_eq "bad duration" 2 "$?"
}

test_taken_port_and_unwritable_log_leave_supervision_alone() {
	# The holder takes a port of its own choosing (a port found free and
	# then bound was once taken by another process in between).
	python3 -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); open('$T/port.tmp', 'w').write(str(s.getsockname()[1])); __import__('os').rename('$T/port.tmp', '$T/port'); time.sleep(3)" &
	local holder=$!
	wait_for "the port held" test -s "$T/port" || return 1
	PORT=$(cat "$T/port")
	touch "$T/not-a-dir"
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = "127.0.0.1:$PORT"; event_log = "$T/not-a-dir/events.jsonl"; };
tree = { strategy = "one_for_one"; intensity = 10; children = (
  { name = "w"; command = ["/bin/sleep", "1000"]; }
); };
CONF
	start_arbord "$T/tree.conf" || return 1
	wait_for "port refusal logged" log_has "metrics: cannot listen on 127.0.0.1:$PORT" || return 1
	wait_for "log refusal logged" log_has "event log $T/not-a-dir/events.jsonl: directory: $T/not-a-dir: Not a directory" || return 1
	local p=$(pid_of root/w)
	kill -9 "$p"
	wait_for "restart as usual" is_running_new root/w "$p" || return 1
	wait "$holder"
	# Once the port is free, the retry takes it.
	wait_for "listening after the retry" scrape -o /dev/null || return 1
	assert_eq "the port was said once" 1 "$(grep -c 'metrics: cannot listen' "$T/log")"
}

test_scrape_flood_leaves_supervision_alone() {
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	wait_for "endpoint up" scrape -o /dev/null || return 1
	local curls=() i
	for ((i = 0; i < 200; i++)); do
		curl -s -o /dev/null -m 5 "http://127.0.0.1:$PORT/metrics" &
		curls+=($!)
	done
	local p=$(pid_of root/w)
	kill -9 "$p"
	wait_for "restart during the flood" is_running_new root/w "$p" || return 1
	wait "${curls[@]}"
	# The observability side may be restarted by its watchdog under such a
	# flood (under TSan it was): that is its design, and the endpoint is
	# back within the restart delay. Gone for good would be the fault.
	wait_for "the endpoint after the flood" scrape -o /dev/null || return 1
	if grep -q "helper observability hung" "$T/log"; then
		echo "report: the observability helper was restarted during the flood"
	fi
}

# Three hosts' arbords scraped by one real Prometheus: every series comes
# per instance, each dashboard panel keeps the hosts apart (no series of a
# panel without its instance), and a crash loop on one host is that host's
# alone in the alert's expression.
test_a_fleet_of_three_in_one_prometheus() {
	command -v prometheus >/dev/null || { echo "prometheus not installed"; return 77; }
	local h p web targets= crasher= pids=()
	for h in 1 2 3; do
		mkdir -p "$T/h$h"
		p=$(free_port)
		web='{ name = "web"; command = ["/bin/sleep", "1000"]; }'
		[ $h = 2 ] && { web='{ name = "web"; command = ["/bin/sh", "-c", "sleep 0.2; exit 1"]; }'; crasher="127.0.0.1:$p"; }
		cat >"$T/h$h/tree.conf" <<CONF
observability = { metrics_listen = "127.0.0.1:$p"; };
tree = { strategy = "one_for_one"; intensity = 1000; period = 10; children = (
  $web,
  { name = "db"; command = ["/bin/sleep", "1000"]; }
); };
CONF
		"$ARBORD" -c "$T/h$h/tree.conf" -s "$T/h$h/sock" >"$T/h$h/log" 2>&1 &
		pids+=($!)
		targets+="${targets:+, }\"127.0.0.1:$p\""
	done
	local pport=$(free_port)
	cat >"$T/prom.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: arbor
    static_configs: [ { targets: [ $targets ] } ]
YML
	prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/tsdb" \
		--web.listen-address="127.0.0.1:$pport" >"$T/prom.log" 2>&1 &
	local prom=$!
	query() { curl -s --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
	hosts_up() { [ "$(query 'count by (instance) (arbor_child_up)' | jq '.data.result | length')" = 3 ]; }
	crash_seen() { query 'increase(arbor_child_restarts_total[5m]) > 5' | jq -e '.data.result | length > 0' >/dev/null; }
	local ok=1
	wait_for "three instances in Prometheus" hosts_up || ok=
	[ -n "$ok" ] && { wait_for "the crash loop in Prometheus" crash_seen || ok=; }
	if [ -n "$ok" ]; then
		assert_eq "the crash loop's series" "$crasher root/web" \
			"$(query 'increase(arbor_child_restarts_total[5m]) > 5' | jq -r '.data.result[] | "\(.metric.instance) \(.metric.path)"' | sort -u | tr '\n' ' ' | sed 's/ $//')" || ok=
	fi
	# Each panel's query, as Grafana would send it for all hosts.
	local expr n=0
	while [ -n "$ok" ] && IFS= read -r expr; do
		expr=${expr//\$__rate_interval/1m}
		expr=${expr//\$instance/.*}
		query "$expr" >"$T/q" || { ok=; break; }
		[ "$(jq -r .status "$T/q")" = success ] || { fail "panel query failed: $expr: $(cat "$T/q")"; ok=; break; }
		if jq -e '[.data.result[] | select((.metric.instance // "") == "")] | length > 0' "$T/q" >/dev/null; then
			fail "a panel's series without its instance: $expr: $(jq -c '.data.result[0].metric' "$T/q")"
			ok=
		fi
		n=$((n + 1))
	done < <(jq -r '.panels[].targets[].expr' "$ROOT/exporters/dashboards/arbor.json")
	[ -n "$ok" ] && echo "report: $n panel queries against 3 instances, each series per instance"
	kill "$prom"
	wait "$prom" 2>/dev/null
	for h in 1 2 3; do "$ARBORCTL" -s "$T/h$h/sock" shutdown >/dev/null 2>&1; done
	wait "${pids[@]}" 2>/dev/null
	[ -n "$ok" ] || fail "fleet: $(tail -n 3 "$T/prom.log")"
}

test_dashboard_and_alerts() {
	command -v promtool >/dev/null || { echo "promtool not installed"; return 77; }
	promtool check rules "$ROOT/exporters/prometheus/arbor-alerts.yml" >&2 || fail "rules" || return 1
	(cd "$ROOT/exporters/prometheus" && promtool test rules arbor-alerts.test.yml) >&2 || fail "rule tests" || return 1
	jq -e '.panels | length >= 6' "$ROOT/exporters/dashboards/arbor.json" >/dev/null || fail "dashboard" || return 1
	# Every metric the dashboard queries is one arbord exports.
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	wait_for "endpoint up" scrape -o /dev/null || return 1
	scrape | awk '/^# TYPE/ { print $3 }' >"$T/exported"
	jq -r '.panels[].targets[].expr' "$ROOT/exporters/dashboards/arbor.json" |
		grep -oE '(arbor|process)_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' | sort -u >"$T/used"
	local missing=$(comm -23 "$T/used" <(sort -u "$T/exported"))
	[ -z "$missing" ] || fail "dashboard queries metrics arbord does not export: $missing"
}

# 200 half-sent requests from 8 loopback addresses: a new connection is
# answered or closed promptly, never left in the backlog, the half-sent
# ones are cut after seconds, and a scrape gets through while they are all
# still held open.
test_half_sent_requests_do_not_hold_the_listener() {
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	wait_for "endpoint up" scrape -o /dev/null || return 1
	python3 - "$PORT" >"$T/holder" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(200):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))
    s.connect(("127.0.0.1", port))
    s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    held.append(s)
print("held", flush=True)
time.sleep(60)
PY
	local holder=$!
	wait_for "half-sent requests held" grep -q held "$T/holder" || return 1
	# A new connection is answered or closed promptly, not left waiting.
	curl -s -o /dev/null -m 3 "http://127.0.0.1:$PORT/metrics"
	local rc=$?
	[ $rc != 28 ] || fail "a connection to the full listener hung (curl timed out)" || return 1
	# The half-sent ones are cut within seconds: a scrape gets through.
	wait_for "a scrape while they are held" scrape -m 1 -o /dev/null || return 1
	alive "$holder" || fail "the holder ended early"
	kill "$holder"
}

# slowloris SECS: 500 connections, half of them from the scraper's own
# address, each sending a request line at once and then one header line a
# second, and coming straight back when cut; scrapes meanwhile for SECS
# seconds, each within 2 s, or fails. $T/loris: how many were cut, and the
# longest any was held; LORIS: its pid, still running.
slowloris() {
	python3 - "$PORT" 500 >"$T/loris" 2>&1 <<'PY' &
import resource, selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel = selectors.DefaultSelector()
cuts, longest = 0, 0.0


def slow(i):
    """A connection that starts a request and never ends it."""
    s = socket.socket()
    s.bind(("127.0.0.%d" % (1 + i % 2 * (1 + i % 8)), 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_WRITE, [i, time.time()])


for i in range(n):
    slow(i)
t0 = last = time.time()
while time.time() - t0 < 60:
    for key, ev in sel.select(0.1):
        s, (i, since) = key.fileobj, key.data
        if ev & selectors.EVENT_WRITE:	# connected: the request begins
            try:
                s.send(b"GET /metrics HTTP/1.1\r\n")
                sel.modify(s, selectors.EVENT_READ, key.data)
                continue
            except OSError:
                pass
        # Readable: arbord cut it (an answer would be a fault too).
        longest = max(longest, time.time() - since)
        sel.unregister(s)
        s.close()
        cuts += 1
        slow(i)
    if time.time() - last >= 1:
        last = time.time()
        for key in list(sel.get_map().values()):
            if key.events == selectors.EVENT_READ:
                try:
                    key.fileobj.send(b"X-Slow: %d\r\n" % cuts)
                except OSError:
                    pass	# cut: seen as readable
        print("held %d cut %d longest %.1f" % (n, cuts, longest), flush=True)
PY
	local loris=$! i t0 ms max=0 ok=0 slow="" end
	LORIS=$loris
	wait_for "the slow connections held" grep -q '^held' "$T/loris" || return 1
	sleep 1	# they are all in, and have sent their first lines
	end=$(($(now_us) + $1 * 1000000))
	for ((i = 0; $(now_us) < end; i++)); do
		t0=$(now_us)
		scrape -m 2 -o /dev/null && ok=$((ok + 1)) || slow+=" #$i:curl$?"
		ms=$((($(now_us) - t0) / 1000))
		[ "$ms" -le "$max" ] || max=$ms
		sleep 0.3
	done
	alive "$loris" || fail "the slowloris ended early: $(cat "$T/loris")" || return 1
	alive "$ARBORD_PID" || fail "arbord died" || return 1
	[ "$ok" = "$i" ] || fail "only $ok of $i scrapes got through the slowloris (failed:$slow); $(tail -n 1 "$T/loris")" || return 1
	echo "report: $i scrapes through a 500-connection slowloris, the slowest in $max ms; $(tail -n 1 "$T/loris")"
}

# A slowloris (issue 26 #11) never keeps a scrape out: the idle timeout
# never fires for it; the request deadline (arbord(8), CONSOLE) cuts each
# slow request, however steadily it trickles in.
test_a_slowloris_never_keeps_a_scrape_out() {
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	start_arbord "$T/tree.conf" || return 1
	wait_for "endpoint up" scrape -o /dev/null || return 1
	slowloris 4 || return 1
	# Each is cut at its deadline (5 s from its accept), never held on.
	wait_for "every slow request cut" sh -c "tail -n 1 '$T/loris' | awk '{ exit !(\$4 >= 500) }'" || return 1
	kill "$LORIS"
	echo "report: every slow request cut at its deadline: $(tail -n 1 "$T/loris")"
}

# With a small fd limit, the requests still arriving are fewer than the
# slowloris's 500: a newcomer cuts the oldest slow one at once, and a
# scrape, which sends its request whole, is never the one cut.
test_a_slowloris_past_the_limit_of_requests_arriving() {
	exp_conf '{ name = "w"; command = ["/bin/sleep", "1000"]; }'
	ulimit -n 1024	# 128 requests arriving at once: an eighth
	start_arbord "$T/tree.conf" || return 1
	wait_for "endpoint up" scrape -o /dev/null || return 1
	slowloris 3 || return 1
	kill "$LORIS"
	# Cut in their first second, long before their deadline: the limit.
	[ "$(head -n 1 "$T/loris" | awk '{ print $4 }')" -gt 0 ] ||
		fail "no slow request was cut past the limit: $(head -n 1 "$T/loris")"
}
