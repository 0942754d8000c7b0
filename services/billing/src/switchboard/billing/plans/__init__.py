"""Plans as data: what a subscription includes and costs."""
