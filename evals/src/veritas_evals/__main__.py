"""`python -m veritas_evals` runs the harness (the same as `veritas eval`)."""

import sys

from veritas_evals.cli import main

if __name__ == "__main__":
    sys.exit(main())
