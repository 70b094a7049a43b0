"""Training an amortized method: a network regresses a teacher's every-class maps, computed
on the fly for every batch, with the package's loop (checkpoints, resume, early stopping, a
progress bar with the time left)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from captum_explainer.amortized.teacher import Teacher
from captum_explainer.data.loading import check_not_empty
from captum_explainer.data.types import Normalization
from captum_explainer.distributed import DistributedContext
from captum_explainer.explainer.train import data_loaders
from captum_explainer.files import check_output_folder
from captum_explainer.models.explainer_nets import build_explainer, init_encoder_from
from captum_explainer.models.user import check_channels
from captum_explainer.training.loop import FitConfig, Trainer, check_loop_settings, checkpoint_meta

#: The seed of the validation labels' draws: far from every training batch's (1, 2, ...),
#: so that no validation label repeats a training one.
VALIDATION_SEED = 1_000_000_007

#: The default network: the small Explainer without its per-class head, narrow. A teacher's
#: maps (RISE's: a 7 x 7 grid upsampled) are smoother than masks, and a one-pass method is
#: worth having only if it is fast.
DEFAULT_ARCH_KWARGS = dict(width=16, full_res_channels=8, class_head_channels=0)


@dataclass
class AmortizedTrainingConfig:
    """Settings of ``captum-explainer train-amortized`` (see its ``--help``).

    Args:
        out_dir: the run's folder (``best.pt``, ``last.pt``, ``log.csv``).
        arch, arch_kwargs: the network (:data:`~captum_explainer.models.EXPLAINERS`) and its
            builder's arguments (default :data:`DEFAULT_ARCH_KWARGS` for ``small_explainer``).
        lr, epochs, batch_size, patience, seed, resume, max_steps_per_epoch, progress,
            num_workers: the loop's (as ``train-explainer``).
        init_from_classifier: start the encoder from the classifier's features where they fit.
        command, extra_meta: recorded in the checkpoint.
    """

    out_dir: Path
    arch: str = "small_explainer"
    arch_kwargs: dict[str, Any] | None = None
    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 16
    patience: int = 5
    seed: int = 0
    resume: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    num_workers: int = 0
    init_from_classifier: bool = True
    command: str = ""
    extra_meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        check_loop_settings(self)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr (--lr) must be a number > 0, got {self.lr!r}")

    def builder_kwargs(self, channels: int) -> dict[str, Any]:
        """The network builder's arguments for images of ``channels`` channels."""
        kwargs = dict(
            self.arch_kwargs
            if self.arch_kwargs is not None
            else (DEFAULT_ARCH_KWARGS if self.arch == "small_explainer" else {})
        )
        if self.arch != "deeplabv3_resnet50":
            kwargs.setdefault("in_channels", channels)
        return kwargs


def map_correlation(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each map with its target over the pixels: ``(N, K, H, W)``
    pairs -> ``(N, K)``; NaN where either map is constant."""
    a = predicted.flatten(2) - predicted.flatten(2).mean(2, keepdim=True)
    b = target.flatten(2) - target.flatten(2).mean(2, keepdim=True)
    norm = a.norm(dim=2) * b.norm(dim=2)
    return torch.where(norm > 0, (a * b).sum(2) / norm.clamp(min=1e-30), torch.nan)


def train_amortized(
    config: AmortizedTrainingConfig,
    teacher: Teacher,
    classifier: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    classes: list[str],
    normalization: Normalization,
    device: str | torch.device = "cpu",
) -> list[dict[str, float]]:
    """Train a network to predict ``teacher``'s maps of every class; write ``best.pt``,
    ``last.pt`` (kind ``"amortized"``) and ``log.csv`` into ``config.out_dir``.

    Every training batch is labelled by the teacher on the fly, with a fresh seed per step
    (:meth:`Teacher.maps`); the validation images are labelled once, with their own seed.
    The loss is the mean squared error in the teacher's units. Each epoch's log holds
    ``val_correlation``: the mean per-(image, class) correlation of the network's maps with
    the validation labels (noisy themselves, so it stays below 1), ``images_seen`` and
    ``teacher_seconds`` (the time spent computing labels so far).

    Args:
        config: the settings.
        teacher: the method imitated (computed from ``classifier``).
        classifier: the frozen model the teacher explains (left as it was).
        train_set, val_set: items ``(image, multi-hot labels, ...)``.
        classes: the class names, ``K`` of them; normalization: the images'.
        device: where the network and the teacher run.

    Returns:
        The per-epoch log.
    """
    check_output_folder(config.out_dir)
    check_not_empty(train_set, "training set")
    check_not_empty(val_set, "validation set")
    device = torch.device(device)
    torch.manual_seed(config.seed)
    image = train_set[0][0].to(device)
    check_channels(classifier, image, "the training data")
    network = build_explainer(config.arch, len(classes), **config.builder_kwargs(image.shape[0]))
    if config.init_from_classifier:
        config.extra_meta["encoder_from_classifier"] = init_encoder_from(network, classifier)
    network = network.to(device)
    train_batches, val_batches = data_loaders(config, train_set, val_set, DistributedContext())
    spent = {"teacher_seconds": 0.0}

    def labelled(images: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
        start = time.perf_counter()
        maps = teacher.maps(images, labels, seed)
        spent["teacher_seconds"] += time.perf_counter() - start
        return maps

    validation = [
        (batch[0].to(device), labelled(batch[0].to(device), batch[1].to(device), seed))
        for seed, batch in enumerate(val_batches(), start=VALIDATION_SEED)
    ]

    def step(batch: Any, train: bool) -> dict[str, torch.Tensor]:
        if train:
            images = batch[0].to(device)
            # Step s of the run (resumed runs included) draws seed s + 1: fresh masks.
            targets = labelled(images, batch[1].to(device), trainer.steps + 1)
        else:
            images, targets = batch
        predicted = network(images)
        if predicted.shape != targets.shape:
            raise ValueError(
                f"the network gives maps {tuple(predicted.shape)} but the teacher "
                f"{teacher.name!r} gives {tuple(targets.shape)}"
            )
        return {"loss": F.mse_loss(predicted, targets)}

    def evaluate() -> dict[str, float]:
        was_training = network.training
        network.eval()
        with torch.no_grad():
            correlation = torch.cat(
                [
                    map_correlation(network(images), targets).flatten()
                    for images, targets in validation
                ]
            )
        network.train(was_training)
        return {
            "val_correlation": float(correlation.nanmean()),
            "images_seen": float(trainer.steps * config.batch_size),
            "teacher_seconds": spent["teacher_seconds"],
        }

    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    fit_config = FitConfig(
        out_dir=config.out_dir,
        max_epochs=config.epochs,
        patience=config.patience,
        resume=config.resume,
        max_steps_per_epoch=config.max_steps_per_epoch,
        progress=config.progress,
    )
    trainer = Trainer(network, optimizer, step, fit_config, kind="amortized")
    fit_config.meta = checkpoint_meta(
        config.arch,
        classes,
        image,
        normalization,
        config.seed,
        config.command,
        lr=config.lr,
        batch_size=config.batch_size,
        teacher=teacher.name,
        teacher_kwargs=teacher.kwargs,
        arch_kwargs=getattr(network, "builder_kwargs", config.builder_kwargs(image.shape[0])),
        **config.extra_meta,
    )
    was_training = classifier.training
    try:
        classifier.eval()
        return trainer.fit(train_batches, lambda: validation, evaluate)
    finally:
        classifier.train(was_training)
