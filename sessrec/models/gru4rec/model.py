"""GRU4Rec (Hidasi et al. 2016, 2018): a GRU reads the session, scores every item.

Read top to bottom: hyperparameters, the network (embedding, GRU layers, output
layer), training (its minibatch step and epoch loop are in ``trainer.py``),
the streaming interface used for evaluation and the live demo, and checkpoints.

Behaviour follows the official PyTorch implementation (hidasib/GRU4Rec_PyTorch_Official;
TOP1 and TOP1-max from the original Theano one); the code is our own. What differs
is listed in :data:`DIFFERENCES`. Training runs without autograd (see ``ops.py``).

The network, for hidden sizes ``layers = [h_1, ..., h_L]``::

    x_t   = embed(item_t)                  constrained: row of the output matrix Wy
                                           separate:    row of its own matrix E
                                           one-hot:     (none: layer 1 reads rows of W_x0)
    h_t^l = GRU_l(h_t^{l-1}, h_{t-1}^l)    h_t^0 = x_t
    s_t   = h_t^L Wy^T + By                one score per catalogue item

Training scores only the minibatch's targets plus ``n_sample`` shared negatives drawn
by popularity^``sample_alpha``, and updates only the item rows that were used.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError, DataFormatError, ParameterError
from sessrec.models.base import BaseSessionModel
from sessrec.models.contract import EpochCallback, Validate
from sessrec.models.gru4rec.batching import session_parallel_schedule
from sessrec.models.gru4rec.ops import Activation, activation, gru_forward
from sessrec.models.gru4rec.buffers import ScoreBuffers
from sessrec.models.gru4rec.trainer import GRU_PARAMS, Trainer
from sessrec.models.training_state import TrainingState
from sessrec.models.validation import check_bool, check_choice, check_device, check_float, check_int, torch_device
from sessrec.runtime import THREADS_ENV, ThreadTuner, aligned_rows, thread_invariant

LOSSES = ("cross-entropy", "bpr-max", "top1", "top1-max")

#: Where this implementation knowingly differs from the official code.
DIFFERENCES = (
    "Every GRU layer is the 'reset after' cell of torch.nn.GRUCell (the official layers); with "
    "one-hot input (embedding=0, constrained_embedding=False) the official first layer is the "
    "classic Cho et al. cell instead.",
    "Each distinct item of a minibatch is scored once, weighted by how many columns of the "
    "official score matrix it stands for (targets, in-batch negatives, repeated samples): the "
    "same loss and gradients, computed once.",
    "The last, narrower minibatches of an epoch use their true width to tell targets from "
    "sampled negatives in the logQ correction (the official code keeps using batch_size).",
    "Adagrad's accumulator starts at eps instead of adding eps at every step (equal up to "
    "float rounding). Momentum is plain (heavy-ball) momentum, as in the official code, "
    "although its README calls it Nesterov's.",
    "Weights are drawn from a torch.Generator seeded with `seed`, negatives with an alias "
    "table; same distributions as the official code, different random streams. Fan-in of "
    "stacked layers is each layer's true input size.",
    "TOP1 and TOP1-max, and final_act / hidden_act other than the defaults, follow the Theano "
    "GRU4Rec (the official PyTorch code has cross-entropy and BPR-max, tanh only).",
)


def _check_layers(layers: Any) -> list[int]:
    """Hidden sizes: one positive int, or a non-empty list of them."""
    if isinstance(layers, (list, tuple)):
        if not layers:
            raise ParameterError("gru4rec: layers = [] is not allowed (allowed: one or more hidden sizes >= 1)")
        return [check_int(f"layers[{i}]", h, min=1, owner="gru4rec") for i, h in enumerate(layers)]
    return [check_int("layers", layers, min=1, owner="gru4rec")]


def _check_activation(name: str, spec: Any) -> Activation:
    if not isinstance(spec, str):
        raise ParameterError(f"gru4rec: {name} = {spec!r} is not allowed (allowed: linear, tanh, relu, elu-<a>, leaky-<a>)")
    try:
        return activation(spec)
    except ValueError as exc:
        raise ParameterError(f"gru4rec: {name} = {spec!r} is not allowed ({exc})") from exc


class GRU4Rec(BaseSessionModel):
    """GRU4Rec with session-parallel minibatches and sampled losses (hyperparameters by their official names).

    Args:
        loss: ``cross-entropy``, ``bpr-max``, ``top1`` or ``top1-max``.
        final_act: activation of the training scores before the loss. ``None`` picks
            the official choice: softmax for cross-entropy, ``elu-<elu_param>``
            (``linear`` when ``elu_param`` is 0) for BPR-max, ``linear`` for TOP1(-max).
            Others: ``linear``, ``tanh``, ``relu``, ``elu-<a>``, ``leaky-<a>``.
        hidden_act: activation of the GRU candidate state (official: ``tanh``).
        layers: hidden sizes of the stacked GRU layers (an int for one layer).
        batch_size: number of session-parallel slots.
        dropout_p_embed: dropout on the input embedding (with one-hot input: on the
            first layer's output).
        dropout_p_hidden: dropout on the output of every GRU layer.
        learning_rate, momentum: Adagrad step size and momentum.
        sample_alpha: negatives are drawn with probability ~ popularity^sample_alpha.
        n_sample: extra negatives per minibatch (shared by its rows); 0 for in-batch only.
        embedding: size of a separate input embedding; 0 for none, ``"layersize"`` for
            ``layers[0]``. Ignored when ``constrained_embedding``.
        constrained_embedding: the input embedding is the output weight matrix.
        n_epochs: passes over the training data.
        bpreg: score regularisation of BPR-max.
        elu_param: ELU parameter of BPR-max's default final activation.
        logq: weight of the logQ (sampling popularity) correction of cross-entropy.
        sample_cache: number of negatives drawn at once into the sample buffer.
        seed: seeds the weights, the dropout masks and the negative samples.
        n_threads: torch threads while training. A number fixes the count. ``None``
            (default): torch's setting, and where the result cannot change by it (see
            :meth:`_thread_tuner`) the count adapts between that and one thread by measured
            speed, so training keeps going when another process takes a core; the
            result is then exactly that of ``n_threads=1``.
        device: where training runs, ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``. The
            random draws (weights, negatives, dropout) come from the same CPU generator
            on every device. A trained model scores on the device it was trained on; a
            checkpoint always loads onto the CPU.
    """

    name = "gru4rec"

    def __init__(
        self,
        loss: str = "cross-entropy",
        final_act: str | None = None,
        hidden_act: str = "tanh",
        layers: list[int] | tuple[int, ...] | int = (100,),
        batch_size: int = 64,
        dropout_p_embed: float = 0.0,
        dropout_p_hidden: float = 0.0,
        learning_rate: float = 0.05,
        momentum: float = 0.0,
        sample_alpha: float = 0.5,
        n_sample: int = 2048,
        embedding: int | str = 0,
        constrained_embedding: bool = True,
        n_epochs: int = 10,
        bpreg: float = 1.0,
        elu_param: float = 0.5,
        logq: float = 0.0,
        sample_cache: int = 10_000_000,
        seed: int = 42,
        n_threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__()
        own = self.name
        self.loss = check_choice("loss", loss, LOSSES, owner=own)
        self.layers = _check_layers(layers)
        self.elu_param = check_float("elu_param", elu_param, min=0.0, owner=own)
        if final_act is None:
            if loss == "cross-entropy":
                final_act = "softmax"
            elif loss == "bpr-max":
                final_act = f"elu-{self.elu_param:g}" if self.elu_param > 0 else "linear"
            else:
                final_act = "linear"
        if (loss == "cross-entropy") != (final_act == "softmax"):
            allowed = "softmax" if loss == "cross-entropy" else "linear, tanh, relu, elu-<a>, leaky-<a>"
            raise ParameterError(
                f"{own}: final_act = {final_act!r} is not allowed with loss = {loss!r} (allowed: {allowed}; "
                "cross-entropy goes with the softmax final activation, and only it)"
            )
        self.final_act = final_act
        self.hidden_act = hidden_act
        self._final = _check_activation("final_act", final_act) if final_act != "softmax" else None
        self._hidden = _check_activation("hidden_act", hidden_act)
        self.batch_size = check_int("batch_size", batch_size, min=1, owner=own)
        probability: dict[str, Any] = dict(min=0.0, max=1.0, max_open=True, owner=own)  # [0, 1)
        self.dropout_p_embed = check_float("dropout_p_embed", dropout_p_embed, **probability)
        self.dropout_p_hidden = check_float("dropout_p_hidden", dropout_p_hidden, **probability)
        self.learning_rate = check_float("learning_rate", learning_rate, min=0.0, min_open=True, owner=own)
        self.momentum = check_float("momentum", momentum, min=0.0, max=1.0, max_open=True, owner=own)
        self.sample_alpha = check_float("sample_alpha", sample_alpha, min=0.0, owner=own)
        self.n_sample = check_int("n_sample", n_sample, min=0, owner=own)
        if self.n_sample == 0 and self.batch_size < 2:
            raise ParameterError(
                f"{own}: batch_size = {self.batch_size} with n_sample = 0 is not allowed "
                "(with in-batch negatives only, batch_size must be >= 2)"
            )
        if embedding == "layersize":
            self.embedding = self.layers[0]
        else:
            self.embedding = check_int("embedding", embedding, min=0, owner=own)
        self.constrained_embedding = check_bool("constrained_embedding", constrained_embedding, owner=own)
        self.n_epochs = check_int("n_epochs", n_epochs, min=1, owner=own)
        self.bpreg = check_float("bpreg", bpreg, min=0.0, owner=own)
        self.logq = check_float("logq", logq, min=0.0, owner=own)
        self.sample_cache = check_int("sample_cache", sample_cache, min=1, owner=own)
        self.seed = check_int("seed", seed, min=0, max=2**63 - 1, owner=own)
        self.n_threads = None if n_threads is None else check_int("n_threads", n_threads, min=1, owner=own)
        self.device = check_device("device", device, owner=own)
        if self.constrained_embedding:
            self.input_mode = "constrained"
        elif self.embedding > 0:
            self.input_mode = "separate"
        else:
            self.input_mode = "one-hot"
        self.training_log: list[dict[str, Any]] = []
        # inference weights (filled by fit or a checkpoint)
        self.WyBy = torch.zeros(0, self.layers[-1] + 1)
        self.Wy = self.WyBy[:, :-1]  # (n_items, h_L) output weights
        self.By = self.WyBy[:, -1]  # (n_items,) output biases
        self.E: Tensor | None = None  # (n_items, embedding), separate embedding
        self.Wx0: Tensor | None = None  # (n_items, 3 h_1), one-hot input of layer 1
        # per layer: W_ih (n_in, 3h) (none for a one-hot first layer), W_hh (h, 3h), b_ih, b_hh
        self.gru: list[dict[str, Tensor]] = []
        self._score_buffers = ScoreBuffers()
        self._columns: tuple[tuple, Tensor] | None = None  # see _output_columns
        self._trainer: Trainer | None = None  # kept after fit for training_state()
        self._epochs_done = 0

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "final_act": self.final_act if self.loss != "cross-entropy" else None,
            "hidden_act": self.hidden_act,
            "layers": list(self.layers),
            "batch_size": self.batch_size,
            "dropout_p_embed": self.dropout_p_embed,
            "dropout_p_hidden": self.dropout_p_hidden,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "sample_alpha": self.sample_alpha,
            "n_sample": self.n_sample,
            "embedding": self.embedding,
            "constrained_embedding": self.constrained_embedding,
            "n_epochs": self.n_epochs,
            "bpreg": self.bpreg,
            "elu_param": self.elu_param,
            "logq": self.logq,
            "sample_cache": self.sample_cache,
            "seed": self.seed,
            "n_threads": self.n_threads,
            "device": self.device,
        }

    # ---------------------------------------------------------------------------------
    # Weight initialisation (as the official code's default "compatibility" init):
    # uniform in +-sqrt(6 / (fan_in + fan_out)), computed separately for each gate's
    # block of a GRU matrix; biases zero.

    def _initial_weights(self, n_items: int, generator: torch.Generator) -> dict[str, Tensor]:
        def uniform(rows: int, cols: int, blocks: int = 1) -> Tensor:
            sigma = math.sqrt(6.0 / (rows + cols))
            return (torch.rand(rows, cols * blocks, generator=generator) * 2.0 - 1.0) * sigma

        h_last = self.layers[-1]
        weights = {"Wy": uniform(n_items, h_last), "By": torch.zeros(n_items)}
        if self.input_mode == "constrained":
            n_in = h_last
        elif self.input_mode == "separate":
            weights["E"] = uniform(n_items, self.embedding)
            n_in = self.embedding
        else:
            weights["Wx0"] = uniform(n_items, self.layers[0], blocks=3)
            n_in = n_items
        for l, h in enumerate(self.layers):
            if not (l == 0 and self.input_mode == "one-hot"):
                weights[f"gru{l}.W_ih"] = uniform(n_in if l == 0 else self.layers[l - 1], h, blocks=3)
            weights[f"gru{l}.W_hh"] = uniform(h, h, blocks=3)
            weights[f"gru{l}.b_ih"] = torch.zeros(3 * h)
            weights[f"gru{l}.b_hh"] = torch.zeros(3 * h)
        return weights

    def _set_weights(self, weights: dict[str, Tensor]) -> None:
        """Install inference weights (copies, contiguous)."""
        # one (n_items, h + 1) matrix [Wy | By]: a score is [h, 1] . row, one product, no bias pass
        self.WyBy = torch.cat([weights["Wy"].float(), weights["By"].float().unsqueeze(1)], 1)
        self.Wy, self.By = self.WyBy[:, :-1], self.WyBy[:, -1]  # views
        self.E = weights["E"].float().contiguous().clone() if "E" in weights else None
        self.Wx0 = weights["Wx0"].float().contiguous().clone() if "Wx0" in weights else None
        self.gru = [
            {k: weights[f"gru{l}.{k}"].float().contiguous().clone() for k in GRU_PARAMS if f"gru{l}.{k}" in weights}
            for l in range(len(self.layers))
        ]

    def item_embeddings(self) -> Tensor | None:
        """The output item embeddings ``Wy`` (shared with the input with ``constrained_embedding``),
        one row per catalogue item; ``None`` before ``fit``. The item map draws them."""
        return self.Wy if self.is_fitted else None

    # ---------------------------------------------------------------------------------
    # Training

    def fit(
        self,
        train: Sessions,
        *,
        validate: Validate | None = None,
        progress: bool = True,
        checkpoint: str | Path | None = None,
        resume: TrainingState | None = None,
        callback: EpochCallback | None = None,
    ) -> "GRU4Rec":
        """Train on ``train`` (sessions in start-time order), ``n_epochs`` passes.

        After every epoch a record (loss, seconds, minibatches/s, events/s) is appended
        to ``self.training_log`` and passed to ``callback``; a callback returning ``True``
        stops training. ``validate(model)``, when given, runs first with the model holding
        the epoch's weights; the score it returns (e.g. Recall@20 from an evaluation on
        held-out sessions) is added to the record as ``"valid"``. The model does not
        evaluate itself: the evaluator sits a layer above the models. Inside
        the callback the model holds the epoch's weights and :meth:`training_state`
        what is needed to continue (save both to survive an interruption).

        ``resume``: continue a training from the state saved with this model's
        weights (a checkpoint loaded with :func:`sessrec.models.io.load_model`), from
        epoch ``resume.epoch + 1`` to ``n_epochs``, on the same training data. With the
        same thread setting (and device) the result equals the uninterrupted training exactly.

        ``checkpoint`` is accepted and ignored (:mod:`sessrec.models.contract`): GRU4Rec keeps no
        per-epoch file of its own; save it from ``callback`` (``train --checkpoint-every-epoch``).
        """
        device = torch_device(self.device)  # CUDA asked for but absent: fail before any work
        if validate is not None and not callable(validate):  # e.g. validation sessions passed as before
            raise ParameterError(f"gru4rec: validate must be a function of the model returning a score, not a "
                                 f"{type(validate).__name__}; evaluate held-out sessions inside it")
        item_index = ItemIndex.from_items(train.items)
        if resume is not None:
            if not self.is_fitted or not np.array_equal(item_index.item_ids, self.item_index.item_ids):
                raise CheckpointError(
                    "gru4rec: cannot resume: the training data's items differ from the checkpoint's "
                    f"({item_index.n_items} vs {self.n_items} items); resume on the same dataset and split"
                )
            if resume.epoch >= self.n_epochs:
                raise ParameterError(
                    f"gru4rec: n_epochs = {self.n_epochs} is not allowed when resuming: the checkpoint has "
                    f"{resume.epoch} epochs done (allowed: n_epochs > {resume.epoch})"
                )
        items = item_index.to_index(train.items)
        schedule = session_parallel_schedule(
            train.offsets, items, self.batch_size, min_width=2 if self.n_sample == 0 else 1
        )
        if schedule.n_batches == 0:
            raise DataFormatError(
                "gru4rec: nothing to train on: no session with two or more events"
                + (" (with n_sample = 0, at least two such sessions)" if self.n_sample == 0 else "")
            )
        self.item_index = item_index
        counts = np.bincount(items, minlength=self.n_items).astype(np.float64)
        generator = torch.Generator().manual_seed(self.seed)
        if resume is None:
            trainer = Trainer(self, self._initial_weights(self.n_items, generator), counts, generator, device)
            self.training_log = []
            first_epoch = 1
        else:
            weights = {k: v.clone() for k, v in self._tensors().items()}
            trainer = Trainer(self, weights, counts, generator, device)
            trainer.load_state(resume)
            self.training_log = [dict(r) for r in resume.meta.get("training_log", [])]
            first_epoch = resume.epoch + 1
        self._trainer, self._epochs_done = trainer, first_epoch - 1
        self.clear_live_cache()
        threads_before = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        tuner = self._thread_tuner(device)
        installed = resume is not None  # the model holds a consistent set of weights
        try:
            for epoch in range(first_epoch, self.n_epochs + 1):
                record = trainer.run_epoch(schedule, epoch, progress, tuner)
                if tuner is not None:
                    torch.set_num_threads(tuner.counts[0])  # validation and callbacks see the usual count
                self._epochs_done = epoch
                if validate is not None or callback is not None:  # they may use the model as it is now
                    self._set_weights(trainer.weights())
                    installed = True
                validation = {"valid": float(validate(self))} if validate is not None else {}
                record.update(validation)
                self.training_log.append(record)
                if progress:
                    tqdm.write(
                        f"epoch {epoch}: loss {record['loss']:.4f}  {record['seconds']:.1f}s  "
                        f"{record['events_per_s']:.0f} events/s"
                        + "".join(f"  {name} {value:.4f}" if isinstance(value, (int, float)) else f"  {name} {value}"
                                  for name, value in validation.items())
                    )
                if callback is not None and callback(record):
                    break
        except BaseException:
            if not installed:  # a failed first fit leaves an unfitted model, not a half-built one
                self.item_index = ItemIndex(np.zeros(0, np.int64))
                self._trainer = None
            raise
        finally:
            torch.set_num_threads(threads_before)
        self._set_weights(trainer.weights())
        return self

    def _thread_tuner(self, device: torch.device) -> ThreadTuner | None:
        """Adaptive threads (see :mod:`sessrec.runtime`), or ``None`` where the count stays fixed.

        Adaptive only where the result equals training on one thread: ``n_threads`` and
        ``SESSREC_THREADS`` unset, more than one thread, the CPU, ``batch_size`` a multiple
        of :func:`~sessrec.runtime.aligned_rows` (32 for two threads), and this machine
        computing the same bits on 1 and N threads for this model's sizes
        (:func:`~sessrec.runtime.thread_invariant`).
        """
        threads = torch.get_num_threads()
        if (self.n_threads or os.environ.get(THREADS_ENV) or threads == 1 or device.type != "cpu"
                or self.batch_size % aligned_rows(threads)):
            return None
        # the products and loss shapes of one minibatch (U: its distinct output rows, at most this many)
        B, U, h_out = self.batch_size, self.batch_size + self.n_sample, self.layers[-1]
        products = {(B, h_out + 1, U), (U, B, h_out + 1), (B, U, h_out)}
        first_input = {"constrained": h_out, "separate": self.embedding, "one-hot": None}[self.input_mode]
        for h_in, h in zip([first_input, *self.layers[:-1]], self.layers):
            products |= {(B, h, 3 * h), (h, B, 3 * h)}  # recurrent projection and its weight gradient
            if h_in:  # input projection, its weight gradient, the gradient passed down
                products |= {(B, h_in, 3 * h), (h_in, B, 3 * h), (B, 3 * h, h_in)}
        elementwise = ((B, U), (B, 3 * max(self.layers)))
        return ThreadTuner(threads) if thread_invariant(threads, tuple(sorted(products)), elementwise) else None

    def training_state(self) -> TrainingState:
        """Optimiser state, epochs done, training log and generator states of the last :meth:`fit`.

        Save it with the weights (``save_model(model, path, meta, training_state=...)``)
        so that ``fit(train, resume=...)`` can continue. Call it between epochs
        (from the ``fit`` callback) or after ``fit``.
        """
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            raise RuntimeError("gru4rec: no training state: this model was not trained in this process")
        state = trainer.state(self._epochs_done)
        state.meta["training_log"] = [dict(r) for r in self.training_log]
        return state

    # ---------------------------------------------------------------------------------
    # Streaming interface (evaluation, live demo): the state is one hidden tensor per layer,
    # on the weights' device (the training device after fit, the CPU after loading a
    # checkpoint); items and masks come in on the CPU, scores go out on the CPU.

    @property
    def _weights_device(self) -> torch.device:
        return self.WyBy.device

    def init_state(self, batch_size: int) -> tuple[Tensor, ...]:
        self._check_fitted()
        return tuple(torch.zeros(batch_size, h, device=self._weights_device) for h in self.layers)

    def reset(self, state: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor, ...]:
        keep = (~mask.to(self._weights_device, torch.bool)).unsqueeze(1).to(torch.float32)
        return tuple(h * keep for h in state)

    def select(self, state: tuple[Tensor, ...], rows: Tensor) -> tuple[Tensor, ...]:
        return super().select(state, rows.to(self._weights_device))

    def step(self, state: tuple[Tensor, ...], items: Tensor) -> tuple[Tensor, ...]:
        items = items.to(self._weights_device, torch.long)
        if self.input_mode == "constrained":
            x = self.Wy.index_select(0, items)
        elif self.input_mode == "separate":
            assert self.E is not None  # the separate input mode always has its embedding
            x = self.E.index_select(0, items)
        else:
            assert self.Wx0 is not None  # the one-hot input mode always has its input weights
            x = self.Wx0.index_select(0, items)
        new = []
        for l, p in enumerate(self.gru):
            gi = x + p["b_ih"] if "W_ih" not in p else torch.addmm(p["b_ih"], x, p["W_ih"])
            x, _ = gru_forward(gi, state[l], p["W_hh"], p["b_hh"], self._hidden)
            new.append(x)
        return tuple(new)

    def scores(self, state: tuple[Tensor, ...]) -> Tensor:
        h = state[-1]
        h1 = torch.cat([h, torch.ones(h.shape[0], 1, device=h.device)], 1)
        if h.device.type != "cpu":
            return torch.mm(h1, self._output_columns()).cpu()
        return torch.mm(h1, self._output_columns(), out=self._score_buffers.empty(h.shape[0], self.n_items))

    def _output_columns(self) -> Tensor:
        """``[Wy | By]`` transposed and contiguous, ``(h_L + 1, n_items)``, rebuilt when the weights change.

        The product with a contiguous right-hand matrix was measured about 20% faster than
        with the transposed view, and scoring is the evaluator's floor.
        """
        key = (self.WyBy.data_ptr(), self.WyBy._version, tuple(self.WyBy.shape))
        if self._columns is None or self._columns[0] != key:
            self._columns = (key, self.WyBy.t().contiguous())
        return self._columns[1]

    # ---------------------------------------------------------------------------------
    # Checkpoints (sessrec.models.io)

    def _tensors(self) -> dict[str, Tensor]:
        out = {"Wy": self.Wy, "By": self.By}
        if self.E is not None:
            out["E"] = self.E
        if self.Wx0 is not None:
            out["Wx0"] = self.Wx0
        for l, p in enumerate(self.gru):
            out.update({f"gru{l}.{k}": v for k, v in p.items()})
        return out

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, Tensor], item_index: ItemIndex) -> "GRU4Rec":
        model = cls(**params)
        expected = model._initial_weights(0, torch.Generator())  # names and non-item shapes
        if set(expected) != set(tensors):
            raise ValueError(f"weights {sorted(tensors)} do not match the hyperparameters ({sorted(expected)})")
        for name, t in tensors.items():
            want: tuple[int, ...] = expected[name].shape
            if name in ("Wy", "By", "E", "Wx0"):
                want = (item_index.n_items, *want[1:])
            if tuple(t.shape) != tuple(want):
                raise ValueError(f"{name}: shape {tuple(t.shape)}, expected {tuple(want)}")
            if not t.dtype.is_floating_point:
                raise ValueError(f"{name}: {t.dtype}, expected floating point weights")
        model.item_index = item_index
        model._set_weights(tensors)
        return model
