# SPDX-License-Identifier: BSD-2-Clause
# Idle cost and bounded resources of arbord itself (docs/ARCHITECTURE.md: the core loop).
# lanes: alone (idle wake-ups and memory are measured: nothing may run beside it)

# Context switches of a process's core (main) thread: it changes only when
# that thread wakes up. The observability thread has a heartbeat of its own.
switches() {
	awk '/ctxt_switches/ { n += $2 } END { print n }' /proc/"$1"/task/"$1"/status
}

# Workers whose output is not captured: the output helper's heartbeat
# (arbord(8), FAULT DOMAINS) would wake the core ten times a second.
test_idle_arbord_never_wakes() {
	conf tree <<CONF
tree = { strategy = "one_for_one"; children = (
  { name = "a"; command = ["/bin/sleep", "1000"]; stdout = "null"; stderr = "null"; },
  { name = "b"; command = ["/bin/sleep", "1000"]; shutdown = 100000; stdout = "null"; stderr = "null"; }
); };
CONF
	start_arbord "$T/tree.conf"
	local before=$(switches "$ARBORD_PID")
	sleep 1.5	# measuring an absence: nothing to wait on
	assert_eq "core thread context switches over 1.5 s idle" "$before" "$(switches "$ARBORD_PID")"
}

heap_now() { ctl daemon | awk '$1 == "heap_bytes" { print $2 }'; }

test_crash_loop_costs_no_memory_or_fds() {
	# No metrics listener: the default port, taken by another lane's
	# arbord, is retried with backoff, and its socket would count here.
	conf tree <<CONF
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; intensity = 10000; period = 1; children = (
  { name = "crasher"; command = ["/bin/false"]; }
); };
CONF
	# Under ASan, freed memory waits in a quarantine (to catch use after
	# free) and RSS grows by design; without it RSS means what it says.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0 \
		start_arbord "$T/tree.conf"
	# Past warm-up (allocator arenas, BPF maps) before the first sample.
	# Under a sanitizer, where only fds are judged, 1,000 cycles between
	# the samples (a leak of one a cycle shows as a thousand), not 2,000.
	local first=1000 last=3000
	sanitized && first=500 last=1500
	wait_for "$first restarts" bash -c "[ \$($ARBORCTL -s $T/sock status root/crasher --json | jq .restarts) -ge $first ]" || return 1
	local fds1=$(min_fds "$ARBORD_PID") heap1=$(heap_now)
	local rss1=$(awk '/VmRSS/ { print $2 }' /proc/"$ARBORD_PID"/status)
	wait_for "$last restarts" bash -c "[ \$($ARBORCTL -s $T/sock status root/crasher --json | jq .restarts) -ge $last ]" || return 1
	local fds2=$(min_fds "$ARBORD_PID") heap2=$(heap_now)
	local rss2=$(awk '/VmRSS/ { print $2 }' /proc/"$ARBORD_PID"/status)
	echo "fds $fds1 -> $fds2, heap $heap1 -> $heap2 bytes, rss ${rss1}k -> ${rss2}k"
	# 2000 cycles lie between the samples: a leak of one fd per cycle shows
	# as thousands; a worker's pidfd open or not moves the count by one.
	[ $((fds2 - fds1)) -le 2 ] || fail "open fds grew from $fds1 to $fds2" || return 1
	# A sanitizer's allocator is not the one mallinfo2 counts, and its own
	# bookkeeping grows RSS: memory is judged on the build users run (the
	# sanitizer run checks for leaks at exit).
	if sanitized; then
		echo "memory not judged under a sanitizer"
		return 0
	fi
	# The heap in use is the leak's measure: 32 bytes a cycle would be
	# 64k. RSS gets a page budget of its own: the intensity window (10001
	# slots of 8 bytes) is touched page by page as it turns (up to 80k),
	# and 120k was seen in one run of make check.
	[ $((heap2 - heap1)) -le 32768 ] || fail "heap grew from $heap1 to $heap2 bytes" || return 1
	[ $((rss2 - rss1)) -le 256 ] || fail "RSS grew from ${rss1}k to ${rss2}k"
}
