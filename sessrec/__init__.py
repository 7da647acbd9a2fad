"""sessrec: a workbench for session-based recommendation built around GRU4Rec."""

from sessrec.runtime import set_wait_policy

# before anything imports torch: idle OpenMP threads sleep instead of spinning (see runtime)
set_wait_policy()

__version__ = "0.1.0"
