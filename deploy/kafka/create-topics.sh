#!/bin/sh
# Creates Switchboard's topics and their dead-letter twins; safe to run again on a live broker.
# The list mirrors switchboard.contracts.topics.Topic (tests/deploy checks they agree).
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
PARTITIONS="${TOPIC_PARTITIONS:-8}"
REPLICATION_FACTOR="${TOPIC_REPLICATION_FACTOR:-1}"
KAFKA_TOPICS="${KAFKA_TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"

# name:cleanup.policy — compacted topics keep the latest record per key (a replica's state).
TOPICS="
messages.inbound:delete
messages.outbound:delete
messages.status:delete
consent:delete
contacts:compact
usage:delete
entitlements:compact
tenants:compact
campaigns:delete
conversations:delete
events:delete
billing:delete
"

# One listing up front: each kafka-topics.sh call starts a JVM, so skip what already exists.
existing="$("$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --list)"

create() {
    if printf '%s\n' "$existing" | grep -qxF "$1"; then
        echo "exists: $1"
        return 0
    fi
    "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$1" \
        --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
        --config "cleanup.policy=$2"
}

# A topic and its dead letters one after the other, the topics side by side: a fresh broker is
# ready in seconds rather than a minute of JVM start-ups.
pids=""
for spec in $TOPICS; do
    topic="${spec%%:*}"
    policy="${spec#*:}"
    # Dead letters are never compacted: every poisoned event is kept until retention ends.
    { create "$topic" "$policy" && create "$topic.dlq" delete; } &
    pids="$pids $!"
done

status=0
for pid in $pids; do
    wait "$pid" || status=1
done
exit "$status"
