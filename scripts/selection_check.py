"""One-factor check of a neural benchmark entry on its epoch-selection data.

A user tool; the code is :mod:`sessrec.tools.selection_check` (``--help`` for its options).
"""

from sessrec.tools.selection_check import main

if __name__ == "__main__":
    raise SystemExit(main())
