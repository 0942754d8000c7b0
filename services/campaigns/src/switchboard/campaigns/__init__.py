"""Campaigns: business events in, rules and journeys that message contacts out."""
