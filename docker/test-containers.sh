#!/usr/bin/env bash
# The container tier of `npm test` (docs/containers.md §7): builds the images (stand-in bases where
# Docker Hub is unreachable), builds the amd64 variant of the balena device images from their
# rendered templates, runs the compose-file tests and the integration tests on testcontainers, then
# the Cucumber scenarios on containers, and checks that nothing of the project was left behind.
# Without a Docker engine it skips with one line, unless IOT_REQUIRE_DOCKER=1 (CI) makes that an error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
log() { printf '[containers] %s\n' "$*"; }

why=""
if ! command -v docker >/dev/null 2>&1; then why="docker is not installed"
elif ! docker info >/dev/null 2>&1; then why="no Docker engine answers"
elif ! command -v docker-compose >/dev/null 2>&1; then why="docker-compose is not installed"
fi
if [ -n "$why" ]; then
  if [ "${IOT_REQUIRE_DOCKER:-}" = "1" ]; then
    echo "[containers] error: $why, and IOT_REQUIRE_DOCKER=1 requires the container tier" >&2
    exit 1
  fi
  log "skipped: $why. To run it: apt-get install docker.io docker-compose debootstrap, start dockerd, then npm run test:containers"
  exit 0
fi

started=$(date +%s)
step() { log "$1 ($(( $(date +%s) - started )) s)"; }

step "images"
docker/build-images.sh

step "balena amd64 variant"
bundle="$(mktemp -d)"
trap 'rm -rf "$bundle"' EXIT
balena/bundle.sh "$bundle" >/dev/null
balena/render-templates.sh "$bundle" amd64 >/dev/null
for template in Dockerfile.node Dockerfile.redis; do
  t0=$(date +%s)
  DOCKER_BUILDKIT=0 docker build -q --force-rm -t "iot-stack/balena-amd64-${template#Dockerfile.}:ci" -f "$bundle/rendered/amd64/balena/$template" "$bundle" >/dev/null
  log "balena/$template.template (amd64) built in $(( $(date +%s) - t0 )) s"
done

step "compose files and testcontainers"
npx vitest run --config vitest.containers.config.ts

step "scenarios on containers"
npm run test:features:containers

step "leftovers"
left="$(docker ps -aq --filter label=org.iot-stack.scenario; docker ps -aq --filter label=org.iot-stack.test)"
for project in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' | sort -u); do
  case "$project" in iotsim*|iotbackend*) left="$left $project";; esac
done
if [ -n "$(echo "$left" | tr -d '[:space:]')" ]; then
  echo "[containers] error: containers left behind: $left" >&2
  exit 1
fi
step "done"
