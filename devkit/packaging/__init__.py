"""``make package``, ``keygen`` and ``sign``: a validated, reproducible, signable ``.difypkg`` without the Go CLI."""
