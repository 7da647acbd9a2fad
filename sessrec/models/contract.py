"""The one training contract every model follows, whatever its task or how it trains.

::

    model.fit(train, *, validate=None, progress=True, checkpoint=None, resume=None, callback=None)

returns the model, fitted. Every model accepts every option; what it does with each follows
from how it trains, which the registry declares (:attr:`~sessrec.models.registry.ModelSpec.trains`),
so callers read a model's capabilities from its spec and never from its ``fit`` signature:

* ``validate(model) -> float``: a score on held-out data, higher is better, called after every
  epoch with the model holding that epoch's weights. Models that early-stop
  (:data:`~sessrec.models.registry.EARLY_STOPPING`) keep the best epoch and stop after their
  ``patience``; models trained for a fixed number of epochs
  (:data:`~sessrec.models.registry.EPOCHS`) only record it in the epoch's record as
  ``"valid"``; models trained once (:data:`~sessrec.models.registry.ONCE`) ignore it: score
  them after ``fit``.
* ``progress``: show a progress bar (on by default; callers that report otherwise turn it off).
* ``checkpoint``: a file where a model that keeps its per-epoch training state itself (the
  early-stopping models) writes it after every epoch, and from which it continues when the
  file exists. The others ignore it; their callers save them after each epoch from the
  ``callback`` with :func:`~sessrec.models.io.save_model` and ``training_state()``.
* ``resume``: a :class:`~sessrec.models.training_state.TrainingState` saved with the weights
  the model now holds: training continues after its epoch, on the same training data, to the
  result the uninterrupted training would have reached. A model trained once refuses it.
* ``callback(record) -> bool | None``: called after every epoch with the epoch's record
  (``epoch``, ``loss``, ``seconds``, ...); returning ``True`` stops training. Models trained
  once never call it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Self

from sessrec.errors import ParameterError
from sessrec.models.training_state import TrainingState

#: ``validate(model)``: a held-out score, higher is better
Validate = Callable[[Any], float]
#: ``callback(record)``: after every epoch; ``True`` stops training
EpochCallback = Callable[[dict[str, Any]], bool | None]


class TrainsOnce:
    """``fit`` under the contract for models that train in one pass: they implement :meth:`fit_once`."""

    name: ClassVar[str]

    def fit_once(self, train: Any) -> Any:
        """Build the model from ``train`` (counts, indexes, a closed-form solve)."""
        raise NotImplementedError

    def fit(self, train: Any, *, validate: Validate | None = None, progress: bool = True,
            checkpoint: str | Path | None = None, resume: TrainingState | None = None,
            callback: EpochCallback | None = None) -> Self:
        """Fit on ``train`` in one pass (see the module docstring: the epoch options do not apply)."""
        if resume is not None:
            raise ParameterError(f"{self.name}: trains in one pass; there is no training to resume")
        self.fit_once(train)
        return self
