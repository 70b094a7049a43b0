"""What every method of the catalogue costs, against the bare model passes it cannot avoid.

For each method on the same model, images and device: seconds per image (median and spread
over repeats, after a warm-up), peak memory (RSS on the CPU, allocated memory on CUDA), and
the *overhead ratio*: the method's time divided by the time of the model passes it needs,
measured in the same run (docs/performance.md gives the list). A ratio near 1 means the
method adds nothing to the model's own cost.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from captum_explainer._deprecation import renamed_values
from captum_explainer.amortized.train import DEFAULT_ARCH_KWARGS
from captum_explainer.attr import GradCAM
from captum_explainer.data import IMAGENET_NORMALIZATION, SYNTHETIC_NORMALIZATION, SyntheticScenes
from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.registry import (
    MethodSpec,
    Models,
    method_record,
    method_records,
)
from captum_explainer.evaluation.timing import (
    forward_backward_passes,
    measure_peak_memory,
    time_paired,
)
from captum_explainer.machine import describe_machine
from captum_explainer.metrics.randomization import model_randomization, parameterized_layers
from captum_explainer.models import (
    build_explainer,
    deeplabv3_explainer,
    resnet50_multilabel,
    synthetic_classifier,
)
from captum_explainer.output_files import atomic_write, check_output_file
from captum_explainer.report import markdown_table
from captum_explainer.runtime import reuse_freed_memory


@dataclass
class BenchmarkRow:
    """One method's numbers (seconds are per image)."""

    model: str
    method: str
    seconds_per_image: float
    spread: str
    peak_memory_mb: float
    baseline_seconds_per_image: float
    overhead_ratio: float
    note: str = ""
    key: str = ""  # its record key (a peer: the key of the method it computes; "" sanity runs)
    work: int | None = None  # its work count where it is run at several (the scaling check)


# ---------------------------------------------------------------- the methods
@dataclass
class BenchmarkCase:
    """A method call and the bare passes it cannot avoid."""

    name: str
    run: Callable[[], Any]
    baseline: Callable[[], None]
    note: str = ""
    key: str = ""  # its record key (a peer: the key of the method it computes; "" sanity runs)
    work: int | None = None  # its work count, where it is run at several


def default_cases(
    classifier: nn.Module,
    images: torch.Tensor,
    normalization: Normalization,
    explainer: nn.Module | None = None,
    target: int = 0,
    preset: str = "benchmark",
    scaling: Sequence[float] = (0.25, 2.0),
    keys: Sequence[str] | None = None,
    amortized: nn.Module | None = None,
    networks: Mapping[str, nn.Module] | None = None,
) -> list[BenchmarkCase]:
    """Every registered method (or the records ``keys``) with the ``preset``'s settings,
    each beside its bare passes (:attr:`MethodRecord.passes`); a method whose trained
    network is not in ``networks`` (``explainer`` and ``amortized``: shorthands for two of
    them) is left out. Methods that declare ``benchmark_scaling`` also run at ``scaling``
    times their work count, so that :func:`scaling_warnings` can check that their time
    grows with their work."""
    models = Models(
        classifier, explainer, normalization, "sigmoid", amortized=amortized, networks=networks
    )
    records = [method_record(k) for k in keys] if keys is not None else list(method_records())
    cases = []
    for record in records:
        if not record.available(models):
            continue
        spec = record.spec(models, preset)
        counts = [None]
        if record.benchmark_scaling and record.work_arg:
            base = spec.kwargs[record.work_arg]
            counts = [base, *(max(1, round(base * f)) for f in scaling)]
        for count in counts:
            kwargs = spec.kwargs if count is None else {**spec.kwargs, record.work_arg: count}
            name = record.name if count is None else f"{record.name} ({count} {record.unit})"
            passes = record.passes(models, images, target, kwargs)
            run = _runner(replace(spec, name=name, kwargs=kwargs), images, target)
            cases.append(BenchmarkCase(name, run, passes.run, passes.note, record.key, count))
    return cases


