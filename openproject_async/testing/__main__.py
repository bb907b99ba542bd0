"""``python -m openproject_async.testing --port 0 --seed-size 20000 ...``"""

import sys

from ._main import main

sys.exit(main())
