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
for workspace in common device simulator backend features; do
  mkdir -p "$out/$workspace"
  (cd "$root" && git ls-files -z -- "$workspace" | xargs -0 -I{} cp --parents {} "$out/")
done
echo "balena build context written to $out"
echo "push it with: balena push <fleet> --source $out"