def _runner(spec: MethodSpec, images: torch.Tensor, target: int) -> Callable[[], Any]:
    def run() -> Any:
        return spec.attribution.attribute(images, target=target, **spec.kwargs)

    return run


def peer_cases(classifier: nn.Module, images: torch.Tensor, target: int = 0) -> list[BenchmarkCase]:
    """Grad-CAM as others compute it: Captum's ``LayerGradCam`` plus interpolation, and
    pytorch-grad-cam's ``GradCAM`` when that package is installed (the ``bench`` extra)."""
    layer = classifier.target_layer
    size = tuple(images.shape[-2:])
    baseline = forward_backward_passes(classifier, images, 1, target, layer)

    def captum_gradcam() -> torch.Tensor:
        maps = LayerGradCam(classifier, layer).attribute(
            images, target=target, relu_attributions=True
        )
        return LayerAttribution.interpolate(maps, size, interpolate_mode="bilinear")

    # Peers carry the key of the record they stand beside (summary() pairs them).
    cases = [
        BenchmarkCase(
            "Captum LayerGradCam + interpolate", captum_gradcam, baseline, "peer", "gradcam"
        )
    ]
    try:
        from pytorch_grad_cam import GradCAM as PeerGradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:
        return cases
    targets = [ClassifierOutputTarget(target)] * images.shape[0]
    # pytorch-grad-cam needs an input that requires grad when the backbone is frozen.
    peer_input = images.detach().clone().requires_grad_(True)

    def peer_gradcam() -> Any:
        with PeerGradCAM(model=classifier, target_layers=[layer]) as cam:
            return cam(input_tensor=peer_input, targets=targets)

    cases.append(
        BenchmarkCase("pytorch-grad-cam GradCAM", peer_gradcam, baseline, "peer", "gradcam")
    )
    return cases


def run_benchmark(
    model_name: str,
    cases: list[BenchmarkCase],
    n_images: int,
    device: torch.device,
    repeats: int = 3,
    warmup: int = 1,
    progress: Callable[[str], None] | None = None,
    peak: Callable[[int], float] | None = None,
) -> list[BenchmarkRow]:
    """Time every case and its baseline in alternation (:func:`time_paired`); measure the
    method's peak memory with ``peak(case_index)`` where given (a fresh process, see
    :func:`peak_in_fresh_process`), else in this process."""
    rows = []
    for index, case in enumerate(cases):
        if progress is not None:
            progress(case.name)
        timing = time_paired(case.run, case.baseline, repeats, warmup, device)
        method, baseline = timing.method, timing.baseline
        peak_mb = peak(index) if peak is not None else measure_peak_memory(case.run, device)[1]
        rows.append(
            BenchmarkRow(
                model=model_name,
                method=case.name,
                seconds_per_image=method.median / n_images,
                spread=f"{method.low / n_images:.4g}-{method.high / n_images:.4g}",
                peak_memory_mb=peak_mb,
                baseline_seconds_per_image=baseline.median / n_images,
                overhead_ratio=timing.ratio,
                note=case.note,
                key=case.key,
                work=case.work,
            )
        )
    return rows


def scaling_warnings(rows: Sequence[BenchmarkRow], tolerance: float = 0.2) -> list[str]:
    """The self-check: a method run at several work counts (RISE at 1,000 / 4,000 / 8,000
    masks) must take time in proportion to its work, and so must its bare passes. A line for
    each whose time per unit of work varies by more than ``tolerance`` (0.2: 20 %) between
    its counts: such a row measures something other than the method (docs/performance.md).

    Example:
        >>> from captum_explainer.tasks.benchmark import BenchmarkRow, scaling_warnings
        >>> def rise(masks, seconds):
        ...     name = f"RISE ({masks} masks)"
        ...     return BenchmarkRow("m", name, seconds, "", 0, seconds, 1.0, "", "rise", masks)
        >>> scaling_warnings([rise(1000, 1.0), rise(4000, 4.1), rise(8000, 7.9)])  # in proportion
        []
        >>> len(scaling_warnings([rise(1000, 1.0), rise(4000, 4.0), rise(8000, 4.2)]))  # 8,000 too fast
        2
    """
    lines = []
    groups: dict[tuple[str, str], list[BenchmarkRow]] = {}
    for row in rows:
        if row.work is not None:
            groups.setdefault((row.model, row.key), []).append(row)
    for (model, key), group in groups.items():
        if len(group) < 2:
            continue
        counts = "/".join(str(r.work) for r in group)
        for what, seconds in (
            ("time", [r.seconds_per_image for r in group]),
            ("bare passes' time", [r.baseline_seconds_per_image for r in group]),
        ):
            per_unit = [s / r.work for s, r in zip(seconds, group)]
            spread = max(per_unit) / min(per_unit) - 1
            if spread > tolerance:
                lines.append(
                    f"{model}: {key}'s {what} per unit of work varies {spread:.0%} across "
                    f"{counts} (more than {tolerance:.0%}): the timing does not follow the "
                    f"work; rerun on an idle machine"
                )
    return lines


