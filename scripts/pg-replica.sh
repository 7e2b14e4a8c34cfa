#!/usr/bin/env bash
# Starts a second local PostgreSQL cluster as a streaming replica of the one
# scripts/postgres.sh starts, and prints the replica's DSN, for
# `cascade serve -read-db` and as CASCADE_TEST_PG_REPLICA_DSN for the
# read-replica tests. Needs root (or sudo). Safe to run again: it only does
# what is not done yet, and takes a new base backup when the replica exists
# but cannot stream any more (it was stopped for long enough that the
# primary dropped the WAL it needed). It never restarts the primary; there
# it may add a role, a replication slot and a pg_hba line, bound the WAL
# slots may hold back (max_slot_wal_keep_size, when unbounded) and reload
# the configuration. `pg_dropcluster --stop 15 replica` and dropping the
# slot cascade_replica on the primary undo it.
#
#   export CASCADE_TEST_PG_DSN=$(sudo scripts/postgres.sh)
#   export CASCADE_TEST_PG_REPLICA_DSN=$(sudo scripts/pg-replica.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PGUSER_NAME=${CASCADE_PG_USER:-cascade}
PGPASS=${CASCADE_PG_PASSWORD:-cascade}
PGDB=${CASCADE_PG_DB:-cascade_test}
PGPORT=${CASCADE_PG_PORT:-5432}
REPLICA_PORT=${CASCADE_PG_REPLICA_PORT:-5433}
REPLICA_NAME=${CASCADE_PG_REPLICA_CLUSTER:-replica}
REPL_USER=${CASCADE_PG_REPLICATION_USER:-cascade_replicator}
REPL_PASS=${CASCADE_PG_REPLICATION_PASSWORD:-cascade_replicator}
SLOT=${CASCADE_PG_REPLICATION_SLOT:-cascade_replica}
# The WAL the replica's slot may hold back on the primary. Without a slot,
# a primary busy enough recycles the WAL a new replica still needs before
# it starts streaming; with one, a replica left stopped would make the
# primary keep WAL without end. Set only where nothing bounds it yet.
SLOT_CAP=${CASCADE_PG_REPLICATION_SLOT_CAP:-8GB}

log() { echo "pg-replica.sh: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# The primary, its application role and database.
scripts/postgres.sh >/dev/null

version=$(ls /etc/postgresql | sort -V | tail -n 1)
bin=/usr/lib/postgresql/$version/bin

as_postgres() { $SUDO su postgres -c "$1"; }
psql_primary() { as_postgres "psql -p $PGPORT -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
psql_replica() { as_postgres "psql -p $REPLICA_PORT -v ON_ERROR_STOP=1 -qtAc \"$1\""; }

if [ "$(psql_primary "SHOW wal_level")" = minimal ] || [ "$(psql_primary "SHOW max_wal_senders")" = 0 ]; then
  log "the primary has wal_level=minimal or max_wal_senders=0: set wal_level=replica and max_wal_senders>0 and restart it first"
  exit 1
fi

if [ "$(psql_primary "SELECT 1 FROM pg_roles WHERE rolname='$REPL_USER'")" != 1 ]; then
  log "creating replication role $REPL_USER"
  psql_primary "CREATE ROLE $REPL_USER REPLICATION LOGIN PASSWORD '$REPL_PASS'" >&2
fi

# Replication connections from 127.0.0.1 with a password. Debian's default
# pg_hba.conf has such a line for every role; add one only when it is gone.
hba=$(psql_primary "SHOW hba_file")
if ! $SUDO grep -Eq "^[[:space:]]*host[[:space:]]+replication[[:space:]]+(all|$REPL_USER)[[:space:]]+127\.0\.0\.1/32[[:space:]]" "$hba"; then
  log "allowing replication connections of $REPL_USER from 127.0.0.1 in $hba"
  echo "host    replication     $REPL_USER      127.0.0.1/32            scram-sha-256" | $SUDO tee -a "$hba" >/dev/null
  psql_primary "SELECT pg_reload_conf()" >/dev/null
fi

if [ "$(psql_primary "SHOW max_slot_wal_keep_size")" = -1 ]; then
  log "bounding the WAL a replication slot may hold back on the primary to $SLOT_CAP (max_slot_wal_keep_size)"
  psql_primary "ALTER SYSTEM SET max_slot_wal_keep_size = '$SLOT_CAP'" >&2
  psql_primary "SELECT pg_reload_conf()" >/dev/null
fi

# The read-replica test pauses and resumes the replica's replay to make it
# fall behind on purpose. The grant is made in the postgres database, which
# the test connects to (the functions act on the whole replica).
for fn in pg_wal_replay_pause pg_wal_replay_resume; do
  if [ "$(as_postgres "psql -p $PGPORT -d postgres -qtAc \"SELECT has_function_privilege('$PGUSER_NAME', '$fn()', 'EXECUTE')\"")" != t ]; then
    log "letting $PGUSER_NAME run $fn() (for the read-replica test)"
    as_postgres "psql -p $PGPORT -d postgres -v ON_ERROR_STOP=1 -qtAc \"GRANT EXECUTE ON FUNCTION $fn() TO $PGUSER_NAME\"" >&2
  fi
done

datadir=/var/lib/postgresql/$version/$REPLICA_NAME

# base_backup replaces the replica's data directory with a fresh copy of
# the primary's, set up (-R) to stream from it through a new slot (-C -S).
base_backup() {
  log "taking a base backup of the primary into $datadir"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$REPLICA_NAME" stop >/dev/null 2>&1 || true
  psql_primary "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
  $SUDO find "$datadir" -mindepth 1 -delete
  as_postgres "PGPASSWORD='$REPL_PASS' $bin/pg_basebackup -h 127.0.0.1 -p $PGPORT -U $REPL_USER -D '$datadir' -R -C -S $SLOT -X stream -c fast" >&2
}

streaming() {
  [ "$(psql_replica "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null)" = t ]
}

start_replica() {
  if ! $SUDO pg_ctlcluster "$version" "$REPLICA_NAME" status >/dev/null 2>&1; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$REPLICA_NAME" start >&2 || return 1
  fi
  for _ in $(seq 1 40); do
    if streaming; then return 0; fi
    sleep 0.5
  done
  return 1
}

if ! $SUDO pg_lsclusters -h | awk -v v="$version" -v n="$REPLICA_NAME" '$1 == v && $2 == n { found = 1 } END { exit !found }'; then
  log "creating cluster $version/$REPLICA_NAME on port $REPLICA_PORT"
  $SUDO pg_createcluster "$version" "$REPLICA_NAME" -p "$REPLICA_PORT" >&2
  base_backup
fi

if ! streaming; then
  log "starting the replica, or waiting for it to stream"
  if ! start_replica; then
    log "the replica does not stream from the primary; starting it again from a new base backup"
    base_backup
    if ! start_replica; then
      log "the replica still does not stream; see /var/log/postgresql/postgresql-$version-$REPLICA_NAME.log"
      exit 1
    fi
  fi
fi

# The application database exists on the primary, so it reaches the
# replica with the WAL; wait until it has.
for _ in $(seq 1 60); do
  if [ "$(psql_replica "SELECT 1 FROM pg_database WHERE datname='$PGDB'")" = 1 ]; then break; fi
  sleep 0.5
done

echo "postgres://$PGUSER_NAME:$PGPASS@127.0.0.1:$REPLICA_PORT/$PGDB?sslmode=disable"
