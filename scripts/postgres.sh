#!/usr/bin/env bash
# Starts a local PostgreSQL for Cascade's tests and prints the DSN to use as
# CASCADE_TEST_PG_DSN. Installs PostgreSQL from Debian's packages when it is
# missing. Needs root (or sudo). Safe to run again: it only does what is not
# done yet.
#
#   export CASCADE_TEST_PG_DSN=$(sudo scripts/postgres.sh)
set -euo pipefail

PGUSER_NAME=${CASCADE_PG_USER:-cascade}
PGPASS=${CASCADE_PG_PASSWORD:-cascade}
PGDB=${CASCADE_PG_DB:-cascade_test}
PGPORT=${CASCADE_PG_PORT:-5432}

log() { echo "postgres.sh: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  log "PostgreSQL is not installed; installing it"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
if ! $SUDO pg_ctlcluster "$version" main status >/dev/null 2>&1; then
  log "starting PostgreSQL $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2
fi

for _ in $(seq 1 60); do
  if $SUDO su postgres -c "psql -qtAc 'SELECT 1'" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

psql_admin() { $SUDO su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }

if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$PGUSER_NAME'")" != 1 ]; then
  log "creating role $PGUSER_NAME"
  psql_admin "CREATE ROLE $PGUSER_NAME LOGIN CREATEDB PASSWORD '$PGPASS'" >&2
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$PGDB'")" != 1 ]; then
  log "creating database $PGDB"
  psql_admin "CREATE DATABASE $PGDB OWNER $PGUSER_NAME" >&2
fi

echo "postgres://$PGUSER_NAME:$PGPASS@127.0.0.1:$PGPORT/$PGDB?sslmode=disable"
