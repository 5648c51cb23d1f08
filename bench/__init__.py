"""Load and page benchmarks that print a comparison table against a baseline measured in the same run."""
