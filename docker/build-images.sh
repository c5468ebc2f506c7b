#!/usr/bin/env bash
# Builds the project's images with the tags the compose files name (iot-stack/<name>:local), after
# making sure their base images exist (docker/stand-ins/build.sh builds local stand-ins where Docker
# Hub cannot be reached). Docker's layer cache makes a rebuild without changes take seconds.
# Prints each image's build time and size. See docs/containers.md §3.
#   docker/build-images.sh [--from-scratch] [name...]   # backend simulator device device-redis (default: all)
# --from-scratch ignores every cache: the stand-ins are rebuilt from debootstrap on, and each image
# without Docker's layer cache (how long a first build on a new machine takes).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

declare -A dockerfile=(
  [backend]=backend/Dockerfile
  [simulator]=simulator/Dockerfile
  [device]=balena/Dockerfile.node.template
  [device-redis]=balena/Dockerfile.redis.template
)
no_cache=()
if [ "${1:-}" = "--from-scratch" ]; then
  shift
  no_cache=(--no-cache)
  export IOT_STAND_IN_FROM_SCRATCH=1
fi
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(backend simulator device device-redis)
for name in "${names[@]}"; do
  [ -n "${dockerfile[$name]:-}" ] || { echo "build-images: unknown image $name (known: ${!dockerfile[*]})" >&2; exit 2; }
done

docker/stand-ins/build.sh
for name in "${names[@]}"; do
  start=$(date +%s%N)
  log="$(mktemp)"
  if ! docker build -q --force-rm "${no_cache[@]}" -t "iot-stack/$name:local" -f "${dockerfile[$name]}" . >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "build-images: building iot-stack/$name:local from ${dockerfile[$name]} failed" >&2
    exit 1
  fi
  rm -f "$log"
  millis=$(( ($(date +%s%N) - start) / 1000000 ))
  size=$(docker image inspect --format '{{.Size}}' "iot-stack/$name:local")
  printf "[images] iot-stack/%s:local built in %d.%d s, %d MB\n" "$name" "$((millis / 1000))" "$((millis % 1000 / 100))" "$((size / 1000000))"
done
