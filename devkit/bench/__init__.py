"""``python -m devkit bench`` (``make bench``): the relay's CPU, latency, memory and start-up against baselines."""
