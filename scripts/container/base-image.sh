#!/usr/bin/env bash
# Builds a Node.js base image from this machine's own files, for hosts that cannot pull
# from a registry: the host's node and npm, the shared libraries node links
# (as `ldd` lists them), BusyBox for a shell and the usual commands, the host's CA
# bundle, and a `node` user with uid 1000 as in the official node images. The
# Dockerfile takes it as its BASE_IMAGE build argument in place of node:20-bookworm-slim.
#
#   base-image.sh [image]   default image: localhost/switchyard-node-base:<node version>
#
# Prints the image name. An image already built from the same node binary and this
# script is kept (label switchyard.base.fingerprint), so repeated runs cost a second.
# Needs podman (CONTAINERS_CONF as setup-podman.sh prints) and busybox-static or busybox.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
node_bin="$(readlink -f "$(command -v node)")"
node_version="$("$node_bin" --version)"
image="${1:-localhost/switchyard-node-base:${node_version#v}}"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
busybox_bin="$(command -v busybox || true)"
[ -n "$busybox_bin" ] || { echo "[base] busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
ca_bundle=/etc/ssl/certs/ca-certificates.crt

fingerprint="$( { sha256sum "$node_bin" "$here/base-image.sh" "$busybox_bin"; cat "$npm_dir/package.json"; [ -f "$ca_bundle" ] && sha256sum "$ca_bundle"; } | sha256sum | cut -c1-32)"
existing="$(podman image inspect --format '{{ index .Labels "switchyard.base.fingerprint" }}' "$image" 2>/dev/null || true)"
if [ "$existing" = "$fingerprint" ]; then echo "$image"; exit 0; fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/local/lib,etc/ssl/certs,tmp,root,home/node,var/tmp,dev,proc,sys,run}
chmod 1777 "$root/tmp" "$root/var/tmp"

# BusyBox and its applets: sh, env (the shebang of npm's bin scripts), id, wget, ...
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -sf ../../bin/busybox "$root/usr/bin/env"

# node, npm and npx where the official images have them.
cp "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# The shared libraries node loads, at the paths the dynamic loader looks them up.
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# The rest of glibc's runtime, as the official images have it: native addons that
# builds load (the console app's bundler links librt) and name lookups need them.
libc_dir="$(dirname "$(ldd "$node_bin" | grep -o '/[^ ]*libc\.so\.6')")"
for name in librt.so.1 libresolv.so.2 libutil.so.1 libnss_files.so.2 libnss_dns.so.2; do
  if [ -e "$libc_dir/$name" ]; then cp -L "$libc_dir/$name" "$root$libc_dir/$name"; fi
done

[ -f "$ca_bundle" ] && cp "$ca_bundle" "$root$ca_bundle"
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
chown 1000:1000 "$root/home/node"

id="$(tar -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "ENV NODE_EXTRA_CA_CERTS=$ca_bundle" \
  --change "LABEL switchyard.base.fingerprint=$fingerprint" \
  --change 'CMD ["node"]' \
  - 2>/dev/null | tail -n1)"
# podman import ignores a tag given to it: tag the imported image afterwards.
podman tag "$id" "$image"
echo "$image"
