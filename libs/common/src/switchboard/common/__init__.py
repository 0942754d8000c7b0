"""What every Switchboard service shares: settings, database, Kafka delivery, auth, telemetry."""
