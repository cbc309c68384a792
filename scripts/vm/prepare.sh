#!/usr/bin/env bash
# Prepares what the in-band VM test (e2e/inband) needs and prints the cache
# directory on its last line:
#   - qemu-system-x86 and busybox-static (apt, when missing);
#   - the Debian kernel that linux-image-amd64 depends on, downloaded once with
#     `apt-get download` (never installed: that would pull initramfs-tools, udev
#     and a systemd upgrade), unpacked into the cache: an uncompressed vmlinux
#     (booting it saves ~5 s under TCG) and the three IPMI modules.
# The cache is $IPMI_VM_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/ipmi_fleet_exporter/vm.
# Layout: $cache/kernel -> linux-image-<version>/ with vmlinux, modules/*.ko, VERSION.
set -euo pipefail

cache=${IPMI_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipmi_fleet_exporter/vm}
mkdir -p "$cache"

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "prepare.sh: need root for apt-get (or install: ${need[*]})" >&2
    exit 1
  fi
  echo "prepare.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The initramfs needs a static busybox (busybox-static's /bin/busybox).
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
  if ldd /bin/busybox >/dev/null 2>&1; then
    echo "prepare.sh: /bin/busybox is not statically linked; install busybox-static" >&2
    exit 1
  fi
fi

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  echo "prepare.sh: apt-cache depends linux-image-amd64 names no kernel (apt-get update?)" >&2
  exit 1
fi
dir="$cache/$pkg"
if [ ! -s "$dir/vmlinux" ] || [ ! -s "$dir/modules/ipmi_si.ko" ]; then
  # The .deb stays in the cache: it is downloaded once even if unpacking
  # is redone.
  mkdir -p "$cache/debs"
  deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    echo "prepare.sh: downloading $pkg" >&2
    # _apt cannot write below root's home: download as root, quietly.
    (cd "$cache/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
    deb=$(ls "$cache/debs/${pkg}_"*.deb | head -n1)
  fi
  work=$(mktemp -d "$cache/.work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  dpkg-deb -x "$deb" "$work/root"
  vmlinuz=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
  version=${vmlinuz##*/vmlinuz-}
  mkdir -p "$work/out/modules"
  # The bzImage carries the kernel as one xz stream after its setup code:
  # find the stream's magic and decompress it to an ELF vmlinux.
  offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1 || true)
  if [ -z "$offset" ]; then
    echo "prepare.sh: no xz stream in $vmlinuz" >&2
    exit 1
  fi
  # (xz stops reading at the stream's end: no pipe, or tail's SIGPIPE
  # would fail the pipeline.)
  xz -dc --single-stream < <(tail -c +"$((offset + 1))" "$vmlinuz" 2>/dev/null) > "$work/out/vmlinux"
  head -c 4 "$work/out/vmlinux" | grep -q 'ELF' || { echo "prepare.sh: decompressed kernel is not ELF" >&2; exit 1; }
  for m in ipmi_msghandler ipmi_devintf ipmi_si; do
    f=$(find "$work/root/lib/modules/$version" -name "$m.ko*" | head -n1)
    [ -n "$f" ] || { echo "prepare.sh: module $m not in $pkg" >&2; exit 1; }
    case "$f" in
      *.ko.xz) xz -dc "$f" > "$work/out/modules/$m.ko" ;;
      *.ko.zst) zstd -qdc "$f" > "$work/out/modules/$m.ko" ;;
      *) cp "$f" "$work/out/modules/$m.ko" ;;
    esac
  done
  echo "$version" > "$work/out/VERSION"
  rm -rf "$dir"
  mv "$work/out" "$dir"
fi
ln -sfn "$pkg" "$cache/kernel"
echo "$cache"
