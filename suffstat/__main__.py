"""``python -m suffstat``: the ``suffstat`` command line."""

import sys

from .cli import main

sys.exit(main())
