import math

import pytest
import torch

from captum_explainer.metrics.classification import average_precision, mean_average_precision


def test_average_precision_matches_hand_computation():
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.1, 0.9]])
    labels = torch.tensor([[1, 0], [0, 1], [1, 0], [0, 0]])
    ap = average_precision(scores, labels)
    # Class 0: ranks 1 (hit), 2 (miss), 3 (hit): (1/1 + 2/3) / 2.
    assert ap[0].item() == pytest.approx((1 + 2 / 3) / 2)
    # Class 1: its only positive is ranked second.
    assert ap[1].item() == pytest.approx(0.5)
    assert mean_average_precision(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 2)


def test_perfect_ranking_and_class_without_positives():
    labels = torch.tensor([[1, 0], [0, 0]])
    ap = average_precision(labels.float(), labels)
    assert ap[0] == 1 and math.isnan(ap[1])
    assert mean_average_precision(labels.float(), labels) == 1
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        average_precision(torch.zeros(3), torch.zeros(3))
