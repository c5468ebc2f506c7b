#!/bin/sh
# One-shot set-up of the laptop simulation (docker-compose.sim.yml, docs/containers.md §5): a random
# secret per account, kept in the sim-secrets volume so a restart keeps them, and the broker's
# credential file with the receiver, the web admin and every simulated device in it.
#   provision.sh <device id>...
set -eu
secrets=/data
credentials=/config/mqtt-credentials.json
umask 022

secret() {
  file="$secrets/$1"
  if [ ! -s "$file" ]; then
    node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))' > "$file"
  fi
  cat "$file"
}

add_user() { # username role [device id]
  PROVISION_PASSWORD="$(secret "$1.mqtt-password")" \
    node backend/src/cli/mqtt-user.ts add --file "$credentials" --username "$1" --role "$2" ${3:+--device-id "$3"} \
    --password-env PROVISION_PASSWORD --replace
}

secret mariadb-password >/dev/null
secret mariadb-root-password >/dev/null
secret webadmin-admin-password >/dev/null
add_user receiver service
add_user webadmin service
for device in "$@"; do add_user "$device" device "$device"; done
echo "web admin login: admin / $(cat "$secrets/webadmin-admin-password") (also in the sim-secrets volume)"
