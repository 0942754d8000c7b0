"""Subscriptions, what each subscriber used this day and month, and the entitlements billing
publishes from them for the other services' replicas."""
