"""Benchmarks: `make bench` (bench/gateway) and bench/usage_analytics.py."""
