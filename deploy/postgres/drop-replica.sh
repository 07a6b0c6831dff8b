#!/usr/bin/env bash
# drop-replica.sh REPLICA_PORT [CLUSTER_NAME]
#
# Undoes deploy/postgres/make-replica.sh: stops and drops the replica cluster on
# REPLICA_PORT, then drops its replication slot on the primary (when the primary is up),
# so the primary no longer keeps WAL for it. Refuses a cluster that is not a standby, so a
# wrong port never drops a primary. The replicator role and its pg_hba.conf line stay on
# the primary (other replicas may use them). Run as root.
set -euo pipefail

usage() { echo "usage: $0 REPLICA_PORT [CLUSTER_NAME]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
REPLICA_PORT=$1
[[ $REPLICA_PORT =~ ^[0-9]+$ ]] || usage
[[ $(id -u) -eq 0 ]] || { echo "run as root (pg_dropcluster)" >&2; exit 1; }

read -r VERSION NAME DATA < <(pg_lsclusters -h | awk -v p="$REPLICA_PORT" -v n="${2:-}" \
  '$3 == p && (n == "" || $2 == n) {print $1, $2, $6; exit}') ||
  { echo "no PostgreSQL cluster${2:+ named $2} on port $REPLICA_PORT" >&2; exit 1; }
[[ -f $DATA/standby.signal ]] ||
  { echo "$VERSION/$NAME (port $REPLICA_PORT) is not a standby: refusing to drop it" >&2; exit 1; }

# Where it streams from, and its slot: what pg_basebackup -R wrote.
AUTO=$DATA/postgresql.auto.conf
SLOT=$(sed -n "s/^primary_slot_name = '\(.*\)'$/\1/p" "$AUTO" | tail -n 1)
PRIMARY_PORT=$(grep "^primary_conninfo" "$AUTO" | tail -n 1 | grep -o "port=[0-9]*" | cut -d= -f2 || true)

pg_dropcluster --stop "$VERSION" "$NAME"
echo "dropped replica $VERSION/$NAME (port $REPLICA_PORT)"

if [[ -n $SLOT && -n $PRIMARY_PORT ]]; then
  if runuser -u postgres -- psql -p "$PRIMARY_PORT" -d postgres -qAtX -v ON_ERROR_STOP=1 -c \
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
     WHERE slot_name = '$SLOT' AND NOT active" >/dev/null 2>&1; then
    echo "dropped slot $SLOT on port $PRIMARY_PORT"
  else
    echo "could not reach the primary on port $PRIMARY_PORT: drop slot $SLOT there by hand" >&2
  fi
fi
