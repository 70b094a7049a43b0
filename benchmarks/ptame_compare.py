"""P-TAME, the other trainable one-pass explainer, beside the Explainer on the real-objects world.

P-TAME (Ntrougkas et al., 2024; ``ptame`` 1.0.2) is licensed for academic, non-commercial use
only: this script calls the installed package (``pip install 'captum-explainer[ptame]'``) and
copies none of its code. It is a benchmark, not part of the library.

    python benchmarks/ptame_compare.py train --classifier runs/resnet18/best.pt \\
        --features runs/resnet18/best.pt --out runs/ptame-r18 --steps 900
    python benchmarks/ptame_compare.py compare --classifier runs/resnet18/best.pt \\
        --explainer runs/explainer-r18/best.pt --ptame runs/ptame-r18/ptame.pt \\
        --n-images 24 --seed 2026 --methods explainer gradcam --out runs/real-eval-ptame

How ``ptame`` is run here, and why:

- Importing its attention module builds ``torchvision.models.resnet18(weights="DEFAULT")`` as a
  default argument, which downloads ImageNet weights at import time; offline the import fails
  with ``URLError``. The import below runs with torchvision's ``resnet18`` builder told to
  ignore ``weights`` for that moment; the default is never used (the feature extractor is
  passed explicitly).
- The package trains through a Lightning module configured by Hydra files that the wheel
  does not ship. The loop here is plain PyTorch around ptame's own ``PtamePipeline``,
  ``PTAMEAttention`` and ``ClassicLoss`` (its default coefficients), with Adam at ``--lr`` on
  the attention's trainable layers (our choice: the wheel holds no configuration), batch 16,
  bfloat16 autocast and scenes drawn fresh at every step, as for the Explainer.
- P-TAME explains a black box through a separate pre-trained feature extractor: ``--features``,
  a ResNet classifier checkpoint of this package (here the ResNet-18 trained on this world, the
  weights the Explainer's encoder starts from), read at ``layer1``-``layer4``. It is trained on
  the classifier's top-1 class (cross-entropy against the argmax, as the package does); every
  class's map comes from the same pass, min-max scaled per map (its evaluation normaliser) and
  upsampled bilinearly to the image.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from captum.attr import Attribution
from real_objects import add_compare_arguments, compare
from torch import nn
from torch.utils.data import DataLoader

from captum_explainer.checkpoint import load_checkpoint
from captum_explainer.data import RealObjects, collate_items
from captum_explainer.evaluation.registry import MethodSpec
from captum_explainer.models.pretrained import load_models
from captum_explainer.output_files import atomic_write
from captum_explainer.runtime import reuse_freed_memory


@contextlib.contextmanager
def _resnet18_without_download() -> Iterator[None]:
    """torchvision's ``resnet18`` builder ignoring ``weights`` (see the module's docstring)."""
    builder = torchvision.models.resnet18

    def offline(*args: object, weights: object = None, **kwargs: object) -> nn.Module:
        return builder(*args, weights=None, **kwargs)

    torchvision.models.resnet18 = offline
    try:
        yield
    finally:
        torchvision.models.resnet18 = builder


with _resnet18_without_download():
    from ptame.models.components.attention.ptame_attention import PTAMEAttention
    from ptame.models.components.loss import ClassicLoss
    from ptame.models.components.ptame_pipeline import PtamePipeline
    from ptame.utils.masking_utils import norm_resize_mask

LAYERS = ["layer1", "layer2", "layer3", "layer4"]


def build_attention(features: nn.Module, num_classes: int, image_size: int) -> PTAMEAttention:
    """P-TAME's attention on ``features`` (a ResNet) for ``num_classes`` classes."""
    return PTAMEAttention(
        model={"model": features, "layers": LAYERS},
        input_dim=[2, 3, image_size, image_size],
        num_classes=num_classes,
    )


def _trainable(attention: PTAMEAttention) -> dict[str, torch.Tensor]:
    """The attention's trained state: everything but the frozen feature extractor."""
    return {k: v for k, v in attention.state_dict().items() if not k.startswith("attention.")}


