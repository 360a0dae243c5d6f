"""``python -m bench`` runs ``make bench``'s measurements (``bench.bench``)."""

import sys

from bench.bench import main

sys.exit(main(sys.argv[1:]))
