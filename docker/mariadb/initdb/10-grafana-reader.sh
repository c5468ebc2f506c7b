#!/bin/bash
# Runs once, when MariaDB initialises its data directory: a read-only account for Grafana's fleet
# dashboard if GRAFANA_DB_PASSWORD is set (docs/containers.md §4.4). Sourced by the entrypoint.
if [ -n "${GRAFANA_DB_PASSWORD:-}" ]; then
  password="${GRAFANA_DB_PASSWORD//\'/\'\'}"
  mariadb --protocol=socket -uroot -p"${MARIADB_ROOT_PASSWORD}" <<SQL
CREATE USER IF NOT EXISTS 'grafana'@'%' IDENTIFIED BY '${password}';
GRANT SELECT ON \`${MARIADB_DATABASE:-iot}\`.* TO 'grafana'@'%';
SQL
fi
