"""The schedule of proactive sends: rules plan them, the scheduler sends them when due."""
