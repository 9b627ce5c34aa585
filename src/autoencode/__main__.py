"""``python -m autoencode`` (and ``torchrun -m autoencode``) runs the CLI."""

import sys

from autoencode.cli.main import main

sys.exit(main())
