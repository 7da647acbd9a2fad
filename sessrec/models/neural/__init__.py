"""Modern neural comparators for GRU4Rec: NARM, SASRec and SR-GNN (one readable file each).

``trainer`` holds what they share: prefix training cases, the Adam / full-softmax
mini-batch loop with early stopping, and resumable per-epoch checkpoints.
"""

from sessrec.models.neural.narm import NARM
from sessrec.models.neural.sasrec import SASRec
from sessrec.models.neural.srgnn import SRGNN

__all__ = ["NARM", "SASRec", "SRGNN"]
