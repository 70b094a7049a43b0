"""A ViT-Tiny for the real-objects world, trained from scratch with token hints from a ResNet.

    python benchmarks/vit_hints.py --teacher runs/resnet18/best.pt --out runs/vit/best.pt \\
        --steps 1500 --lr 3e-4
    python benchmarks/vit_hints.py --teacher runs/resnet18/best.pt --out runs/vit/best.pt \\
        --init runs/vit/best.pt --steps 1500 --lr 3e-4      # continue from the weights

Trained on labels alone (``train-classifier --model vit_tiny``), this ViT stayed at the loss of
predicting each class's frequency for 1,500 steps on 2 CPU cores (docs/real-objects.md). Here
each of its 8 x 8 patch tokens is also asked, through a linear map, to predict the ResNet
classifier's ``layer3`` feature at the same place (layer-normalised, mean squared error; "hints",
Romero et al., FitNets, 2015): a dense target per patch that says where the objects are, which
the image-level labels alone give too weakly. The ResNet only teaches during training; the
written checkpoint is an ordinary ``vit_tiny`` classifier checkpoint (``load_classifier``,
``train-explainer --classifier``, ``benchmarks/real_objects.py compare``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from captum_explainer.checkpoint import read_state_dict, save_checkpoint
from captum_explainer.data import RealObjects, collate_items
from captum_explainer.metrics import mean_average_precision
from captum_explainer.models import vit_tiny
from captum_explainer.models.loading import load_classifier
from captum_explainer.runtime import reuse_freed_memory


def validation_map(vit: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    vit.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scores = torch.cat([vit(chunk).float() for chunk in images.split(64)])
    vit.train()
    return mean_average_precision(scores, labels)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--teacher", type=Path, required=True, help="a ResNet classifier checkpoint"
    )
    parser.add_argument("--out", type=Path, required=True, help="the ViT checkpoint to write")
    parser.add_argument("--init", type=Path, help="start from these ViT weights")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--warmup", type=int, default=150, help="linear warm-up steps")
    parser.add_argument(
        "--schedule",
        choices=["cosine", "constant"],
        default="constant",
        help="after the warm-up: cosine decay to 0 at --steps, or a constant rate",
    )
    parser.add_argument("--hint-weight", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--val-size", type=int, default=256)
    parser.add_argument("--every", type=int, default=300, help="validate and save every N steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    reuse_freed_memory()
    torch.manual_seed(args.seed)

    teacher, meta = load_classifier(args.teacher)
    if not hasattr(teacher, "layer3"):
        raise SystemExit(f"--teacher {str(args.teacher)!r}: a ResNet with a layer3 is needed")
    teacher.requires_grad_(False)
    hints: dict[str, torch.Tensor] = {}
    teacher.layer3.register_forward_hook(lambda _m, _i, out: hints.__setitem__("layer3", out))
    size = int(meta["image_size"][0])
    vit = vit_tiny(int(meta["num_classes"]), size)
    if args.init is not None:
        vit.load_state_dict(read_state_dict(args.init, "--init"))
    width = getattr(teacher.layer3[-1], "conv3", teacher.layer3[-1].conv2).out_channels
    to_hint = torch.nn.Linear(vit.hidden_dim, width)
    # The encoder's output: the class token, then one token per patch in row-major order.
    vit.encoder.register_forward_hook(lambda _m, _i, out: hints.__setitem__("tokens", out[:, 1:]))
    params = [*vit.parameters(), *to_hint.parameters()]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)

    def rate(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        if args.schedule == "constant":
            return 1.0
        done = (step - args.warmup) / max(1, args.steps - args.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    data = RealObjects(400_000, image_size=size, seed=args.seed, split="train")
    loader = DataLoader(
        data, batch_size=args.batch_size, shuffle=True, collate_fn=collate_items, num_workers=1
    )
    val = RealObjects(args.val_size, image_size=size, seed=args.seed, split="val")
    val_images, val_labels, _ = collate_items([val[i] for i in range(len(val))])

    def save(step: int, val_map: float) -> None:
        payload = {
            key: meta[key] for key in ("num_classes", "classes", "image_size", "normalization")
        }
        payload.update(
            arch="vit_tiny",
            state_dict=vit.state_dict(),
            command=" ".join(["python", *sys.argv]),
            teacher=str(args.teacher),
            steps=step,
            val_map=val_map,
        )
        save_checkpoint(payload, args.out, kind="classifier")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    start, running = time.perf_counter(), None
    vit.train()
    for step, (images, labels, _) in enumerate(loader, start=1):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            teacher(images)
        target = hints["layer3"].float().flatten(2).transpose(1, 2)  # (N, P, C)
        target = F.layer_norm(target, target.shape[-1:])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = vit(images)
            predicted = to_hint(hints["tokens"])
        classification = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        hint = F.mse_loss(predicted.float(), target)
        loss = classification + args.hint_weight * hint
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        now = torch.tensor([classification.item(), hint.item()])
        running = now if running is None else 0.95 * running + 0.05 * now
        if step % 50 == 0:
            print(
                f"step {step}: classification {running[0]:.4f}, hint {running[1]:.4f}, "
                f"{time.perf_counter() - start:.0f} s",
                flush=True,
            )
        if step % args.every == 0 or step == args.steps:
            val_map = validation_map(vit, val_images, val_labels)
            save(step, val_map)
            print(f"step {step}: validation mAP {val_map:.3f}; wrote {args.out}", flush=True)
        if step == args.steps:
            break


if __name__ == "__main__":
    main()
