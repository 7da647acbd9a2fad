"""Test accuracy of a run's best selection epoch, without the refit on all of train.

A user tool; the code is :mod:`sessrec.tools.no_refit_check` (``--help`` for its options).
"""

from sessrec.tools.no_refit_check import main

if __name__ == "__main__":
    raise SystemExit(main())
