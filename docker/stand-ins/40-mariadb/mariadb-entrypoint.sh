#!/bin/bash
# First start: initialise the data directory from the MARIADB_* variables (root password, one
# database, one user), run /docker-entrypoint-initdb.d, then serve. Later starts just serve.
set -euo pipefail
log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
fail() { log "error: $*"; exit 1; }

if [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
if [ "$1" != "mariadbd" ] && [ "$1" != "mysqld" ]; then exec "$@"; fi
if [ "$(id -u)" = "0" ]; then
  chown -R mysql:mysql /var/lib/mysql /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

# VAR_FILE names a file holding VAR's value (compose secrets), as the official image accepts.
for name in MARIADB_ROOT_PASSWORD MARIADB_PASSWORD; do
  file_var="${name}_FILE"
  if [ -n "${!file_var:-}" ]; then
    [ -z "${!name:-}" ] || fail "set $name or $file_var, not both"
    [ -r "${!file_var}" ] || fail "$file_var: cannot read ${!file_var}"
    export "$name"="$(cat "${!file_var}")"
  fi
done

datadir=/var/lib/mysql
if [ ! -d "$datadir/mysql" ]; then
  root_password="${MARIADB_ROOT_PASSWORD:-}"
  if [ -z "$root_password" ] && [ "${MARIADB_RANDOM_ROOT_PASSWORD:-}" = "" ] && [ "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}" = "" ]; then
    fail "the database is uninitialised: set MARIADB_ROOT_PASSWORD, MARIADB_RANDOM_ROOT_PASSWORD or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
  fi
  if [ -z "$root_password" ] && [ -n "${MARIADB_RANDOM_ROOT_PASSWORD:-}" ]; then
    root_password="$(pwgen -s 32 1)"
    log "generated root password: $root_password"
  fi
  log "initialising $datadir"
  mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal --skip-test-db >/dev/null
  "$@" --skip-networking &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb --protocol=socket -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "mariadbd exited while initialising"
    sleep 1
  done
  sql() { mariadb --protocol=socket -uroot "$@"; }
  quote() { printf "'%s'" "${1//\'/\'\'}"; }
  health_password="$(pwgen -s 32 1)"
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DELETE FROM mysql.global_priv WHERE user = '' OR host NOT IN ('localhost');"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(quote "$root_password"); GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$root_password");"
    echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY $(quote "$health_password"), 'healthcheck'@'127.0.0.1' IDENTIFIED BY $(quote "$health_password"), 'healthcheck'@'::1' IDENTIFIED BY $(quote "$health_password");"
    echo "GRANT USAGE ON *.* TO 'healthcheck'@'localhost', 'healthcheck'@'127.0.0.1', 'healthcheck'@'::1';"
    if [ -n "${MARIADB_DATABASE:-}" ]; then echo "CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/}\`;"; fi
    if [ -n "${MARIADB_USER:-}" ]; then
      [ -n "${MARIADB_PASSWORD:-}" ] || fail "MARIADB_USER is set without MARIADB_PASSWORD"
      echo "CREATE USER $(quote "$MARIADB_USER")@'%' IDENTIFIED BY $(quote "$MARIADB_PASSWORD");"
      if [ -n "${MARIADB_DATABASE:-}" ]; then echo "GRANT ALL ON \`${MARIADB_DATABASE//\`/}\`.* TO $(quote "$MARIADB_USER")@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | sql
  printf '[mariadb-client]\nuser=healthcheck\npassword=%s\nprotocol=tcp\nhost=127.0.0.1\n' "$health_password" > "$datadir/.my-healthcheck.cnf"
  chmod 600 "$datadir/.my-healthcheck.cnf"
  for file in /docker-entrypoint-initdb.d/*; do
    case "$file" in
      *.sql) log "running $file"; sql -p"$root_password" ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} < "$file" ;;
      *.sh) log "running $file"; . "$file" ;;
    esac
  done
  kill "$pid" && wait "$pid" || true
  log "initialised"
fi
exec "$@"
