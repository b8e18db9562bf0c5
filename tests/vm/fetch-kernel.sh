#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# fetch-kernel.sh PACKAGE VM_DIR: apt-get download's PACKAGE (a Debian
# kernel image) and extracts it into VM_DIR/kernel/PACKAGE, once. Never
# fails: where it cannot, VM_DIR/kernel/PACKAGE.skip says why, and
# tests/vm/run.sh fails with that reason.
pkg=$1 dir=$2/kernel
dest=$dir/$pkg
[ -e "$dest/.done" ] && { echo "deps: VM kernel $pkg present"; exit 0; }
mkdir -p "$dir" && rm -rf "$dest" "$dest.skip" "$dest.tmp" || exit 0
skip() { echo "deps: $*: make vm-check will fail"; echo "$*" >"$dest.skip"; rm -rf "$dest.tmp"; exit 0; }
mkdir "$dest.tmp"
# As root, apt fetches as _apt: it needs to write where it downloads.
chmod 0777 "$dest.tmp"
download() { out=$(cd "$dest.tmp" && apt-get download -q "$pkg" 2>&1); }
# Package lists too old for the mirror (or none yet): updated once.
if ! download; then
	SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
	$SUDO apt-get update -q >/dev/null 2>&1
	download || skip "apt-get download $pkg failed: $(echo "$out" | grep -E '^(E|W):' | head -n 2 | tr '\n' ' ')"
fi
deb=$(ls "$dest.tmp"/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || skip "apt-get download $pkg gave no .deb"
dpkg-deb -x "$deb" "$dest.tmp/root" || skip "dpkg-deb -x $deb failed"
ls "$dest.tmp"/root/boot/vmlinuz-* >/dev/null 2>&1 || skip "$pkg has no /boot/vmlinuz-*"
# The package leaves modules.dep to depmod at install time: made here.
ver=$(ls "$dest.tmp/root/lib/modules" | head -n 1)
depmod -b "$dest.tmp/root" "$ver" || skip "depmod -b for $ver failed"
rm -f "$deb"
mv "$dest.tmp/root" "$dest" && rmdir "$dest.tmp" && touch "$dest/.done"
# Earlier kernels (400 MB each) go once a newer one is here.
for old in "$dir"/linux-image-*; do
	[ "$old" = "$dest" ] || rm -rf "$old"
done
echo "deps: VM kernel $pkg extracted into $dest"
