"""Campaigns: multi-step journeys contacts are enrolled in, and the runner that moves them."""
