"""Session-kNN family (session-rec's SKNN, V-SKNN, STAN, VSTAN), vectorised over sessions."""

from sessrec.models.session_knn.sknn import SKNN
from sessrec.models.session_knn.stan import STAN
from sessrec.models.session_knn.vsknn import VSKNN
from sessrec.models.session_knn.vstan import VSTAN

__all__ = ["SKNN", "VSKNN", "STAN", "VSTAN"]
