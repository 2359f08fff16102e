"""`python -m bot` runs the sessionbot command line."""

import sys

from bot.cli import main

sys.exit(main())
