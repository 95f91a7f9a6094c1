#!/usr/bin/env bash
# Imports the small base image job tests and the job-run benchmark build their job images
# FROM, for hosts that cannot pull from a registry: a root filesystem holding only
# Debian's statically linked BusyBox (a shell and the usual commands as applet links),
# /etc/passwd and /etc/group with root and nobody (65534, the job runtime's default
# user), and an empty /tmp and /artifacts.
#
#   job-base-image.sh [image]   default image: localhost/switchyard-job-base:busybox
#
# Prints the image name. An image already imported from the same BusyBox binary and this
# script is kept (label switchyard.base.fingerprint), so repeated runs cost a second.
# Needs podman (CONTAINERS_CONF as setup-podman.sh prints) and busybox-static.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
image="${1:-localhost/switchyard-job-base:busybox}"
busybox_bin="$(command -v busybox || true)"
[ -n "$busybox_bin" ] || { echo "[job-base] busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
busybox_bin="$(readlink -f "$busybox_bin")"
# A dynamically linked busybox would need its libraries in the image too.
if ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "[job-base] $busybox_bin is dynamically linked; install busybox-static" >&2
  exit 1
fi

fingerprint="$( { sha256sum "$busybox_bin" "$here/job-base-image.sh"; } | sha256sum | cut -c1-32)"
existing="$(podman image inspect --format '{{ index .Labels "switchyard.base.fingerprint" }}' "$image" 2>/dev/null || true)"
if [ "$existing" = "$fingerprint" ]; then echo "$image"; exit 0; fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,artifacts,dev,proc,sys,run}
chmod 1777 "$root/tmp"
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -sf ../../bin/busybox "$root/usr/bin/env"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

id="$(tar -C "$root" --owner=0 --group=0 -c . | podman import \
  --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL switchyard.base.fingerprint=$fingerprint" \
  --change 'CMD ["sh"]' \
  - 2>/dev/null | tail -n1)"
# podman import ignores a tag given to it: tag the imported image afterwards.
podman tag "$id" "$image"
echo "$image"
