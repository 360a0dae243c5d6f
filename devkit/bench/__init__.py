"""``python -m devkit bench`` (``make bench``): the relay's throughput and latency as ratios against baselines."""
