"""`python -m lsqbox ...` is the `lsqbox` command."""
import sys

from .cli import main

sys.exit(main())
