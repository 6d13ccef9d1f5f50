"""The reference: the script repository this project grew from, rebuilt from its description.

Its model (10,550 parameters, although the repository claims 19,866; `mnist_nb/reference.py`) and
its data pipeline:
per-sample torchvision transforms on PIL images through a DataLoader, batch 128, SGD lr 0.05
momentum 0.9, NLL loss on log-softmax outputs. Its published 99.41% is the best epoch picked
by evaluating on the test set after every epoch; `time_to_accuracy` reproduces that protocol
(first epoch whose test accuracy reaches the target) only to time it, never to select a model.
"""

from __future__ import annotations

import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from mnist_nb.models import build_model


def ReferenceNet() -> nn.Module:  # noqa: N802 - reads as the class it stands for
    """The reference model (10,550 parameters), built by the package: see mnist_nb/reference.py."""
    return build_model("reference")


def reference_transforms(train: bool):
    steps = [transforms.RandomRotation(5), transforms.RandomAffine(degrees=0, translate=(0.1, 0.1))] if train else []
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def reference_loaders(root, batch_size: int = 128, num_workers: int = 2, seed: int = 0):
    """Per-sample PIL transforms in DataLoader workers: the pipeline this project replaces."""
    train = datasets.MNIST(str(root), train=True, download=False, transform=reference_transforms(True))
    test = datasets.MNIST(str(root), train=False, download=False, transform=reference_transforms(False))
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        train, batch_size=batch_size, shuffle=True, num_workers=num_workers, generator=generator,
        persistent_workers=num_workers > 0,
    )  # fmt: skip
    test_loader = DataLoader(test, batch_size=1000, shuffle=False, num_workers=num_workers)
    return train_loader, test_loader


def reference_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def train_reference_epoch(model, loader, optimizer, device, max_batches: int | None = None) -> dict:
    """One epoch as the reference trains it; returns images seen and seconds."""
    model.train()
    seen, started = 0, time.perf_counter()
    for batch_index, (images, labels) in enumerate(loader):
        if max_batches is not None and batch_index >= max_batches:
            break
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        seen += len(labels)
    return {"images": seen, "seconds": time.perf_counter() - started}


@torch.no_grad()
def test_accuracy(model, loader, device) -> float:
    model.eval()
    correct = total = 0
    for images, labels in loader:
        predictions = model(images.to(device)).argmax(1)
        correct += (predictions == labels.to(device)).sum().item()
        total += len(labels)
    return 100 * correct / total
