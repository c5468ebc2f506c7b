#!/usr/bin/env bash
# Renders a bundle's Dockerfile templates the way balena's builder does, so they can be built
# without balena (CI: the amd64 variant of every device image must build).
#
#   balena/render-templates.sh <bundle> [<arch> [<machine name>]]     # arch defaults to amd64
#
# writes <bundle>/rendered/<arch>/<path without .template> for every *.template in the bundle and
# prints how to build each. Build with the bundle as the context, e.g.
#   docker build -f <bundle>/rendered/amd64/balena/Dockerfile.node <bundle>
#
# balena's rules (balena-compose, lib/dockerfile): each line is a template of its own, except lines
# that start with `#`, which stay as they are; %%NAME%% (capitals and _) is replaced by the build
# variable and a name it does not know fails the build; `<%` starts template code. Of the
# variables, this renders the ones that are the same for every service of a release: BALENA_ARCH
# and BALENA_MACHINE_NAME (and their old RESIN_ names).
set -euo pipefail
bundle="${1:?usage: render-templates.sh <bundle> [<arch> [<machine name>]]}"
arch="${2:-amd64}"
case "$arch" in
  amd64) default_machine=genericx86-64-ext ;;
  aarch64) default_machine=raspberrypi4-64 ;;
  armv7hf) default_machine=raspberrypi3 ;;
  rpi) default_machine=raspberry-pi ;;
  i386) default_machine=qemux86 ;;
  *) echo "render-templates.sh: unknown arch \"$arch\" (balena's are rpi, armv7hf, aarch64, amd64, i386)" >&2; exit 2 ;;
esac
machine="${3:-$default_machine}"
out="$bundle/rendered/$arch"
[ -d "$bundle" ] || { echo "render-templates.sh: no bundle at $bundle (run balena/bundle.sh first)" >&2; exit 2; }

render() {
  awk -v arch="$arch" -v machine="$machine" -v file="$1" '
    /^#/ { print; next }
    {
      line = $0
      if (index(line, "<%") > 0) {
        printf "%s:%d: \"<%%\" would run as template code in balena'"'"'s builder\n", file, NR > "/dev/stderr"
        failed = 1
      }
      done = ""
      while (match(line, /%%[A-Z][A-Z_]+%%/)) {
        name = substr(line, RSTART + 2, RLENGTH - 4)
        if (name == "BALENA_ARCH" || name == "RESIN_ARCH") value = arch
        else if (name == "BALENA_MACHINE_NAME" || name == "RESIN_MACHINE_NAME") value = machine
        else {
          printf "%s:%d: %s is not rendered here (it is unknown, or differs per service)\n", file, NR, name > "/dev/stderr"
          failed = 1
          value = ""
        }
        done = done substr(line, 1, RSTART - 1) value
        line = substr(line, RSTART + RLENGTH)
      }
      print done line
    }
    END { exit failed }' "$bundle/$1"
}

rm -rf "$out"
count=0
while IFS= read -r template; do
  target="$out/${template%.template}"
  mkdir -p "$(dirname "$target")"
  render "$template" >"$target"
  echo "docker build -f $target $bundle"
  count=$((count + 1))
done < <(cd "$bundle" && find . -path ./rendered -prune -o -type f -name '*.template' -print | sed 's|^\./||' | sort)
[ "$count" -gt 0 ] || { echo "render-templates.sh: no *.template files in $bundle" >&2; exit 1; }
echo "rendered $count templates for $arch ($machine) into $out" >&2