def rows_as_dicts(rows: list[BenchmarkRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


#: Settings per model: the small CNN with every default; ResNet-50 at 224 px on a CPU with
#: fewer masks and iterations (per-pass overheads do not depend on their number).
#: (The methods' settings are the records' presets: ``benchmark``, ``large``, ``quick``.)
CONFIGS: dict[str, dict[str, Any]] = {
    "small_cnn": dict(n_images=2, preset="benchmark", scaling=(0.25, 2.0)),
    "resnet50": dict(n_images=1, preset="large", scaling=()),
    "tiny": dict(n_images=1, preset="quick", scaling=(0.5, 2.0)),
}


def build_setup(
    model_name: str, device: torch.device
) -> tuple[nn.Module, torch.Tensor, Normalization, dict[str, nn.Module]]:
    """(classifier, images, normalization, the methods' trained networks by key) for
    ``"small_cnn"`` (the shipped models at the demo's 64 px: every record's shipped network)
    or ``"resnet50"`` (random weights, 224 px: the paper's Explainer and the default
    amortized network)."""
    if model_name in ("small_cnn", "tiny"):
        data = SyntheticScenes(8, split="test", seed=99)
        images = torch.stack([data[i][0] for i in range(8)])
        networks = {
            r.network: r.shipped_network(device)
            for r in method_records()
            if r.network is not None and r.shipped_network is not None
        }
        return (
            synthetic_classifier().to(device),
            images.to(device),
            SYNTHETIC_NORMALIZATION,
            {key: network.to(device) for key, network in networks.items()},
        )
    if model_name == "resnet50":
        torch.manual_seed(0)
        classifier = resnet50_multilabel(num_classes=20, weights=None).eval().to(device)
        networks = {
            "explainer": deeplabv3_explainer(num_classes=20).eval().to(device),
            "amortized-rise": build_explainer("small_explainer", 20, **DEFAULT_ARCH_KWARGS)
            .eval()
            .to(device),
        }
        images = torch.randn(8, 3, 224, 224, device=device)
        return classifier, images, IMAGENET_NORMALIZATION, networks
    raise ValueError(f"model must be one of {sorted(CONFIGS)}, got {model_name!r}")


def model_cases(
    model_name: str,
    device: torch.device,
    peers: bool = True,
    keys: Sequence[str] | None = None,
) -> tuple[list[BenchmarkCase], int]:
    """Every method of the catalogue (or the records ``keys``; with every method, also the
    sanity run), and the Grad-CAM peers, on one model as :data:`CONFIGS` sets it, in a fixed
    order; and the number of images per call."""
    config = dict(CONFIGS[model_name])
    n_images = config.pop("n_images")
    classifier, images, normalization, networks = build_setup(model_name, device)
    images = images[:n_images]
    cases = default_cases(classifier, images, normalization, keys=keys, networks=networks, **config)
    if keys is None:
        cases.append(sanity_case(classifier, images))
    if peers:
        cases += peer_cases(classifier, images)
    return cases, n_images


def benchmark_model(
    model_name: str,
    device: torch.device,
    repeats: int,
    warmup: int,
    peers: bool = True,
    progress: Callable[[str], None] | None = None,
    fresh_peaks: bool = True,
    keys: Sequence[str] | None = None,
) -> list[BenchmarkRow]:
    """Every case of :func:`model_cases` timed; with ``fresh_peaks`` each method's peak
    memory is measured in a fresh process (:func:`peak_in_fresh_process`)."""
    cases, n_images = model_cases(model_name, device, peers, keys)

    def peak(index: int) -> float:
        return peak_in_fresh_process(model_name, index, str(device), peers, keys)

    return run_benchmark(
        model_name,
        cases,
        n_images,
        device,
        repeats,
        warmup,
        progress,
        peak if fresh_peaks else None,
    )


def peak_in_fresh_process(
    model_name: str,
    index: int,
    device: str,
    peers: bool = True,
    keys: Sequence[str] | None = None,
) -> float:
    """Peak memory (MB) of case ``index`` of :func:`model_cases`, measured in a new Python
    process after its bare passes ran once there: inside a long-running process the
    allocator reuses what earlier cases freed, and their growth would hide this one's.

    Example:
        >>> from captum_explainer.tasks.benchmark import model_cases, peak_in_fresh_process
        >>> import torch
        >>> cases, _ = model_cases("tiny", torch.device("cpu"), peers=False)
        >>> index = [case.name for case in cases].index("Grad-CAM")
        >>> peak_in_fresh_process("tiny", index, "cpu", peers=False) >= 0  # megabytes
        True
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        threads = torch.get_num_threads()
        job = pool.submit(_measure_peak, model_name, index, device, peers, keys, threads)
        return job.result()


def _measure_peak(
    model_name: str,
    index: int,
    device: str,
    peers: bool,
    keys: Sequence[str] | None,
    threads: int,
) -> float:
    reuse_freed_memory()  # as the command line runs it
    torch.set_num_threads(threads)
    cases, _ = model_cases(model_name, torch.device(device), peers, keys)
    cases[index].baseline()
    return measure_peak_memory(cases[index].run, device)[1]


def sanity_case(classifier: nn.Module, images: torch.Tensor, target: int = 0) -> BenchmarkCase:
    """A full cascading model-randomisation run for Grad-CAM, against the explanations it
    recomputes (one per randomisation step and the original: Grad-CAM calls alone)."""
    layer_count = len(parameterized_layers(classifier))
    targets = torch.full((images.shape[0],), target, dtype=torch.long, device=images.device)

    def gradcam(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return GradCAM(model).attribute(x, target=t, relu_attributions=False)

    def explanations() -> None:
        for _ in range(layer_count + 1):
            gradcam(classifier, images, targets)

    return BenchmarkCase(
        "Sanity: Grad-CAM, cascading randomisation",
        lambda: model_randomization(gradcam, classifier, images, targets),
        explanations,
        f"baseline: the {layer_count + 1} Grad-CAM explanations it recomputes",
    )


def format_table(rows: list[BenchmarkRow]) -> str:
    """The rows as a markdown table."""
    headers = {
        "seconds_per_image": "s/image (median)",
        "peak_memory_mb": "peak MB",
        "baseline_seconds_per_image": "bare passes s/image",
        "overhead_ratio": "overhead ratio",
    }
    formats = {
        "seconds_per_image": ".4g",
        "peak_memory_mb": ".1f",
        "baseline_seconds_per_image": ".4g",
        "overhead_ratio": ".2f",
    }
    hidden = ("note", "key", "work")
    table = [{k: v for k, v in asdict(r).items() if k not in hidden} for r in rows]
    return markdown_table(table, headers=headers, formats=formats)


def summary(rows: list[BenchmarkRow]) -> list[str]:
    """What the rows say in a few lines, from the records alone: each method's time against
    the peers that compute it too, each method with a work count against the record that
    is the time reference (the Explainer's), and the peak memory of the methods run at
    several work counts, largest against smallest."""
    records = {r.key: r for r in method_records()}
    reference = next((r for r in records.values() if r.time_reference), None)
    lines = []
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        own = {r.key: r for r in mine if r.key in records and r.note != "peer" and r.work is None}
        for peer in (r for r in mine if r.note == "peer" and r.key in own):
            ratio = own[peer.key].seconds_per_image / peer.seconds_per_image
            lines.append(f"{model}: {own[peer.key].method} time / {peer.method} time = {ratio:.2f}")
        base = own.get(reference.key) if reference is not None else None
        for r in mine:
            if (
                base is not None
                and r.key in records
                and records[r.key].work_arg
                and r.note != "peer"
            ):
                lines.append(
                    f"{model}: {r.method} / {base.method} per image = "
                    f"{r.seconds_per_image / base.seconds_per_image:.0f}x"
                )
        scaled: dict[str, list[BenchmarkRow]] = {}
        for r in mine:
            if r.work is not None:
                scaled.setdefault(r.key, []).append(r)
        for group in scaled.values():
            low, high = min(group, key=lambda r: r.work), max(group, key=lambda r: r.work)
            if high.work != low.work:
                lines.append(
                    f"{model}: {records[high.key].name} peak memory {high.work} vs {low.work} "
                    f"{records[high.key].unit}: {high.peak_memory_mb:.1f} MB vs "
                    f"{low.peak_memory_mb:.1f} MB"
                )
    return lines


def run_benchmarks(
    models: Sequence[str],
    device: str | torch.device = "cpu",
    repeats: int = 3,
    warmup: int = 1,
    peers: bool = True,
    progress: Callable[[str, str], None] | None = None,
    out: str | os.PathLike | None = None,
    fresh_peaks: bool = True,
    keys: Sequence[str] | None = None,
) -> list[BenchmarkRow]:
    """:func:`benchmark_model` for each configuration named in ``models`` (:data:`CONFIGS`);
    ``progress(model, method)`` is called before each method; with ``out``, the rows are
    saved there as JSON (:func:`save_rows`; the path is checked before anything runs);
    ``keys``: only these records' methods (default: every method and the sanity run).

    Freed memory is kept for reuse first (:func:`~captum_explainer.runtime.reuse_freed_memory`,
    as the command line runs every command): otherwise every pass pays page faults whose
    cost depends on what ran before, and a row measures the allocator's history.

    Example:
        >>> from captum_explainer.tasks.benchmark import run_benchmarks
        >>> rows = run_benchmarks(
        ...     ["tiny"], repeats=1, warmup=0, peers=False, fresh_peaks=False, keys=["gradcam"]
        ... )
        >>> row = rows[0]
        >>> row.method, row.seconds_per_image > 0, row.overhead_ratio > 0  # against its bare passes
        ('Grad-CAM', True, True)
    """
    if out is not None:
        check_output_file(out)
    unknown = [m for m in models if m not in CONFIGS]
    if unknown:
        raise ValueError(f"models must be among {sorted(CONFIGS)}, got {unknown[0]!r}")
    reuse_freed_memory()
    rows = []
    for model in models:
        announce = None if progress is None else (lambda name, m=model: progress(m, name))
        rows += benchmark_model(
            model, torch.device(device), repeats, warmup, peers, announce, fresh_peaks, keys
        )
    if out is not None:
        save_rows(out, rows)
    return rows


def save_rows(path: str | os.PathLike, rows: list[BenchmarkRow]) -> Path:
    """The rows, the summary lines and the machine they were timed on (CPU model, thread
    count, vector instructions, native bfloat16, torch version:
    :func:`~captum_explainer.machine.describe_machine`), as JSON (written atomically)."""
    machine = describe_machine()
    text = json.dumps(
        {
            "rows": rows_as_dicts(rows),
            "summary": summary(rows),
            "scaling_warnings": scaling_warnings(rows),
            "machine": machine,
            # Top-level copies kept for readers of the 0.3 files.
            "torch": machine["torch"],
            "threads": machine["threads"],
        },
        indent=2,
    )
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _work_units() -> dict[str, str]:
    return {r.work_arg: r.unit for r in method_records() if r.work_arg}


# 0.3's table of work units, until 0.5: each record says its own.
__getattr__ = renamed_values(__name__, {"WORK_UNITS": (_work_units, "MethodRecord.unit")})
