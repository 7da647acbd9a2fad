"""Modern neural comparators for GRU4Rec: NARM, SASRec and SR-GNN (one readable file each).

What they share: ``base`` (the Adam mini-batch loop with early stopping and resumable
per-epoch checkpoints), ``cases`` (training cases, padded batches, sequence state) and
``losses`` (full-softmax cross-entropy over the catalogue).
"""

from sessrec.models.neural.narm import NARM
from sessrec.models.neural.sasrec import SASRec
from sessrec.models.neural.srgnn import SRGNN

__all__ = ["NARM", "SASRec", "SRGNN"]
