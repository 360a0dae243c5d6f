"""``python -m bench`` (``make bench``): the relay's CPU, latency, memory and start-up against baselines."""
