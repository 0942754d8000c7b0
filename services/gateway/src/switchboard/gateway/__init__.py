"""The gateway: where Switchboard meets carriers and partners, and where compliance is enforced."""
