"""Linear item-item models: a dense item-to-item weight matrix learned in closed form (SLIST)."""

from sessrec.models.linear.slist import SLIST

__all__ = ["SLIST"]
