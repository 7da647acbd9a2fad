"""Modern neural comparators for GRU4Rec: NARM, SASRec, SR-GNN and BERT4Rec (one readable file each).

What they share: ``base`` (the Adam mini-batch loop with early stopping and resumable
per-epoch checkpoints), ``cases`` (training cases, padded batches, sequence state) and
``losses`` (full-softmax cross-entropy over the catalogue).
"""

from sessrec.models.neural.bert4rec import BERT4Rec
from sessrec.models.neural.narm import NARM
from sessrec.models.neural.sasrec import SASRec
from sessrec.models.neural.srgnn import SRGNN

__all__ = ["BERT4Rec", "NARM", "SASRec", "SRGNN"]
