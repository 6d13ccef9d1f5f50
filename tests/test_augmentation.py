"""Augmentation: one seeded random affine map per image, and which configs train with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mnist_nb.augmentation import Augmentation, augmentation_for, random_affine
from mnist_nb.config import TrainConfig


def test_identity_augmentation_leaves_images_unchanged():
    images = torch.rand(6, 1, 28, 28)
    still = Augmentation(rotation_degrees=0, translate_pixels=0, scale_range=0)
    torch.testing.assert_close(
        random_affine(images, still, torch.Generator().manual_seed(0)), images, atol=1e-5, rtol=0
    )


def test_augmentation_is_seeded_and_changes_images():
    images = torch.zeros(4, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0
    augmentation = augmentation_for(TrainConfig())
    first = random_affine(images, augmentation, torch.Generator().manual_seed(0))
    again = random_affine(images, augmentation, torch.Generator().manual_seed(0))
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, images)
    # Small affine maps keep the digit's ink roughly constant and never flip it.
    assert torch.allclose(first.sum((1, 2, 3)), images.sum((1, 2, 3)), rtol=0.3)
    # Each image gets its own map: four copies of one digit come out four different ways.
    assert len({tuple(image.flatten().tolist()) for image in first}) == 4
    other = random_affine(images, augmentation, torch.Generator().manual_seed(1))
    assert not torch.allclose(first, other)


def test_pure_translation_matches_roll():
    """A whole-pixel shift through the affine path equals shifting the array (PyTorch reference)."""
    images = torch.zeros(1, 1, 28, 28)
    images[0, 0, 10:15, 8:20] = torch.rand(5, 12)
    theta = torch.tensor([[[1.0, 0.0, 2 * 2 / 28], [0.0, 1.0, 0.0]]])  # sample 2 pixels to the right
    grid = F.affine_grid(theta, [1, 1, 28, 28], align_corners=False)
    shifted = F.grid_sample(images, grid, align_corners=False)
    torch.testing.assert_close(shifted, torch.roll(images, shifts=-2, dims=3), atol=1e-5, rtol=0)


def test_augmentation_for_follows_the_config():
    config = TrainConfig(rotation_degrees=5.0, translate_pixels=1.0, scale_range=0.05)
    assert augmentation_for(config) == Augmentation(5.0, 1.0, 0.05)
    assert augmentation_for(config.replace(augment=False)) is None
    # The model does not decide: the baseline augments when its config says so.
    assert augmentation_for(config.replace(model="baseline")) == Augmentation(5.0, 1.0, 0.05)
