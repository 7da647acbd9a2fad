"""What the four neural user-context models share: encoders, negative sampling, the Adam
loop with binary cross-entropy, scoring and checkpoints.

A model file (BMF, NeuMF, ENCM, LNCM) only defines its network: a ``torch.nn.Module``
whose ``forward(user, item, context)`` maps index tensors to logits. Index 0 of every
embedding table means *unknown* (a user, item or context value not seen in training);
it is the padding index, so it stays at zero and an unknown user scores by the item
side alone.

Training: every positive training interaction (label >= 1) is a case with label 1; for
each, ``negatives`` items are drawn uniformly from the training catalogue, redrawn while
they are among the user's training positives, with label 0 and the case's context.
Fresh negatives every epoch; Adam on the mean binary cross-entropy of the logits.

Checkpoints are ``torch.save`` of tensors and plain data (loaded with
``weights_only=True``): the network's weights, the hyperparameters, the encoders as id
and value lists, the loss per epoch and, for resuming, Adam's state and the epoch.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sessrec.data.interactions import Interactions
from sessrec.errors import CheckpointError, DataFormatError
from sessrec.models.contract import EpochCallback, Validate
from sessrec.models.io import USER_FORMAT, USER_FORMAT_VERSION
from sessrec.models.training_state import TrainingState
from sessrec.data.sessions import ItemIndex
from sessrec.models.user_context.base import ValueEncoder
from sessrec.models.validation import check_device, check_float, check_int, torch_device



class NeuralUserContextModel:
    """Base class; subclasses set ``name``, ``uses_context`` and implement :meth:`build_network`."""

    name: ClassVar[str] = ""
    uses_context: ClassVar[bool] = False

    def __init__(self, embedding_dim: int = 32, n_epochs: int = 20, batch_size: int = 256,
                 learning_rate: float = 0.001, l2: float = 0.0, negatives: int = 4, seed: int = 0,
                 device: str = "cpu") -> None:
        owner = self.name
        self.embedding_dim = check_int("embedding_dim", embedding_dim, min=1, owner=owner)
        self.n_epochs = check_int("n_epochs", n_epochs, min=1, owner=owner)
        self.batch_size = check_int("batch_size", batch_size, min=1, owner=owner)
        self.learning_rate = check_float("learning_rate", learning_rate, min=0.0, min_open=True, owner=owner)
        self.l2 = check_float("l2", l2, min=0.0, owner=owner)
        self.negatives = check_int("negatives", negatives, min=1, owner=owner)
        self.seed = check_int("seed", seed, owner=owner)
        self.device = check_device("device", device, owner=owner)
        self.users: ItemIndex | None = None  # user ids, encoded as items are
        self.items: ItemIndex | None = None
        self.context: dict[str, ValueEncoder] = {}
        self.network: nn.Module | None = None
        self.loss_history: list[float] = []
        self.epochs_done = 0
        self._optimizer_state: dict[str, Any] | None = None

    # -- what a subclass provides ---------------------------------------------------------
    def build_network(self, n_users: int, n_items: int, context_sizes: list[int]) -> nn.Module:
        """The network over ``n_users + 1`` users, ``n_items + 1`` items (0 = unknown) and, where
        :attr:`uses_context`, one table of ``size + 1`` values per context feature."""
        raise NotImplementedError

    def extra_hyperparameters(self) -> dict[str, Any]:
        return {}

    def hyperparameters(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "n_epochs": self.n_epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "l2": self.l2, "negatives": self.negatives, "seed": self.seed,
                "device": self.device, **self.extra_hyperparameters()}

    @property
    def is_fitted(self) -> bool:
        return self.network is not None

    # -- training -------------------------------------------------------------------------
    def fit(self, train: Interactions, *, validate: Validate | None = None, progress: bool = True,
            checkpoint: str | Path | None = None, resume: TrainingState | None = None,
            callback: EpochCallback | None = None) -> "NeuralUserContextModel":
        """Train for ``n_epochs`` (the contract of :mod:`sessrec.models.contract`).

        ``resume``: the :meth:`training_state` saved with the weights this model holds (a
        checkpoint read back with :meth:`from_payload`); training goes on after its epoch.
        ``validate(model)`` is recorded in each epoch's record as ``"valid"``; ``checkpoint``
        is ignored (save the model from ``callback`` with :meth:`save`).
        """
        positive = train.label >= 1.0
        if not positive.any():
            raise DataFormatError(f"{self.name}: the training data holds no positive interaction (label >= 1)")
        device = torch_device(self.device)
        if resume is not None and (self.network is None or resume.epoch != self.epochs_done):
            raise CheckpointError(f"{self.name}: cannot resume: the state is after epoch {resume.epoch}, the "
                                  f"weights this model holds after epoch {self.epochs_done}"
                                  + (" (none: load the checkpoint first)" if self.network is None else ""))
        if resume is None:
            self._build_encoders(train)
            torch.manual_seed(self.seed)
            self.network = self._new_network().to(device)
            self.loss_history, self.epochs_done, self._optimizer_state = [], 0, None
        network = self.network
        assert network is not None and self.users is not None and self.items is not None
        network.to(device)
        optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate, weight_decay=self.l2)
        if self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
        user = self.users.to_index(train.user[positive]) + 1
        item = self.items.to_index(train.item[positive]) + 1
        context = self._encode_context({f: v[positive] for f, v in train.context.items()}, len(user))
        seen = np.unique(user * (len(self.items) + 1) + item)  # (user, item) codes of training positives
        loss_fn = nn.BCEWithLogitsLoss()
        epochs = range(self.epochs_done, self.n_epochs)
        for epoch in tqdm(epochs, desc=f"{self.name} epochs", disable=not progress, leave=False):
            started = time.perf_counter()
            rng = np.random.default_rng([self.seed, epoch])
            torch.manual_seed(self.seed * 100_003 + epoch)  # dropout per epoch: a resumed run = an unbroken one
            negatives = self._draw_negatives(rng, user, seen)
            cases_user = np.concatenate([user, np.repeat(user, self.negatives)])
            cases_item = np.concatenate([item, negatives])
            cases_context = np.concatenate([context, np.repeat(context, self.negatives, axis=0)])
            labels = np.r_[np.ones(len(user), np.float32), np.zeros(len(negatives), np.float32)]
            order = rng.permutation(len(labels))
            network.train()
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                logits = network(torch.from_numpy(cases_user[rows]).to(device),
                                 torch.from_numpy(cases_item[rows]).to(device),
                                 torch.from_numpy(cases_context[rows]).to(device))
                loss = loss_fn(logits, torch.from_numpy(labels[rows]).to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
            mean = total / len(order)
            if not np.isfinite(mean):
                from sessrec.errors import TrainingError

                raise TrainingError(f"{self.name}: the loss became {mean} in epoch {epoch + 1} (lower learning_rate)")
            self.loss_history.append(mean)
            self.epochs_done = epoch + 1
            self._optimizer_state = optimizer.state_dict()
            record = {"epoch": epoch + 1, "loss": mean, "seconds": time.perf_counter() - started}
            if validate is not None:
                network.eval()
                record["valid"] = float(validate(self))
            if callback is not None and callback(record):
                break
        network.eval()
        return self

    def training_state(self) -> TrainingState:
        """What ``fit(train, resume=...)`` needs besides the weights: the epochs done (Adam's state
        stays on the model and travels in its checkpoint)."""
        return TrainingState(epoch=self.epochs_done, meta={"loss_history": list(self.loss_history)})

    def _build_encoders(self, train: Interactions) -> None:
        self.users = ItemIndex.from_items(train.user)
        self.items = ItemIndex.from_items(train.item)
        self.context = ({f: ValueEncoder(values) for f, values in train.context.items()} if self.uses_context else {})

    def _new_network(self) -> nn.Module:
        assert self.users is not None and self.items is not None
        return self.build_network(len(self.users), len(self.items), [len(e) for e in self.context.values()])

    def _encode_context(self, context: dict[str, np.ndarray], n: int) -> np.ndarray:
        """``(n, features)`` int64 indices (0 = unknown); ``(n, 0)`` for a model without context."""
        missing = [f for f in self.context if f not in context]
        if missing:
            raise ValueError(f"{self.name}: the cases lack the context feature(s) {', '.join(missing)} "
                             "it was trained with")
        if not self.context:
            return np.zeros((n, 0), dtype=np.int64)
        return np.stack([encoder.encode(np.asarray(context[f])) + 1 for f, encoder in self.context.items()], axis=1)

    def _draw_negatives(self, rng: np.random.Generator, user: np.ndarray, seen: np.ndarray) -> np.ndarray:
        assert self.items is not None
        n_items = len(self.items)
        owners = np.repeat(user, self.negatives)
        drawn = rng.integers(1, n_items + 1, size=len(owners))
        for _ in range(100):  # redraw the ones that hit a training positive of their user
            hit = np.isin(owners * (n_items + 1) + drawn, seen)
            if not hit.any():
                break
            drawn[hit] = rng.integers(1, n_items + 1, size=int(hit.sum()))
        return drawn

    # -- scoring --------------------------------------------------------------------------
    def score_pairs(self, users: np.ndarray, items: np.ndarray, context: dict[str, np.ndarray]) -> np.ndarray:
        """Logits for each (user, item, context) row; unknown ids or values use the zero embedding."""
        if self.network is None or self.users is None or self.items is None:
            raise RuntimeError(f"{self.name}: call fit() first")
        user = self.users.to_index(users) + 1
        item = self.items.to_index(items) + 1
        ctx = self._encode_context(context, len(user))
        device = next(self.network.parameters()).device
        out = np.empty(len(user), dtype=np.float64)
        self.network.eval()
        with torch.no_grad():
            for start in range(0, len(user), 65_536):
                part = slice(start, start + 65_536)
                out[part] = self.network(torch.from_numpy(user[part]).to(device),
                                         torch.from_numpy(item[part]).to(device),
                                         torch.from_numpy(ctx[part]).to(device)).double().cpu().numpy()
        return out

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
        """Write weights, encoders, hyperparameters, losses and Adam's state atomically."""
        if self.network is None or self.users is None or self.items is None:
            raise CheckpointError(f"{self.name}: nothing to save, the model is not fitted")
        payload = {"format": USER_FORMAT, "format_version": USER_FORMAT_VERSION, "model": self.name,
                   "hyperparameters": self.hyperparameters(),
                   "encoders": {"users": self.users.item_ids.tolist(), "items": self.items.item_ids.tolist(),
                                "context": {f: e.values for f, e in self.context.items()}},
                   "weights": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
                   "loss_history": list(self.loss_history), "epochs_done": self.epochs_done,
                   "optimizer": self._optimizer_state, "meta": meta or {}}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(payload, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def from_payload(cls, payload: dict[str, Any], where: str) -> "NeuralUserContextModel":
        """Rebuild a model from a checkpoint payload read by :func:`sessrec.models.io.read_user_checkpoint`
        (:func:`sessrec.models.io.load_model` does both)."""
        model = cls(**payload["hyperparameters"])
        encoders = payload["encoders"]
        model.users = ItemIndex.from_items(np.asarray(encoders["users"], dtype=np.int64))
        model.items = ItemIndex.from_items(np.asarray(encoders["items"], dtype=np.int64))
        model.context = {}
        for feature, values in encoders["context"].items():
            encoder = ValueEncoder(np.asarray(values, dtype=object))
            if encoder.values != list(values):
                raise CheckpointError(f"{where}: the values of context feature '{feature}' repeat")
            model.context[feature] = encoder
        network = model._new_network()
        try:
            network.load_state_dict(payload["weights"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{where}: the weights do not fit {cls.name}'s network ({str(exc)[:200]})") from None
        network.eval()
        model.network = network
        model.loss_history = [float(x) for x in payload.get("loss_history", [])]
        model.epochs_done = int(payload.get("epochs_done", len(model.loss_history)))
        model._optimizer_state = payload.get("optimizer")
        return model


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear + ReLU (+ dropout) layers through ``sizes`` (the first is the input width)."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def embedding(n: int, dim: int) -> nn.Embedding:
    """A table of ``n + 1`` rows whose row 0 (unknown) stays zero; others N(0, 0.01²) as in NeuMF."""
    table = nn.Embedding(n + 1, dim, padding_idx=0)
    nn.init.normal_(table.weight, std=0.01)
    with torch.no_grad():
        table.weight[0].zero_()
    return table
