#!/bin/sh
# Build-time guard of every device image: the base image's binaries must be for the fleet's
# architecture, and the architecture must be one this app runs on.
#
#   sh balena/check-arch.sh <BALENA_ARCH> [<file to inspect, default /bin/sh>]
#
# The templates name multi-arch official images, and balena's builder picks the variant for the
# fleet's architecture. A builder or CLI that picks the wrong variant (balena-cli issue 3095)
# would otherwise ship an image that fails only on the device, with "exec format error".
# Node.js 24's official images exist for amd64 and arm64 only, so 32-bit fleets stop here with
# the fix in the message. Plain `docker build` leaves the template variable unrendered: then
# there is no fleet to compare with and the check passes.
set -eu

arch="${1:-}"
file="${2:-/bin/sh}"

case "$arch" in
  '%%BALENA_ARCH%%' | '')
    echo "check-arch: not a balena build (BALENA_ARCH not rendered); nothing to compare"
    exit 0
    ;;
  amd64) want=3e name=x86-64 ;;
  aarch64) want=b7 name=AArch64 ;;
  armv7hf | rpi | i386)
    echo "check-arch: BALENA_ARCH=$arch is not supported: Node.js 24 publishes official images for amd64 and arm64 only." >&2
    echo "check-arch: choose a 64-bit device type for the fleet (raspberrypi3-64, raspberrypi4-64, raspberrypi5, genericx86-64-ext)." >&2
    exit 1
    ;;
  *)
    echo "check-arch: unknown BALENA_ARCH \"$arch\" (balena's are rpi, armv7hf, aarch64, amd64, i386)" >&2
    exit 1
    ;;
esac

# e_machine, the ELF header's 16-bit field at offset 18 (little-endian on every target here):
# 0x3e is x86-64, 0xb7 AArch64, 0x28 32-bit ARM, 0x03 i386.
got="$(od -An -tx1 -j18 -N1 "$file" | tr -d ' \n')"
if [ "$got" != "$want" ]; then
  echo "check-arch: the base image is not $name (BALENA_ARCH=$arch): $file has ELF machine 0x$got." >&2
  echo "check-arch: the builder pulled the wrong variant of a multi-arch image; pin the base by digest or build on an $name machine." >&2
  exit 1
fi
echo "check-arch: base image is $name, as BALENA_ARCH=$arch wants"
