import pytest
import torch

from captum_explainer.data import SyntheticScenes


@pytest.fixture(autouse=True)
def _few_threads():
    # The CI machine has 2 cores; tests are small, so more threads only add overhead.
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_scenes() -> SyntheticScenes:
    return SyntheticScenes(length=6, image_size=48, seed=7, split="val")


@pytest.fixture(scope="session")
def voc_root(tmp_path_factory, tiny_scenes):
    root = tmp_path_factory.mktemp("voc")
    tiny_scenes.export_voc(root, image_set="test")
    return root


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory, tiny_scenes):
    root = tmp_path_factory.mktemp("coco")
    tiny_scenes.export_coco(root, split="val")
    return root
