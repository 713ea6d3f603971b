"""Side-by-side benchmarks against peer libraries; run them all with ``python -m benchmarks``."""
