"""`python -m streams.cli`: the same entry point as the `streams` script."""

import sys

from streams.cli import main

sys.exit(main())
