#!/bin/sh
# Starts Grafana as its image does (/run.sh), with one change: an admin password nobody knows
# unless one is given. Grafana creates its admin on the first start with GF_SECURITY_ADMIN_PASSWORD,
# or else with the well-known "admin". Port 80 of a device is open to its LAN (and to the internet
# with balena's public device URL), and an admin could add a data source that connects to Redis
# as its default user, which may write. Dashboards need no login (anonymous viewers); to have an
# admin, set GF_SECURITY_ADMIN_PASSWORD as a balena variable before Grafana first starts, or later
# run `grafana cli admin reset-admin-password` in the container.
set -eu
if [ -z "${GF_SECURITY_ADMIN_PASSWORD:-}" ] && [ -z "${GF_SECURITY_ADMIN_PASSWORD__FILE:-}" ]; then
  GF_SECURITY_ADMIN_PASSWORD="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
  export GF_SECURITY_ADMIN_PASSWORD
fi
exec /run.sh "$@"
