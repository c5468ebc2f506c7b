#!/usr/bin/env bash
# Assembles a self-contained build context for `balena push`: balena uploads one directory, and
# the device images need the workspace packages from the repository root. The bundle holds the
# compose file, the image files under balena/, and of the packages only what the images copy
# (package.json and src/ of common, hardware, simulator and device; package.json alone of the
# others, which npm ci needs). No backend, harness or test code.
#
#   balena/bundle.sh [<dir>]      # default .artifacts/balena
#
# Rerunning it updates the bundle in place: files that did not change are not touched and files
# that are gone are removed, so a livepush session (`balena push <device>.local --source <dir>`)
# syncs just what changed. New files count once git would list them (tracked, or untracked and
# not ignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.artifacts/balena}"
marker=".iot-stack-balena-bundle"

if [ -e "$out" ] && [ ! -e "$out/$marker" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "bundle.sh: $out exists and is not a bundle made by this script; refusing to replace its contents" >&2
  exit 1
fi
mkdir -p "$out"
wanted="$(mktemp)"
trap 'rm -f "$wanted"' EXIT

# put <source relative to the repository> [<destination relative to the bundle>]
put() {
  local src="$root/$1" dest="$out/${2:-$1}"
  [ -f "$src" ] || return 0
  if ! cmp -s "$src" "$dest" 2>/dev/null; then
    mkdir -p "$(dirname "$dest")"
    cp -p "$src" "$dest"
  fi
  printf '%s\n' "${2:-$1}" >>"$wanted"
}

# What git would commit under a path: tracked files and new ones that are not ignored.
files_under() { (cd "$root" && git ls-files --cached --others --exclude-standard -- "$@"); }

put balena/docker-compose.yml docker-compose.yml
while IFS= read -r file; do
  case "$file" in
    balena/docker-compose.yml | balena/bundle.sh | balena/render-templates.sh) ;;
    *) put "$file" ;;
  esac
done < <(files_under balena)
put package.json
put package-lock.json
put device/redis/redis.conf
for workspace in common hardware simulator device; do
  put "$workspace/package.json"
  while IFS= read -r file; do put "$file"; done < <(files_under "$workspace/src")
done
for workspace in backend harness features; do
  put "$workspace/package.json"
done

printf '%s\n' "Made by balena/bundle.sh; rerunning it replaces everything here." >"$out/$marker"
echo "$marker" >>"$wanted"
# Whatever the bundle held before and no longer needs (a deleted source, a rendered template).
(cd "$out" && find . -type f | sed 's|^\./||') | sort | comm -23 - <(sort -u "$wanted") | while IFS= read -r stale; do
  rm -f "$out/$stale"
done
find "$out" -mindepth 1 -type d -empty -delete

echo "balena build context written to $out"
echo "push it with: balena push <fleet> --source $out"
