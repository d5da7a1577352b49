"""Benchmarks: `python -m bench` (make bench). Every figure is a ratio measured in one run."""
