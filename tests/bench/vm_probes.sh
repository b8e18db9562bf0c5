#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# arbord's eBPF on Debian 12's own kernel (6.1), in the VM of make vm-check:
# whether the probes attach, which program each probe runs there, and how
# long loading and attaching took. No timing ratios: under TCG they mean
# nothing. Figures only, never a test.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
kdir=${1:?usage: vm_probes.sh KERNEL_DIR}
out=$(VM_FILES=t_obs.sh VM_ONLY='^t_obs:test_every_probe_runs_on_this_kernel$' VM_EXCEPT='^$' \
	"$root/tests/vm/run.sh" "$kdir" 2>&1)
echo "$out" | grep -aE '^vm: Linux|^vm: arbord|^vm: .*eBPF|^vm-check: skipped|report:' | sed 's/^ *//'