def train(args: argparse.Namespace) -> None:
    reuse_freed_memory()
    torch.manual_seed(args.seed)
    classifier, _, meta = load_models(args.classifier)
    features, _, _ = load_models(args.features)
    size = int(meta["image_size"][0])
    attention = build_attention(features.eval(), len(meta["classes"]), size)
    # Its masking with ImageNet's normalisation (the world's): the pipeline's default argument
    # is the factory itself, not the masking function, so it is built here.
    pipeline = PtamePipeline(classifier.eval(), attention, masking_procedure=norm_resize_mask())
    data = RealObjects(args.steps * args.batch_size, image_size=size, seed=args.seed)
    loader = DataLoader(
        data, batch_size=args.batch_size, shuffle=True, collate_fn=collate_items, num_workers=1
    )
    loss_fn = ClassicLoss()
    parameters = [p for layer in attention.trainable_layers for p in layer.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=args.lr)
    pipeline.train()
    pipeline.backbone.eval()  # the frozen networks keep their batch-norm statistics
    attention.attention.eval()
    start = time.perf_counter()
    for step, (images, _, _) in enumerate(loader, 1):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = pipeline(images)
        terms = loss_fn(**{k: v.float() for k, v in out.items()})
        optimizer.zero_grad()
        terms[0].backward()
        optimizer.step()
        if step % 25 == 0 or step == args.steps:
            rate = step * args.batch_size / (time.perf_counter() - start)
            print(
                f"step {step}/{args.steps}: loss {terms[0].item():.4f} (ce "
                f"{terms[1].item():.4f}, area {terms[2].item():.4f}, smoothness "
                f"{terms[3].item():.4f}), {rate:.1f} images/s",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "ptame.pt"
    payload = {"state_dict": _trainable(attention), "features": os.fspath(args.features)}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    print(f"wrote {path} ({args.steps} steps, {time.perf_counter() - start:.0f} s)")


class PTAMEMaps(Attribution):
    """A trained P-TAME attention behind Captum's interface: ``(N, K, H, W)`` maps in [0, 1]."""

    def __init__(self, attention: PTAMEAttention) -> None:
        super().__init__(attention)
        self.attention = attention.eval()

    def attribute_all_classes(self, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            maps = self.attention(inputs)  # eval mode: min-max scaled per map
        return F.interpolate(maps, size=inputs.shape[-2:], mode="bilinear", align_corners=False)

    def attribute(self, inputs: torch.Tensor, target: object = None) -> torch.Tensor:
        maps = self.attribute_all_classes(inputs)
        n = maps.shape[0]
        index = torch.as_tensor(target, dtype=torch.long).reshape(-1).expand(n)
        return maps[torch.arange(n), index][:, None]


def compare_with_ptame(args: argparse.Namespace) -> None:
    reuse_freed_memory()
    meta = load_checkpoint(args.classifier, kind="classifier")  # compare() loads the model
    stored = torch.load(args.ptame, map_location="cpu", weights_only=True)
    features, _, _ = load_models(stored["features"])
    attention = build_attention(features.eval(), len(meta["classes"]), int(meta["image_size"][0]))
    attention.load_state_dict(stored["state_dict"], strict=False)
    missing = set(_trainable(attention)) - set(stored["state_dict"])
    if missing:
        raise ValueError(f"{args.ptame} lacks {sorted(missing)[:3]}")
    spec = MethodSpec("P-TAME", PTAMEMaps(attention), scale="minmax", reduction="mean")
    compare(args, extra=[spec])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train")
    t.add_argument("--classifier", type=Path, required=True)
    t.add_argument("--features", type=Path, required=True, help="a ResNet classifier checkpoint")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=900)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(run=train)
    c = add_compare_arguments(commands.add_parser("compare"))
    c.add_argument("--ptame", type=Path, required=True, help="a ptame.pt written by train")
    c.set_defaults(run=compare_with_ptame)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
