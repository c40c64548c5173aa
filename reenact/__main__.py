"""``python -m reenact`` runs the command line."""

import sys

from reenact.cli import main

sys.exit(main())
