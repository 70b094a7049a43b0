"""The slow method an amortized network learns from: every class's map of every image,
computed on the fly, with fresh random draws on every call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.comparison import raw_class_maps
from captum_explainer.evaluation.registry import MethodSpec, Models, method_record


@dataclass
class Teacher:
    """A method (any :class:`~captum_explainer.evaluation.MethodSpec`: one of the package's or
    a Captum attribution with its keyword arguments) as a source of training labels.

    :meth:`maps` gives every class's map ``(N, K, H, W)`` in the method's own units, one value
    per pixel (input-shaped attributions reduced by the spec's ``reduction``). A method whose
    ``attribute`` takes a ``seed`` (RISE's masks) gets the seed of each call, so that every
    batch is labelled with fresh, independent draws: cheap, noisy but unbiased estimates of
    the method's limit, which a network trained on many of them averages out (Covert et al.,
    NeurIPS 2024).

    Example:
        >>> import torch
        >>> from captum_explainer.amortized import Teacher
        >>> from captum_explainer.models import synthetic_classifier
        >>> teacher = Teacher.from_key("rise", synthetic_classifier(), n_masks=64)
        >>> images, labels = torch.rand(2, 3, 64, 64), torch.zeros(2, 8)
        >>> first, again = teacher.maps(images, labels, seed=1), teacher.maps(images, labels, 1)
        >>> first.shape, bool(first.equal(again)), bool(first.equal(teacher.maps(images, labels, 2)))
        (torch.Size([2, 8, 64, 64]), True, False)
    """

    method: MethodSpec
    #: The keyword that counts the method's work (RISE's ``n_masks``), where it has one: the
    #: reference of the run's validation is the method at a larger count.
    work_arg: str | None = None

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def seeded(self) -> bool:
        """Whether its maps depend on a seed (random masks): each call then draws anew."""
        return "seed" in self.method.kwargs

    @property
    def kwargs(self) -> dict[str, Any]:
        """Its ``attribute`` keyword arguments, for the checkpoint (values as text where
        they are not plain numbers, strings or booleans)."""
        plain = (int, float, str, bool, type(None))
        return {k: v if isinstance(v, plain) else repr(v) for k, v in self.method.kwargs.items()}

    def maps(
        self, images: torch.Tensor, labels: torch.Tensor, seed: int | None = None
    ) -> torch.Tensor:
        """Every class's map of ``images`` ``(N, C, H, W)``: ``(N, K, H, W)`` float32.

        Args:
            images: a batch, on the classifier's device.
            labels: ``(N, K)`` multi-hot, for the width ``K`` and for a method that needs
                to know the classes present (undesirable pixels).
            seed: the random draw of a seeded method (ignored by the others).
        """
        method = self.method
        if self.seeded and seed is not None:
            method = replace(method, kwargs={**method.kwargs, "seed": int(seed)})
        return raw_class_maps(method, images, labels).float()

    def at_work(self, work: int | None) -> Teacher:
        """The same method at the work count ``work`` (``None``, or a method without a work
        count: itself): the high-budget reference its noisy labels are measured against.

        Example:
            >>> from captum_explainer.amortized import Teacher
            >>> from captum_explainer.models import synthetic_classifier
            >>> teacher = Teacher.from_key("rise", synthetic_classifier(), n_masks=250)
            >>> teacher.at_work(4000).method.kwargs["n_masks"]
            4000
        """
        if work is None or self.work_arg is None:
            return self
        return replace(
            self,
            method=replace(self.method, kwargs={**self.method.kwargs, self.work_arg: int(work)}),
        )

    @classmethod
    def from_key(
        cls,
        key: str,
        classifier: nn.Module,
        normalization: Normalization | None = None,
        score: str = "sigmoid",
        preset: str = "demo",
        **overrides: Any,
    ) -> Teacher:
        """One of the package's methods (a catalogue key, e.g. ``"rise"``) built for
        ``classifier`` with the ``preset``'s settings and ``overrides`` (``n_masks=250``).

        Raises:
            ValueError: the method needs a trained network of its own (the Explainer, an
                amortized method): it is not a teacher.
        """
        record = method_record(key)
        if record.network is not None:
            raise ValueError(
                f"teacher {key!r} is itself a trained network; choose a method computed from "
                f"the classifier (e.g. 'rise', 'gradcam', 'integrated-gradients')"
            )
        models = Models(classifier, None, normalization, score)
        return cls(record.spec(models, preset, overrides=overrides), record.work_arg)


def teacher_of(
    teacher: str | MethodSpec | Teacher,
    classifier: nn.Module,
    normalization: Normalization | None,
    score: str,
    teacher_kwargs: Mapping[str, Any] | None = None,
) -> Teacher:
    """A :class:`Teacher` from a catalogue key (with ``teacher_kwargs`` over its demo
    settings), a :class:`MethodSpec` (``teacher_kwargs`` added to its own) or a teacher."""
    check_teacher(teacher)
    kwargs = dict(teacher_kwargs or {})
    if isinstance(teacher, str):
        return Teacher.from_key(teacher, classifier, normalization, score, **kwargs)
    method = teacher.method if isinstance(teacher, Teacher) else teacher
    work_arg = teacher.work_arg if isinstance(teacher, Teacher) else None
    return Teacher(replace(method, kwargs={**method.kwargs, **kwargs}), work_arg)


def check_teacher(teacher: Any) -> None:
    """A ``ValueError`` naming what was given unless ``teacher`` is a method key, a
    :class:`MethodSpec` or a :class:`Teacher`."""
    if not isinstance(teacher, (str, MethodSpec, Teacher)):
        raise ValueError(
            f"teacher must be a method key (e.g. 'rise'), a MethodSpec or a Teacher, got "
            f"{type(teacher).__name__}"
        )
