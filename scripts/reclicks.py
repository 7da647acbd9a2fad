"""Re-clicks: how much of each model's Recall@k comes from items already in the session.

A user tool; the code is :mod:`sessrec.tools.reclicks` (``--help`` for its options).
"""

from sessrec.tools.reclicks import main

if __name__ == "__main__":
    raise SystemExit(main())
