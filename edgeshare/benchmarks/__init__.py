"""Benchmark scripts. Each prints ratios measured side by side in one run; the README and
BENCHMARKS.md name the script behind every number. Run as `python -m edgeshare.benchmarks.<name>`."""
