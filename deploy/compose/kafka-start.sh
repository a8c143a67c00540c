#!/usr/bin/env bash
# Kafka in docker compose, secured exactly as deploy/local runs it (SASL/SCRAM-SHA-512,
# StandardAuthorizer, no ACL → no access): the same server.properties template, the admin
# password from the secrets volume the `secrets` job filled, the admin user created when the
# storage is formatted (first start only). Runs in the apache/kafka image as its user 1000,
# the uid the Tyndau image's user has too, so it can read the 0600 credentials file.
set -euo pipefail

CREDENTIALS=/secrets/kafka-credentials.json
DATA=/var/lib/kafka/data
CONFIG=/tmp/kafka/server.properties
CLIENT=/tmp/kafka/admin-client.properties

password=$(sed -n 's/.*"admin": *"\([^"]*\)".*/\1/p' "$CREDENTIALS" 2>/dev/null || true)
if [ -z "$password" ]; then
  echo "[kafka] no admin password in $CREDENTIALS: the secrets job must run first" >&2
  exit 1
fi

mkdir -p /tmp/kafka && chmod 700 /tmp/kafka
# This node (KAFKA_NODE_ID, reached as KAFKA_HOST) of the quorum KAFKA_QUORUM_VOTERS; with
# three nodes every partition has three replicas, two of them in sync for a write.
NODE_ID="${KAFKA_NODE_ID:-1}"
HOST="${KAFKA_HOST:-kafka}"
VOTERS="${KAFKA_QUORUM_VOTERS:-1@kafka:9093}"
REPLICATION="${KAFKA_REPLICATION:-1}"
MIN_ISR="${KAFKA_MIN_ISR:-1}"
(umask 077 && sed -e "s|@DATA_DIR@|$DATA|" -e "s|@PORT@|9092|g" -e "s|@CONTROLLER_PORT@|9093|g" \
    -e "s|@PARTITIONS@|6|" -e "s|@BIND@|0.0.0.0|g" -e "s|@HOST@|$HOST|g" \
    -e "s|@NODE_ID@|$NODE_ID|" -e "s|@QUORUM_VOTERS@|$VOTERS|" \
    -e "s|@REPLICATION@|$REPLICATION|g" -e "s|@MIN_ISR@|$MIN_ISR|g" -e "s|@OFFSETS_PARTITIONS@|50|" \
    -e "s|@RETENTION_HOURS@|168|" -e "s|@ADMIN_PASSWORD@|$password|g" \
    /opt/tyndau/server.properties.in > "$CONFIG")
# For the health check (kafka-broker-api-versions.sh must log in like everyone else).
(umask 077 && cat > "$CLIENT" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$password";
PROPS
)

# Every node of one cluster is formatted with the same id (KAFKA_CLUSTER_ID, set in the
# compose file; a random one for a lone node).
if [ ! -f "$DATA/meta.properties" ]; then
  CLUSTER_ID="${KAFKA_CLUSTER_ID:-$(/opt/kafka/bin/kafka-storage.sh random-uuid)}"
  /opt/kafka/bin/kafka-storage.sh format -c "$CONFIG" \
    --cluster-id "$CLUSTER_ID" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$password]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$CONFIG"
