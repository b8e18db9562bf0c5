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
d=$(mktemp -d /tmp/arbor-vm.XXXXXX)
echo 'tree = { strategy = "one_for_one"; children = ( { name = "w"; command = ["/bin/sleep", "1000"]; } ); };' >"$d/c.conf"
"$BUILD/arbord" -c "$d/c.conf" -s "$d/sock" >"$d/log" 2>&1 &
pid=$!
for ((i = 0; i < 300 * ARBOR_TIME_SCALE; i++)); do
	grep -qE 'eBPF probes attached|eBPF unavailable' "$d/log" && break
	sleep 0.1
done
"$BUILD/arborctl" -s "$d/sock" shutdown >/dev/null 2>&1 || kill -9 $pid
wait $pid
if grep -q 'eBPF probes attached' "$d/log"; then
	echo "vm: arbord's $(grep -m 1 -o 'eBPF probes attached.*' "$d/log")"
	grep -o 'warning: eBPF probe .*' "$d/log" | sed 's/^/vm: /'
elif grep -q 'built without BPF' "$d/log"; then
	echo "vm: arbord's eBPF not checked: $(grep -m 1 -o 'eBPF unavailable.*' "$d/log")"
else
	echo "vm: FAIL: arbord's eBPF on $(uname -r): $(grep -m 1 eBPF "$d/log" || echo 'no word of it in 30 s')"
	fail=1
fi
rm -rf "$d"
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
