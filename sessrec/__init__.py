"""sessrec: a workbench for session-based recommendation built around GRU4Rec."""

__version__ = "0.1.0"
