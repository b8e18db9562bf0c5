#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# guest.sh ENV_FILE: in the VM (init chroots here): what the kernel offers,
# then tests/integration/run.sh on each of VM_FILES (ONLY=VM_ONLY), timed.
set -u
. "$1"
cd "$ARBOR_ROOT" || exit 1
echo "vm: Linux $(uname -r), booted in $(cut -d' ' -f1 /proc/uptime) s"
echo "vm: cgroup v2 controllers below the root: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
grep -q ' cgroup ' /proc/mounts && echo "vm: cgroup v1 mounted: $(grep ' cgroup ' /proc/mounts)"
if [ -r /sys/kernel/btf/vmlinux ]; then
	echo "vm: BTF: /sys/kernel/btf/vmlinux"
else
	echo "vm: no /sys/kernel/btf/vmlinux: arbord's eBPF cannot load here"
fi
bpftool btf list >/dev/null 2>&1 && echo "vm: bpf() works as root" || echo "vm: bpf() fails as root"
fail=0

# This kernel has BTF and bpf(): arbord's probes must load here. The BPF
# tests skip wherever arbord says eBPF is unavailable, so that is a failure
# here, said once.
#
# The two arbords started here (keepers) run until the VM powers off,
# holding every tracepoint the probes use. Under TCG, the kernel's live patching of its
# own text when a tracepoint gains its first probe or loses its last one
# (static keys), or goes between one and two (static calls), can livelock
# the two virtual CPUs: one spins on the int3 of a half-patched site in
# __schedule with interrupts off, the other waits for it to take the IPI
# that ends the patching. A CI run hung so (stop 33), and so did one of
# make vm-check's here (stop 34); tests/vm/run.sh then stops the VM. With two
# probes always there, the tests' arbords attach and detach theirs without
# patching anything; what they test of the kernel is unchanged.
keep=$(mktemp -d /tmp/arbor-vm.XXXXXX)
for k in 1 2; do
	cat >"$keep/$k.conf" <<CONF
daemon = { log_dir = ""; };
observability = { metrics_listen = ""; };
tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "100000"]; } ); };
CONF
	"$BUILD/arbord" -c "$keep/$k.conf" -s "$keep/$k.sock" >"$keep/$k.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 300 * ARBOR_TIME_SCALE; i++)); do
		grep -qE 'eBPF probes attached|eBPF unavailable' "$keep/$k.log" && break
		kill -0 "$pid" 2>/dev/null || { echo "exited: $(tail -n 3 "$keep/$k.log")" >>"$keep/$k.log"; break; }
		sleep 0.1
	done
done
d=$keep/1.log
if grep -q 'eBPF probes attached' "$d"; then
	echo "vm: arbord's $(grep -m 1 -o 'eBPF probes attached.*' "$d")"
	grep -o 'warning: eBPF probe .*' "$d" | sed 's/^/vm: /'
	grep -q 'eBPF probes attached' "$keep/2.log" || { echo "vm: FAIL: the second arbord: $(grep -m 1 -E 'eBPF|exited' "$keep/2.log" || echo "no word of it in $((30 * ARBOR_TIME_SCALE)) s")"; fail=1; }
elif grep -q 'built without BPF' "$d"; then
	echo "vm: arbord's eBPF not checked: $(grep -m 1 -o 'eBPF unavailable.*' "$d")"
else
	echo "vm: FAIL: arbord's eBPF on $(uname -r): $(grep -m 1 -E 'eBPF|exited' "$d" || echo "no word of it in $((30 * ARBOR_TIME_SCALE)) s")"
	fail=1
fi
# The BPF programs' own unit test (tests/bpf/test_probes.c), on this kernel.
if [ -x "$BUILD/test_probes" ] && [ "${VM_UNIT:-1}" = 1 ]; then
	echo "vm: test_probes"
	out=$("$BUILD/test_probes" 2>&1) || { echo "$out"; echo "vm: FAIL: test_probes"; fail=1; }
	echo "$out" | grep -E '^\[ *(PASSED|FAILED|SKIPPED) *\]|^probe |^SKIP' | sed 's/^/vm:   /'
fi
# The files in two lanes (run.sh's LANES), one a virtual CPU: the tests
# mostly wait on the emulated kernel.
start=$EPOCHREALTIME
echo "vm: $VM_FILES (in ${VM_LANES:-2} lanes)"
LANES=${VM_LANES:-2} FILES=$VM_FILES ONLY=$VM_ONLY EXCEPT=$VM_EXCEPT tests/integration/run.sh || fail=1
echo "vm: the tests took $(awk "BEGIN { printf \"%.0f\", $EPOCHREALTIME - $start }") s"
echo "vm: done $(cut -d' ' -f1 /proc/uptime) s after boot"
exit $fail
