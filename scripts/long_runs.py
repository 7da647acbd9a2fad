"""Run the long benchmark runs (the modern neural models) in an order that gives every model

A user tool; the code is :mod:`sessrec.tools.long_runs` (``--help`` for its options).
"""

from sessrec.tools.long_runs import main

if __name__ == "__main__":
    raise SystemExit(main())
