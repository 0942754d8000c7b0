"""The campaign agent: rules and campaign steps written in plain language, decided per contact
by a model (SEND, SKIP or DELAY, with its reasoning), checked, stored for audit, and optionally
approved by an operator before anything is sent."""
