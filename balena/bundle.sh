#!/usr/bin/env bash
# Assembles a self-contained build context for `balena push`: balena uploads one directory, and
# the device images need the workspace packages from the repository root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.artifacts/balena}"
rm -rf "$out"
mkdir -p "$out/balena"
cp "$root/balena/docker-compose.yml" "$out/docker-compose.yml"
cp "$root/balena/Dockerfile.node" "$root/balena/Dockerfile.redis" "$out/balena/"
cp "$root/package.json" "$root/package-lock.json" "$out/"
# What the device runs: its own sources and those of the packages it depends on.
for workspace in common hardware simulator device; do
  mkdir -p "$out/$workspace"
  (cd "$root" && git ls-files -z -- "$workspace" | xargs -0 -I{} cp --parents {} "$out/")
done
# npm ci needs every workspace's package.json, but none of the backend's or the harness's code.
for workspace in backend harness features; do
  mkdir -p "$out/$workspace"
  cp "$root/$workspace/package.json" "$out/$workspace/"
done
echo "balena build context written to $out"
echo "push it with: balena push <fleet> --source $out"
