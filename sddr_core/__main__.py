"""``python -m sddr_core`` runs the ``sddr`` command line."""

import sys

from sddr_core.cli.main import main

sys.exit(main())
