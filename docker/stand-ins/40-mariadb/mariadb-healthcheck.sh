#!/bin/bash
# healthcheck.sh [--connect] [--innodb_initialized]: as the official image's script, succeeds when
# every named check passes. It logs in as the healthcheck user the entrypoint created.
set -eu
defaults=/var/lib/mysql/.my-healthcheck.cnf
[ -r "$defaults" ] || { echo "healthcheck: $defaults is missing (not initialised yet)" >&2; exit 1; }
query() { mariadb --defaults-extra-file="$defaults" --skip-column-names -e "$1"; }
[ "$#" -gt 0 ] || set -- --connect
for check in "$@"; do
  case "$check" in
    --connect) query 'SELECT 1' >/dev/null ;;
    --innodb_initialized) [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT')")" = "1" ] ;;
    *) echo "healthcheck: unknown check $check" >&2; exit 2 ;;
  esac
done
