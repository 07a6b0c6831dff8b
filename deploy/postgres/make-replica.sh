#!/usr/bin/env bash
# make-replica.sh PRIMARY_PORT REPLICA_PORT [CLUSTER_NAME]
#
# Makes a streaming read replica of the local PostgreSQL cluster listening on PRIMARY_PORT
# (Debian's postgresql-common: pg_createcluster, pg_basebackup -R, pg_ctlcluster), on
# REPLICA_PORT, and waits until it streams. Run as root. For development, CI and
# benchmarks/edge.sh on one machine; a production replica is the same steps on its own host.
#
# On the primary it adds (once each): a `replicator` role (REPLICATION LOGIN), a line
# `host replication replicator 127.0.0.1/32 trust` at the top of pg_hba.conf (then a
# reload), and a physical replication slot named after the replica, so the primary keeps
# the WAL the replica has not received yet. The replica gets the primary's pg_hba.conf (it
# accepts the clients the primary accepts), the settings a hot standby must not set lower
# than its primary, and hot_standby_feedback (its readers' queries are not cancelled by
# the primary's vacuum). Point the app at it with
#   DATABASE_REPLICA_URLS=postgres://USER@127.0.0.1:REPLICA_PORT/DBNAME
# Undo with deploy/postgres/drop-replica.sh REPLICA_PORT [CLUSTER_NAME].
#
# CLUSTER_NAME defaults to replica_<REPLICA_PORT>. The machine's main cluster (port 5432)
# is refused as a primary unless REPLICA_ALLOW_MAIN=1: this changes its pg_hba.conf.
set -euo pipefail

usage() { echo "usage: $0 PRIMARY_PORT REPLICA_PORT [CLUSTER_NAME]" >&2; exit 2; }
[[ $# -ge 2 && $# -le 3 ]] || usage
PRIMARY_PORT=$1 REPLICA_PORT=$2
[[ $PRIMARY_PORT =~ ^[0-9]+$ && $REPLICA_PORT =~ ^[0-9]+$ ]] || usage
NAME=${3:-replica_$REPLICA_PORT}
[[ $NAME =~ ^[A-Za-z0-9_]+$ ]] || { echo "cluster name: letters, digits and _ only" >&2; exit 2; }
SLOT=$(echo "$NAME" | tr 'A-Z' 'a-z')
ROLE=replicator
[[ $(id -u) -eq 0 ]] || { echo "run as root (pg_createcluster, pg_ctlcluster)" >&2; exit 1; }
for tool in pg_lsclusters pg_createcluster pg_ctlcluster pg_basebackup; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install postgresql" >&2; exit 1; }
done

# The primary: the cluster on PRIMARY_PORT, running.
read -r VERSION PRIMARY STATUS < <(pg_lsclusters -h | awk -v p="$PRIMARY_PORT" '$3 == p {print $1, $2, $4; exit}') ||
  { echo "no PostgreSQL cluster on port $PRIMARY_PORT (pg_lsclusters)" >&2; exit 1; }
[[ $STATUS == online ]] || { echo "cluster $VERSION/$PRIMARY on port $PRIMARY_PORT is $STATUS, not online" >&2; exit 1; }
if [[ $PRIMARY_PORT == 5432 || $PRIMARY == main ]] && [[ ${REPLICA_ALLOW_MAIN:-0} != 1 ]]; then
  echo "refusing to change the main cluster ($VERSION/$PRIMARY); set REPLICA_ALLOW_MAIN=1 to do it anyway" >&2
  exit 1
fi
if pg_lsclusters -h | awk -v n="$NAME" -v p="$REPLICA_PORT" '$2 == n || $3 == p {found=1} END {exit !found}'; then
  echo "a cluster named $NAME or on port $REPLICA_PORT exists already (deploy/postgres/drop-replica.sh)" >&2
  exit 1
fi
if command -v ss >/dev/null && ss -Hltn "sport = :$REPLICA_PORT" | grep -q .; then
  echo "port $REPLICA_PORT is in use" >&2; exit 1
fi

as_postgres() { runuser -u postgres -- "$@"; }
on_primary() { as_postgres psql -p "$PRIMARY_PORT" -d postgres -v ON_ERROR_STOP=1 -qAtX "$@"; }
on_replica() { as_postgres psql -p "$REPLICA_PORT" -d postgres -v ON_ERROR_STOP=1 -qAtX "$@"; }

echo "== primary $VERSION/$PRIMARY on port $PRIMARY_PORT: role $ROLE, pg_hba, slot $SLOT"
[[ $(on_primary -c "SHOW wal_level") != minimal ]] ||
  { echo "the primary has wal_level = minimal: set replica and restart it" >&2; exit 1; }
on_primary -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE WITH REPLICATION LOGIN;
  END IF;
END \$\$"
HBA=$(on_primary -c "SHOW hba_file")
HBA_LINE="host replication $ROLE 127.0.0.1/32 trust"
if ! grep -qxF "$HBA_LINE" "$HBA"; then
  # First: pg_hba.conf is read top down, and the first line that matches decides.
  sed -i "1i # added by threadpress deploy/postgres/make-replica.sh\n$HBA_LINE" "$HBA"
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$PRIMARY" reload
  sleep 1
fi
# A slot left by an earlier replica of this name would keep WAL for nobody.
on_primary -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
               WHERE slot_name = '$SLOT' AND NOT active" >/dev/null

# A hot standby refuses to start with any of these lower than its primary's.
OPTIONS=()
for setting in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
  max_locks_per_transaction; do
  OPTIONS+=(-o "$setting=$(on_primary -c "SHOW $setting")")
done

echo "== replica $VERSION/$NAME on port $REPLICA_PORT"
pg_createcluster -p "$REPLICA_PORT" "${OPTIONS[@]}" \
  -o hot_standby=on -o hot_standby_feedback=on "$VERSION" "$NAME" >/dev/null
DATA=$(pg_lsclusters -h "$VERSION" "$NAME" | awk '{print $6}')
CONF_DIR=/etc/postgresql/$VERSION/$NAME
find "$DATA" -mindepth 1 -delete  # pg_basebackup fills an empty directory
as_postgres pg_basebackup -h 127.0.0.1 -p "$PRIMARY_PORT" -U "$ROLE" -D "$DATA" \
  --write-recovery-conf --wal-method=stream --checkpoint=fast --create-slot --slot="$SLOT"
install -o postgres -g postgres -m 640 "$HBA" "$CONF_DIR/pg_hba.conf"
pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$NAME" start

echo "== waiting for the replica to stream"
for _ in $(seq 1 120); do
  status=$(on_replica -c "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
  [[ $status == streaming ]] && break
  sleep 0.5
done
if [[ $status != streaming ]]; then
  echo "the replica does not stream (wal receiver: ${status:-none}); log:" >&2
  tail -n 20 "/var/log/postgresql/postgresql-$VERSION-$NAME.log" >&2 || true
  exit 1
fi
on_primary -c "SELECT 'primary sees: ' || application_name || ' ' || state || ' slot $SLOT'
               FROM pg_stat_replication LIMIT 1"
echo "replica $VERSION/$NAME streams from port $PRIMARY_PORT on port $REPLICA_PORT"
echo "DATABASE_REPLICA_URLS=postgres://postgres@127.0.0.1:$REPLICA_PORT/<database>"
