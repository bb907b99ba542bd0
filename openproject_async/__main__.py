"""``python -m openproject_async``: the ``openproject-async`` command."""

import sys

from .cli import main

sys.exit(main())
