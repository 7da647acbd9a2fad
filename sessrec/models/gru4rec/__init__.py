"""GRU4Rec: session-based recommendation with recurrent neural networks (our implementation)."""

from sessrec.models.gru4rec.model import DIFFERENCES, LOSSES, GRU4Rec

__all__ = ["GRU4Rec", "LOSSES", "DIFFERENCES"]
