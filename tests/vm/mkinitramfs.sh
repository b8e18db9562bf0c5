#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mkinitramfs.sh KERNEL_ROOT OUT: the VM's initramfs (gzip'd newc cpio):
# busybox-static, tests/vm/init, and the modules init loads (virtio-pci,
# 9p over virtio, overlay) with their dependencies from modules.dep, in
# load order (written to /modules).
set -eu -o pipefail
kroot=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
ver=$(ls "$kroot/lib/modules" | head -n 1)
mdir=$kroot/lib/modules/$ver
[ -s "$mdir/modules.dep" ] || { echo "mkinitramfs: no $mdir/modules.dep" >&2; exit 1; }
busybox=$(command -v busybox || echo /bin/busybox)
file -L "$busybox" | grep -q 'statically linked' ||
	{ echo "mkinitramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

order=()
# add REL: REL's dependencies first (modules.dep lists them), then REL.
add() {
	local m=$1 d
	for d in "${order[@]}"; do [ "$d" = "$m" ] && return; done
	for d in $(awk -F': *' -v m="$m" '$1 == m { print $2 }' "$mdir/modules.dep"); do add "$d"; done
	order+=("$m")
}
for name in virtio_pci 9pnet_virtio 9p overlay; do
	rel=$(grep -oE "^[^:]*/$name\.ko(\.xz|\.zst|\.gz)?:" "$mdir/modules.dep" | tr -d :) || true
	if [ -z "$rel" ]; then
		# Built in (modules.builtin) needs nothing; otherwise it is missing.
		grep -qE "/$name\.ko$" "$mdir/modules.builtin" && continue
		echo "mkinitramfs: no module $name in $mdir" >&2; exit 1
	fi
	add "$rel"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/lib/modules" "$work/proc" "$work/sys" "$work/dev"
cp "$busybox" "$work/bin/busybox"
install -m 0755 "$here/init" "$work/init"
for m in "${order[@]}"; do
	base=$(basename "$m")
	# busybox insmod takes plain .ko: Debian 12's are, later ones are compressed.
	case $base in
	*.ko.xz) xz -dc "$mdir/$m" >"$work/lib/modules/${base%.xz}" ;;
	*.ko.zst) zstd -qdc "$mdir/$m" >"$work/lib/modules/${base%.zst}" ;;
	*.ko.gz) gzip -dc "$mdir/$m" >"$work/lib/modules/${base%.gz}" ;;
	*) cp "$mdir/$m" "$work/lib/modules/$base" ;;
	esac
	echo "${base%.ko*}.ko" >>"$work/modules"
done
(cd "$work" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs: $out ($(du -k "$out" | cut -f1) KiB; modules: $(tr '\n' ' ' <"$work/modules"))"
