"""`python -m mnist_nb ...`: see mnist_nb/lab/cli.py."""

import sys

from mnist_nb.lab.cli import main

sys.exit(main())
