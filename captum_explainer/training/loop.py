"""One epoch loop for every model the package trains.

What it gives each training command: early stopping on validation loss, a progress bar
with every loss term, a CSV log of every epoch, checkpoints written atomically
(``last.pt`` after every epoch, ``best.pt`` when validation improves) and ``resume``,
which continues from ``last.pt`` losing at most the epoch that was running.
"""

from __future__ import annotations

import csv
import io
import math
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from captum_explainer._version import __version__
from captum_explainer.checkpoint import load_checkpoint, load_state_dict_checked, save_checkpoint
from captum_explainer.output_files import atomic_write, check_output_folder

#: ``step(batch, train)`` returns named loss terms; ``"loss"`` is the one optimised.
StepFn = Callable[[Any, bool], Mapping[str, torch.Tensor]]


@dataclass
class FitConfig:
    """How long to train and where to write.

    Args:
        out_dir: folder for ``last.pt``, ``best.pt`` and ``log.csv``.
        max_epochs: upper bound on epochs.
        patience: epochs without a lower validation loss before stopping.
        resume: continue from ``out_dir/last.pt`` if it exists.
        max_steps_per_epoch: cap on training steps per epoch (``None``: the whole loader).
        progress: show a progress bar.
        is_main_process: only the main process writes files (rank 0 under ``torchrun``).
        reduce: combines each epoch's numbers across processes (the mean under
            ``torchrun``), so every rank takes the same early-stopping decision.
        meta: stored in every checkpoint (architecture, classes, command, ...).
        select: the logged number that chooses ``best.pt`` and drives early stopping, higher
            being better (e.g. ``"val_reference_correlation"``, which ``evaluate`` adds to
            the log); ``None`` (default): the lowest validation loss.
    """

    out_dir: Path
    max_epochs: int = 30
    patience: int = 5
    resume: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    is_main_process: bool = True
    reduce: Callable[[dict[str, float]], dict[str, float]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    select: str | None = None

    @property
    def epochs(self) -> int:
        """``max_epochs`` under the name the commands and :func:`check_loop_settings` use."""
        return self.max_epochs

    def __post_init__(self) -> None:
        check_loop_settings(self)

    @classmethod
    def from_command(cls, settings: Any, **overrides: Any) -> FitConfig:
        """The loop's part of a training command's settings (``out_dir``, ``epochs``,
        ``patience``, ``resume``, ``max_steps_per_epoch``, ``progress``)."""
        return cls(
            out_dir=settings.out_dir,
            max_epochs=settings.epochs,
            patience=settings.patience,
            resume=settings.resume,
            max_steps_per_epoch=settings.max_steps_per_epoch,
            progress=settings.progress,
            **overrides,
        )


def check_loop_settings(config: Any) -> None:
    """A training configuration's ``epochs``, ``batch_size``, ``patience`` (integers >= 1)
    and ``max_steps_per_epoch`` (the same, or ``None``), or a ``ValueError`` naming the
    command-line option."""
    for name in ("epochs", "batch_size", "patience", "max_steps_per_epoch"):
        value = getattr(config, name, 1)
        if value is None and name == "max_steps_per_epoch":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            option = f"--{name.replace('_', '-')}"
            raise ValueError(f"{name} ({option}) must be an integer >= 1, got {value!r}")


#: Settings a resumed run must share with the run it continues (``epochs`` and ``patience``
#: may change: a resumed run can be asked to train longer).
RESUME_FIXED = (
    "arch",
    "num_classes",
    "classes",
    "image_size",
    "normalization",
    "seed",
    "lr",
    "batch_size",
    "loss_weights",
    "preset",
    "classifier",
)


class RunLock:
    """One writer per run folder: ``out_dir/.lock`` created atomically (``O_EXCL``) with the
    owner's host and process id, removed on exit. A lock whose process no longer runs on
    this host is stale and is taken over; a live one makes a second run fail clearly."""

    def __init__(self, out_dir: Path, enabled: bool = True) -> None:
        self.path = Path(out_dir) / ".lock"
        self.enabled = enabled
        self.owned = False

    def __enter__(self) -> RunLock:
        if not self.enabled:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = f"{socket.gethostname()} {os.getpid()}"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    raise ValueError(
                        f"out {str(self.path.parent)!r} is in use by another training "
                        f"({self._owner() or 'unknown process'}); wait for it to finish or "
                        f"train into another folder (delete {str(self.path)!r} only if no "
                        f"run uses it)"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            self.owned = True
            return self
        raise ValueError(f"could not take the lock {str(self.path)!r}; another run took it")

    def __exit__(self, *exc: Any) -> None:
        if self.owned:
            self.path.unlink(missing_ok=True)
            self.owned = False

    def _owner(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def _stale(self) -> bool:
        owner = self._owner().split()
        if len(owner) != 2 or not owner[1].isdigit():
            return False  # unreadable or being written: treat as live, never steal it
        host, pid = owner[0], int(owner[1])
        if host != socket.gethostname():
            return False  # another machine's run: cannot be checked from here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def remove_stale_temporaries(out_dir: Path) -> list[Path]:
    """Delete the temporary files of writes that a killed run left in ``out_dir``
    (:func:`~captum_explainer.checkpoint.atomic_write`'s ``.NAME.XXXX.tmp``)."""
    removed = []
    for path in Path(out_dir).glob(".*.tmp"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def checkpoint_meta(
    arch: str,
    classes: list[str],
    image: torch.Tensor,
    normalization: Any,
    seed: int,
    command: str,
    **settings: Any,
) -> dict[str, Any]:
    """What every checkpoint records beside its weights, so that it can be rebuilt, used on
    the right inputs and reproduced: architecture, classes, input size and normalisation,
    the command line, seed, versions, and the training ``settings``."""
    return {
        "arch": arch,
        "num_classes": len(classes),
        "classes": list(classes),
        "image_size": list(image.shape[-2:]),
        "normalization": {"mean": list(normalization.mean), "std": list(normalization.std)},
        "seed": seed,
        "command": command,
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        **settings,
    }


def warmup_cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float = 0.15
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the optimiser's learning rate, then cosine decay towards zero.

    The schedule is a function of the step count only (the one number its ``state_dict``
    keeps), so a resumed run that asks for more epochs stretches the remaining schedule
    instead of failing as ``OneCycleLR`` does when stepped past its total.
    """
    total = max(1, total_steps)
    warmup = max(1, int(warmup_fraction * total))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Trainer:
    """Runs epochs of ``step`` over batches with early stopping and checkpoints.

    Args:
        model: the module whose ``state_dict`` is saved (unwrap DDP before passing it).
        optimizer: its optimiser.
        step: computes the loss terms of one batch (see :data:`StepFn`).
        config: see :class:`FitConfig`.
        kind: checkpoint kind (``"classifier"`` or ``"explainer"``).
        scheduler: optional learning-rate scheduler stepped after every training step.
        trainable: the module put in ``train()`` mode for training epochs (default ``model``);
            frozen parts of a pipeline stay as they are.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        step: StepFn,
        config: FitConfig,
        kind: str,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        trainable: nn.Module | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.step = step
        self.config = config
        self.kind = kind
        self.scheduler = scheduler
        self.trainable = trainable if trainable is not None else model
        self.epoch = 0
        self.steps = 0  # training steps taken, over every epoch (resumed runs included)
        self.best_val_loss = math.inf
        self.bad_epochs = 0
        self.history: list[dict[str, float]] = []
        self.out_dir = check_output_folder(config.out_dir)
        self._run_bar: tqdm | None = None

    # ---------------------------------------------------------------- checkpoints
    @property
    def last_path(self) -> Path:
        return self.out_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best.pt"

    def _model_payload(self) -> dict[str, Any]:
        return dict(self.config.meta, state_dict=self.model.state_dict(), epoch=self.epoch)

    def _save(self, improved: bool) -> None:
        if not self.config.is_main_process:
            return
        state = dict(
            self._model_payload(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict() if self.scheduler else None,
            best_val_loss=self.best_val_loss,
            bad_epochs=self.bad_epochs,
            steps=self.steps,
            history=self.history,
            rng_state=torch.get_rng_state(),
        )
        # The log first, then best.pt, then last.pt: a run killed between two writes resumes
        # from the previous last.pt, so neither the log nor best.pt can lag behind it.
        self._write_log()
        if improved:
            save_checkpoint(self._model_payload(), self.best_path, kind=self.kind)
        save_checkpoint(state, self.last_path, kind=self.kind)

    def _write_log(self) -> None:
        if not self.history:
            return
        names = list(self.history[0])
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=names)
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write(self.out_dir / "log.csv", lambda tmp: Path(tmp).write_text(buffer.getvalue()))

    def _restore(self) -> None:
        state = load_checkpoint(self.last_path, kind=self.kind)
        changed = [
            f"{key} {state[key]!r} -> {self.config.meta[key]!r}"
            for key in RESUME_FIXED
            if key in state and key in self.config.meta and state[key] != self.config.meta[key]
        ]
        if changed:
            raise ValueError(
                f"cannot resume {str(self.out_dir)!r}: the run was started with other settings "
                f"({'; '.join(changed)}); resume with the same ones, or train into a new folder"
            )
        load_state_dict_checked(self.model, state["state_dict"], self.last_path)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.best_val_loss = float(state["best_val_loss"])
        self.bad_epochs = int(state["bad_epochs"])
        self.steps = int(state.get("steps", 0))
        self.history = list(state["history"])
        torch.set_rng_state(state["rng_state"])

    # ---------------------------------------------------------------- loop
    def _run_epoch(self, batches: Iterable[Any], train: bool) -> dict[str, float]:
        totals: dict[str, float] = {}
        count = 0
        limit = self.config.max_steps_per_epoch if train else None
        desc = f"epoch {self.epoch + 1} {'train' if train else 'val'}"
        show = self.config.progress and self.config.is_main_process
        # Training steps advance the run's bar (its time left is the whole run's);
        # validation gets a bar of its own.
        bar = (
            self._run_bar
            if train and self._run_bar is not None
            else tqdm(
                batches, desc=desc, total=_length(batches, limit), disable=not show, leave=False
            )
        )
        self.trainable.train(train)
        for batch in batches:
            if limit is not None and count >= limit:
                break
            with torch.set_grad_enabled(train):
                terms = self.step(batch, train)
            loss = terms["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(self._non_finite_message(desc, count, terms))
            if train:
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.steps += 1
                if self.scheduler is not None:
                    self.scheduler.step()
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach())
            count += 1
            bar.update(1)
            bar.set_postfix(
                {"epoch": self.epoch + 1, **{k: f"{v / count:.4f}" for k, v in totals.items()}}
            )
        if bar is not self._run_bar:
            bar.close()
        self.trainable.eval()
        if count == 0:
            raise ValueError(f"{desc}: no batches (is the dataset empty?)")
        means = {name: value / count for name, value in totals.items()}
        return self.config.reduce(means) if self.config.reduce else means

    def _non_finite_message(self, desc: str, step: int, terms: Mapping[str, torch.Tensor]) -> str:
        """Which terms went bad at which step, and what is left to resume from."""
        bad = [name for name, value in terms.items() if not torch.isfinite(value).all()]
        kept = (
            f"the last good checkpoint is {str(self.last_path)!r} (after epoch {self.epoch})"
            if self.last_path.exists()
            else "no checkpoint was written yet"
        )
        return (
            f"{desc}: the loss became {terms['loss'].item()} at step {step} (of this epoch; "
            f"{self.steps} steps in all); non-finite terms: {', '.join(bad)}; {kept}. Lower the "
            f"learning rate, or check the classifier and the data"
        )

    def _open_run_bar(self, batches: Iterable[Any]) -> tqdm:
        """One bar over every training step left in the run: its rate and time left are
        the run's (early stopping may end it sooner)."""
        per_epoch = _length(batches, self.config.max_steps_per_epoch)
        epochs_left = self.config.max_epochs - self.epoch
        return tqdm(
            desc=f"training ({self.kind})",
            total=per_epoch * epochs_left if per_epoch is not None else None,
            unit="step",
            disable=not (self.config.progress and self.config.is_main_process),
        )

    def fit(
        self,
        train_batches: Callable[[int], Iterable[Any]],
        val_batches: Callable[[], Iterable[Any]],
        evaluate: Callable[[], Mapping[str, float]] | None = None,
    ) -> list[dict[str, float]]:
        """Train until ``max_epochs`` or early stopping.

        Args:
            train_batches: ``epoch -> iterable of batches`` (the epoch lets samplers reshuffle).
            val_batches: ``() -> iterable of validation batches``.
            evaluate: optional extra validation numbers logged each epoch (e.g. mAP).

        Returns:
            The per-epoch log (also in ``out_dir/log.csv``).
        """
        with RunLock(self.out_dir, enabled=self.config.is_main_process):
            return self._fit(train_batches, val_batches, evaluate)

    def _fit(
        self,
        train_batches: Callable[[int], Iterable[Any]],
        val_batches: Callable[[], Iterable[Any]],
        evaluate: Callable[[], Mapping[str, float]] | None,
    ) -> list[dict[str, float]]:
        if self.config.is_main_process:
            remove_stale_temporaries(self.out_dir)
        if self.config.resume and self.last_path.exists():
            self._restore()
        try:
            return self._epochs(train_batches, val_batches, evaluate)
        finally:
            if self._run_bar is not None:
                self._run_bar.close()
                self._run_bar = None

    def _epochs(
        self,
        train_batches: Callable[[int], Iterable[Any]],
        val_batches: Callable[[], Iterable[Any]],
        evaluate: Callable[[], Mapping[str, float]] | None,
    ) -> list[dict[str, float]]:
        while self.epoch < self.config.max_epochs and self.bad_epochs < self.config.patience:
            batches = train_batches(self.epoch)
            if self._run_bar is None:
                self._run_bar = self._open_run_bar(batches)
            train_terms = self._run_epoch(batches, train=True)
            val_terms = self._run_epoch(val_batches(), train=False)
            self.epoch += 1
            row = {"epoch": float(self.epoch)}
            row.update({f"train_{k}": v for k, v in train_terms.items()})
            row.update({f"val_{k}": v for k, v in val_terms.items()})
            if evaluate is not None:
                row.update(evaluate())
            # ``best_val_loss`` holds the monitored number as "lower is better": the
            # validation loss, or the selected number negated.
            monitored = (
                val_terms["loss"] if self.config.select is None else -row[self.config.select]
            )
            improved = monitored < self.best_val_loss
            if improved:
                self.best_val_loss = monitored
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
            self.history.append(row)
            if self.config.progress and self.config.is_main_process:
                tqdm.write(" ".join(f"{k}={v:.4g}" for k, v in row.items()))
            self._save(improved)
        return self.history


def _length(batches: Iterable[Any], limit: int | None) -> int | None:
    """Steps an epoch over ``batches`` takes (``None`` where the loader has no length)."""
    total = len(batches) if hasattr(batches, "__len__") else None
    if total is not None and limit is not None:
        total = min(total, limit)
    return total
