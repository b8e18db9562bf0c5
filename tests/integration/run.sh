#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs every test_* function of tests/integration/t_*.sh, each in a subshell
# with a fresh directory and a hard timeout. Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
pass=0 failed=0 skipped=0 failures=()
only=${1:-}
# A space-separated list of test files to run (default: all).
files=${FILES:-$(cd "$here" && ls t_*.sh)}
# ONLY: a regex of the FILE:TEST names to run (as t_obs:test_no_bpf_option);
# EXCEPT: a regex of those to leave out.
# ARBOR_TIME_SCALE: the tests' time limits (each test's, wait_for's) times
# this, on a slower machine (tests/vm/run.sh: 8 under TCG).
export ARBOR_TIME_SCALE=${ARBOR_TIME_SCALE:-1}

# cgroup_leftovers DIR: kills and removes the cgroup bases of arbords
# whose control socket was in DIR (arbord(8), CONTAINMENT: their names).
# Processes killed there may take a while to be reaped (by init, once
# arbord is gone): what cannot go yet is tried again at the end.
leftover_bases=()
cgroup_leftovers() {
	local base
	for base in $(find /sys/fs/cgroup -maxdepth 4 -type d \
	    -name "arbor-$(echo "${1#/}" | tr / -)-*" 2>/dev/null); do
		[ -e "$base/cgroup.kill" ] && echo 1 >"$base/cgroup.kill" 2>/dev/null
		find "$base" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$base" ] && leftover_bases+=("$base")
	done
	true
}

# run_file FILE: runs FILE's tests, printing a line each (and a failure's
# output), counting them in pass, failed, skipped and failures.
run_file() {
	local f=$1 file name t dir start rc secs err limit
	file=$here/$f
	# A file that does not parse would silently lose its tests.
	if ! err=$(bash -n "$file" 2>&1); then
		# Counted once: a file run in parts fails in one of the lanes'.
		[ -n "${part_only:-}" ] && return
		[ -n "${part_k:-}" ] && [ "$part_k" != 1 ] && return
		failed=$((failed + 1))
		failures+=("$f")
		echo "FAIL $f does not parse:"
		echo "$err" | sed 's/^/    /'
		return
	fi
	# A file may give its tests a longer limit: a line "# timeout: SECONDS".
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$file" | head -n 1)
	limit=$((${limit:-120} * ARBOR_TIME_SCALE))
	for t in $(bash -c "source '$here/lib.sh'; source '$file'; declare -F" |
	    awk '{print $3}' | grep '^test_'); do
		name="$(basename "$file" .sh):$t"
		[ -n "$only" ] && [[ $name != *$only* ]] && continue
		[ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]] && continue
		[ -n "${EXCEPT:-}" ] && [[ $name =~ $EXCEPT ]] && continue
		[ -n "${part_only:-}" ] && ! [[ $name =~ $part_only ]] && continue
		[ -n "${part_except:-}" ] && [[ $name =~ $part_except ]] && continue
		# A file split across the lanes: each of its parts takes the
		# next of its tests that no other part has taken.
		[ -n "${part_claims:-}" ] && ! mkdir "$part_claims/$t" 2>/dev/null && continue
		dir=$(mktemp -d /tmp/arbor-it.XXXXXX)
		start=$EPOCHREALTIME
		# Each test has a session of its own; whatever it leaves running
		# there (arbord, workers, helpers) is killed when it ends.
		setsid --wait timeout -k 5 "$limit" bash -c "
			set -u
			T='$dir'
			# Worker logs (systemd's LogsDirectory=, arbor.conf(5)) stay
			# in the test's directory.
			export LOGS_DIRECTORY='$dir/logs'
			source '$here/lib.sh'
			source '$file'
			cleanup() {
				[ -n \"\${ARBORD_PID:-}\" ] && kill -9 \"\$ARBORD_PID\" 2>/dev/null
				for p in \$(pgrep -s 0); do
					[ \"\$p\" != \$\$ ] && [ \"\$p\" != \$BASHPID ] && [ \"\$p\" != \$PPID ] && kill -9 \"\$p\" 2>/dev/null
				done
				true
			}
			trap cleanup EXIT
			$t
		" >"$dir/out" 2>&1
		rc=$?
		# What the test's arbords left in cgroupfs (one was SIGKILLed,
		# say): its base is named after the socket in $dir.
		cgroup_leftovers "$dir"
		# A sanitizer report from arbord fails the test whatever it asserted.
		if [ $rc -eq 0 ] && grep -qsE 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$dir"/log "$dir"/out; then
			echo "sanitizer report:" >>"$dir/out"
			grep -hE -A20 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$dir"/log >>"$dir/out"
			rc=1
		fi
		secs=$(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $start }")
		if [ $rc -eq 0 ]; then
			pass=$((pass + 1))
			echo "ok   $name (${secs}s)"
			grep '^report:' "$dir/out" | sed 's/^/    /'	# figures a test measured
		elif [ $rc -eq 77 ]; then
			skipped=$((skipped + 1))
			echo "skip $name: $(tail -n 1 "$dir/out")"
		else
			failed=$((failed + 1))
			failures+=("$name")
			echo "FAIL $name (rc=$rc, ${secs}s)"
			sed 's/^/    /' "$dir/out"
		fi
		rm -rf "$dir"
	done
}

# LANES=N runs the files N at a time (make check: 2, one a core; the tests
# mostly wait). A lane takes the next file no lane has taken, largest
# first, so that the lanes end together, and prints a file's lines whole
# when it ends. A file with the line "# lanes: alone" (it measures time,
# memory or a flood, or loads the machine itself) runs first, with
# nothing beside it; with "# lanes: alone for REGEX" (REGEX without a
# space: what follows one is a comment), only its tests whose names match
# REGEX do, and the rest run in the lanes. A file with the line "# lanes:
# split" (one much longer than the others: t_containment in the VM), or
# every file when there are fewer than lanes (make check's TSan pass:
# t_output alone, some 100 s), is split into as many parts as lanes, each
# part taking the file's next test that no other has taken, so that no
# lane idles and they end together.
lanes=${LANES:-1}
if [ "$lanes" -le 1 ]; then
	for f in $files; do
		run_file "$f"
	done
else
	alone='' shared=''
	declare -A alone_for=()
	for f in $files; do
		re=$(sed -n 's/^# lanes: alone for \([^ ]*\).*/\1/p' "$here/$f" | head -n 1)
		if [ -n "$re" ]; then
			alone_for[$f]=$re
			shared+=" $f"
		elif grep -q '^# lanes: alone' "$here/$f"; then
			alone+=" $f"
		else
			shared+=" $f"
		fi
	done
	for f in $alone; do
		run_file "$f"
	done
	for f in "${!alone_for[@]}"; do
		part_only=${alone_for[$f]} run_file "$f"
	done
	[ -n "$shared" ] && shared=$(cd "$here" && ls -S $shared)
	# A unit of the lanes' queue: FILE, or FILE/K (part K of a split file).
	# Split files come last: their tests, taken one by one, fill the
	# lanes up to a common end.
	split_all=''
	[ "$(echo $shared | wc -w)" -lt "$lanes" ] && split_all=1
	units=$(for f in $shared; do
		[ -z "$split_all" ] && ! grep -q '^# lanes: split' "$here/$f" && echo "$f"
	done
	for f in $shared; do
		[ -z "$split_all" ] && ! grep -q '^# lanes: split' "$here/$f" && continue
		for ((k = 1; k <= lanes; k++)); do echo "$f/$k"; done
	done)
	q=$(mktemp -d /tmp/arbor-lanes.XXXXXX)
	for ((l = 1; l <= lanes; l++)); do
		(
			pass=0 failed=0 skipped=0 failures=() leftover_bases=()
			for u in $units; do
				mkdir "$q/taken.${u//\//.}" 2>/dev/null || continue
				f=${u%/*} part_k='' part_claims=''
				if [ "$f" != "$u" ]; then
					part_k=${u##*/} part_claims=$q/claims.$f
					mkdir -p "$part_claims"
				fi
				part_except=${alone_for[$f]:-} part_k=$part_k part_claims=$part_claims \
					run_file "$f" >"$q/out.$l" 2>&1
				flock "$q/lock" cat "$q/out.$l"
			done
			printf '%s\n' "${failures[@]}" >"$q/failures.$l"
			printf '%s\n' "${leftover_bases[@]}" >"$q/leftovers.$l"
			echo "$pass $failed $skipped" >"$q/counts.$l"
		) &
	done
	wait
	for ((l = 1; l <= lanes; l++)); do
		if ! read -r p fl s <"$q/counts.$l"; then
			failed=$((failed + 1))
			failures+=("lane $l ended before its files did")
			continue
		fi
		pass=$((pass + p)) failed=$((failed + fl)) skipped=$((skipped + s))
		while IFS= read -r x; do
			[ -n "$x" ] && failures+=("$x")
		done <"$q/failures.$l"
		while IFS= read -r x; do
			[ -n "$x" ] && leftover_bases+=("$x")
		done <"$q/leftovers.$l"
	done
	rm -rf "$q"
fi
for ((i = 0; i < 250 && ${#leftover_bases[@]} > 0; i++)); do
	left=()
	for base in "${leftover_bases[@]}"; do
		find "$base" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$base" ] && left+=("$base")
	done
	leftover_bases=("${left[@]}")
	[ ${#left[@]} -gt 0 ] && sleep 0.04
done
[ ${#leftover_bases[@]} -gt 0 ] && echo "cgroups left (not empty after 10 s): ${leftover_bases[*]}"
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "integration: $pass passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
