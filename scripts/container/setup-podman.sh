#!/usr/bin/env bash
# Makes podman usable for Switchyard's container tests and prints the path of the
# containers.conf to export as CONTAINERS_CONF.
#   setup-podman.sh            install podman, runc and busybox when missing (Debian's packages), write the config
#   setup-podman.sh --no-install   only write the config (fails when podman is missing)
# The config pins runc and cgroupfs and caps the default ulimits at the host's own
# hard limits: see containers.conf beside this script for why.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
install=1
[ "${1:-}" = "--no-install" ] && install=0

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1; then
  if [ "$install" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[podman] installing podman, runc and busybox" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq podman runc busybox-static >&2
  fi
fi
command -v podman >/dev/null 2>&1 || { echo "[podman] podman is not installed" >&2; exit 1; }
command -v runc >/dev/null 2>&1 || { echo "[podman] runc is not installed" >&2; exit 1; }

nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=1048576
# runc is refused a process limit above the kernel's pid_max here (EPERM on setrlimit).
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$nproc")
[ "$nproc" -gt "$pid_max" ] && nproc=$pid_max
dir=/var/tmp/switchyard-podman
mkdir -p "$dir"
# Test files run this at the same time: each writes its own file and renames it into
# place (a rename is atomic), so none reads a half-written config or loses its file.
tmp=$(mktemp "$dir/containers.conf.XXXXXX")
sed -e "s/@NOFILE@/$nofile/g" -e "s/@NPROC@/$nproc/g" "$here/containers.conf" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$dir/containers.conf"
echo "$dir/containers.conf"
