"""`python -m mnist_nb ...`: see mnist_nb/cli.py."""

import sys

from mnist_nb.cli import main

sys.exit(main())
