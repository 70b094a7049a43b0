"""Train a multi-label classifier (the model to be explained): BCE, Adam, early stopping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from captum_explainer.data import Normalization, SyntheticScenes, collate_items
from captum_explainer.data.factory import make_datasets
from captum_explainer.data.loading import check_not_empty
from captum_explainer.metrics.classification import mean_average_precision
from captum_explainer.models.inference import autocast, check_precision
from captum_explainer.models.loading import build_classifier, load_weights
from captum_explainer.output_files import check_output_folder
from captum_explainer.training.loop import (
    FitConfig,
    Trainer,
    check_loop_settings,
    checkpoint_meta,
    warmup_cosine,
)


@dataclass
class ClassifierTrainingConfig:
    """Settings of ``captum-explainer train-classifier`` (see its ``--help``)."""

    out_dir: Path
    arch: str = "small_cnn"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 5
    seed: int = 0
    device: str = "cpu"
    resume: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    num_workers: int = 0
    command: str = ""
    #: ``"fp32"``, or ``"bf16"``: the forward pass under bfloat16 autocast (2.6x faster for
    #: a ResNet-18 on CPUs with AVX-512 BF16; the weights and the loss stay in float32).
    precision: str = "fp32"
    #: Random flips and quarter turns of each batch; scenes drawn fresh every step need none.
    augment: bool = True
    #: A state_dict to start from (the user's weights) instead of random initialisation.
    init_weights: Path | None = None

    def __post_init__(self) -> None:
        check_loop_settings(self)
        check_precision(self.precision, "precision (--precision)")


def materialize(dataset: Dataset, keep_segmentation: bool = False) -> TensorDataset:
    """Render a (synthetic) dataset once into memory: epochs then cost only the model.
    Items are ``(image, labels)``, with ``keep_segmentation`` also the segmentation."""
    check_not_empty(dataset)
    images, labels, segmentation = collate_items([dataset[i] for i in range(len(dataset))])
    if keep_segmentation and isinstance(segmentation, torch.Tensor):
        return TensorDataset(images, labels, segmentation)
    return TensorDataset(images, labels)


def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random horizontal flip and quarter turn (one draw per batch); labels are unchanged."""
    if torch.rand((), generator=generator) < 0.5:
        images = images.flip(-1)
    turns = int(torch.randint(4, (), generator=generator))
    return (
        torch.rot90(images, turns, dims=(-2, -1))
        if images.shape[-1] == images.shape[-2]
        else images
    )


def train_classifier(
    config: ClassifierTrainingConfig,
    train_set: Dataset,
    val_set: Dataset,
    classes: list[str],
    normalization: Normalization,
) -> list[dict[str, float]]:
    """Train ``config.arch`` on ``train_set``; write ``best.pt``, ``last.pt`` and ``log.csv``.

    Args:
        config: the settings.
        train_set, val_set: datasets of ``(image, labels, segmentation)`` items.
        classes: class names, stored in the checkpoint.
        normalization: how the images were normalised, stored in the checkpoint so that
            users and figures can map images back to colours.

    Returns:
        The per-epoch log.
    """
    check_not_empty(train_set, "training set")
    check_not_empty(val_set, "validation set")
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    image, labels, _ = train_set[0]
    model = build_classifier(config.arch, num_classes=len(classes), image_size=image.shape[-1])
    if config.init_weights is not None:
        load_weights(model, config.init_weights)
    model = model.to(device)
    if labels.numel() != len(classes):
        raise ValueError(
            f"labels have {labels.numel()} entries but {len(classes)} classes were named"
        )

    train_loader, val_loader = _loaders(config, train_set, val_set)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    steps = len(train_loader(0))
    if config.max_steps_per_epoch is not None:
        steps = min(steps, config.max_steps_per_epoch)
    scheduler = warmup_cosine(optimizer, config.epochs * steps)

    def step(batch: Any, train: bool) -> dict[str, torch.Tensor]:
        images, targets = batch[0].to(device), batch[1].to(device)
        if train and config.augment:
            images = augment(images)
        with autocast(device, config.precision):
            logits = model(images)
        return {"loss": F.binary_cross_entropy_with_logits(logits.float(), targets)}

    def evaluate() -> dict[str, float]:
        scores, targets = predict(model, val_loader, device)
        return {"val_mAP": mean_average_precision(scores, targets)}

    meta = checkpoint_meta(
        config.arch,
        classes,
        image,
        normalization,
        config.seed,
        config.command,
        lr=config.lr,
        batch_size=config.batch_size,
    )
    fit_config = FitConfig.from_command(config, meta=meta)
    trainer = Trainer(model, optimizer, step, fit_config, kind="classifier", scheduler=scheduler)
    return trainer.fit(train_loader, lambda: val_loader, evaluate)


def fit_classifier(
    config: ClassifierTrainingConfig,
    dataset: str = "synthetic",
    root: str | Path | None = None,
    image_size: int | None = None,
    train_size: int = 20000,
    val_size: int = 2000,
) -> list[dict[str, float]]:
    """Train on a dataset given by name: what ``captum-explainer train-classifier`` runs.

    Args:
        config: the training settings.
        dataset, root, image_size, train_size, val_size: as
            :func:`~captum_explainer.data.factory.make_datasets` takes them (sizes for the
            synthetic data), with ``config.seed``.

    Returns:
        The per-epoch log.
    """
    check_output_folder(config.out_dir)
    data = make_datasets(dataset, root, image_size, train_size, val_size, config.seed)
    return train_classifier(
        config, data.require_train(), data.val, data.classes, data.normalization
    )


def _loaders(
    config: ClassifierTrainingConfig, train_set: Dataset, val_set: Dataset
) -> tuple[Callable[[int], DataLoader], DataLoader]:
    if isinstance(train_set, SyntheticScenes):
        train_set, val_set = materialize(train_set), materialize(val_set)
        collate = None
    else:
        collate = collate_items
    common = dict(batch_size=config.batch_size, num_workers=config.num_workers, collate_fn=collate)

    def train_loader(epoch: int) -> DataLoader:
        # The shuffle depends on (seed, epoch) only, so a resumed run sees the same order.
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        drop_last = len(train_set) > config.batch_size
        return DataLoader(
            train_set, shuffle=True, drop_last=drop_last, generator=generator, **common
        )

    return train_loader, DataLoader(val_set, shuffle=False, **common)


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels of a whole loader, model in ``eval()`` mode."""
    was_training = model.training
    model.eval()
    scores, labels = [], []
    for batch in loader:
        scores.append(model(batch[0].to(device)).cpu())
        labels.append(batch[1])
    model.train(was_training)
    return torch.cat(scores), torch.cat(labels)
