"""``python -m aggregator``."""

from aggregator.cli import main

# Guarded: parse worker processes re-import the main module (forkserver/spawn), and must
# not run the command line again.
if __name__ == "__main__":
    main()
