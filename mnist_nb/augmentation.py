"""Batched, on-device augmentation: one random affine transform per image, a batch in one `grid_sample`.

Digits tolerate small rotations, shifts and scalings (a 7 tilted by 10 degrees is still a 7), not flips
(a mirrored 2 is not a digit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mnist_nb.config import TrainConfig


@dataclass(frozen=True)
class Augmentation:
    """How far each image is warped; the settings' one home is `TrainConfig` (`augmentation_for`)."""

    rotation_degrees: float  # angle ~ U(-d, d)
    translate_pixels: float  # shift ~ U(-p, p) pixels, independently in x and y
    scale_range: float  # zoom ~ U(1 - r, 1 + r)


def augmentation_for(config: TrainConfig) -> Augmentation | None:
    """The augmentation `config` trains with, or None when it trains on the images as they are."""
    if not config.augment:
        return None
    return Augmentation(config.rotation_degrees, config.translate_pixels, config.scale_range)


def random_affine(images: torch.Tensor, augmentation: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """Warp float images [B, C, H, W] (background 0) by one random affine map each: 4 numbers per image
    (angle, scale, shift x, shift y) from `generator`, so a seeded generator gives the same batch."""
    batch, _, height, width = images.shape

    def uniform(bound: float) -> torch.Tensor:  # [B] values in [-bound, bound]
        noise = torch.rand(batch, generator=generator, device=images.device, dtype=torch.float32)
        return (noise * 2 - 1) * bound

    angle = uniform(math.radians(augmentation.rotation_degrees))
    scale = 1 + uniform(augmentation.scale_range)
    # affine_grid works in normalized coordinates where the image spans [-1, 1]: one pixel is 2/size.
    shift_x = uniform(augmentation.translate_pixels) * 2 / width
    shift_y = uniform(augmentation.translate_pixels) * 2 / height

    # theta maps output coordinates to input coordinates: dividing by `scale` zooms in when scale > 1.
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)], dim=1).to(
        images.dtype
    )  # [B, 2, 3]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # [B, H, W, 2]
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
