"""``python -m duomcp``: the ``duomcp`` command."""

import sys

from .cli import main

sys.exit(main())
