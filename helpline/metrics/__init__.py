"""Aggregate counters: (metric, dimension, day) -> count, and the statistics pages built on them."""
