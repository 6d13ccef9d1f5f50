"""Data: the train/validation split, normalization, the on-device loader."""

from __future__ import annotations

import math

import pytest
import torch

from mnist_nb.augmentation import augmentation_for, random_affine
from mnist_nb.config import TrainConfig, epoch_seed
from mnist_nb.data import ImageSet, Normalization, TensorLoader, load_test_set, load_training_split
from mnist_nb.support.mnist_files import MnistDataError, raw_folder


def test_loader_reads_tiny_idx_files(tiny_mnist_root):
    train, validation = load_training_split(tiny_mnist_root, validation_size=20, split_seed=0)
    test = load_test_set(tiny_mnist_root)
    assert (len(train), len(validation), len(test)) == (80, 20, 20)
    assert train.images.dtype == torch.uint8 and train.images.shape == (80, 28, 28)
    assert train.labels.dtype == torch.int64
    # The split is a partition of the 100 training images, and reproducible from its seed.
    raw = (raw_folder(tiny_mnist_root) / "train-images-idx3-ubyte").read_bytes()[16:]
    all_images = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(100, 28, 28)
    together = torch.cat([train.images, validation.images]).flatten(1)
    assert sorted(map(bytes, together.numpy())) == sorted(map(bytes, all_images.flatten(1).numpy()))
    again, _ = load_training_split(tiny_mnist_root, validation_size=20, split_seed=0)
    other, _ = load_training_split(tiny_mnist_root, validation_size=20, split_seed=1)
    assert torch.equal(again.images, train.images) and not torch.equal(other.images, train.images)


def test_loaders_pass_on_what_is_wrong_with_the_files(tiny_mnist_root):
    empty = tiny_mnist_root / "empty"
    with pytest.raises(MnistDataError, match="train-images-idx3-ubyte.gz"):
        load_training_split(empty, download=False)
    with pytest.raises(MnistDataError, match="t10k-labels-idx1-ubyte.gz"):
        load_test_set(empty, download=False)
    path = raw_folder(tiny_mnist_root) / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(MnistDataError, match=r"t10k-images-idx3-ubyte is truncated or corrupt"):
        load_test_set(tiny_mnist_root)


def test_real_mnist_sizes_and_split(mnist_root):
    train, validation = load_training_split(mnist_root)
    test = load_test_set(mnist_root)
    assert (len(train), len(validation), len(test)) == (55_000, 5_000, 10_000)
    assert torch.bincount(test.labels).tolist()[:2] == [980, 1135]  # the official test set
    normalization = Normalization.of(train)
    assert math.isclose(normalization.mean, 0.1307, abs_tol=0.001)
    assert math.isclose(normalization.std, 0.3081, abs_tol=0.001)


def test_image_set_refuses_what_is_not_uint8_digits_with_one_label_each():
    with pytest.raises(ValueError, match=r"images must be uint8 \[N, H, W\]"):
        ImageSet(torch.rand(3, 28, 28), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"images must be uint8 \[N, H, W\]"):
        ImageSet(torch.zeros(3, 1, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ImageSet(torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long))
    images = make_images(3)
    assert len(images) == 3 and images.device.type == "cpu" and images.to("cpu").images is images.images


def test_normalization_matches_manual_statistics():
    images = ImageSet(torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8), torch.zeros(50, dtype=torch.long))
    normalization = Normalization.of(images)
    pixels = images.images.double() / 255  # the direct computation, on a float copy of every pixel
    assert normalization == Normalization(round(pixels.mean().item(), 6), round(pixels.std().item(), 6))
    standardized = normalization(pixels)  # the images it was measured on: mean 0, std 1
    assert math.isclose(standardized.mean().item(), 0.0, abs_tol=1e-4)
    assert math.isclose(standardized.std().item(), 1.0, abs_tol=1e-4)


def make_images(count: int = 10) -> ImageSet:
    return ImageSet(
        torch.arange(count * 784).remainder(256).to(torch.uint8).view(count, 28, 28), torch.arange(count) % 10
    )


def test_tensor_loader_batches_in_order_without_shuffle():
    dataset = make_images(10)
    normalization = Normalization(0.5, 0.25)
    loader = TensorLoader(dataset, 4, shuffle=False, normalization=normalization)
    batches = list(loader)
    assert len(loader) == 3 and [len(labels) for _, labels in batches] == [4, 4, 2]
    images, labels = batches[0]
    assert images.shape == (4, 1, 28, 28) and images.dtype == torch.float32
    torch.testing.assert_close(images, (dataset.images[:4].unsqueeze(1).float() / 255 - 0.5) / 0.25)
    assert labels.tolist() == [0, 1, 2, 3]
    assert len(TensorLoader(dataset, 4, shuffle=False, normalization=normalization, drop_last=True)) == 2
    assert len(TensorLoader(dataset, 4, shuffle=False, normalization=normalization, max_batches=1)) == 1
    assert len(list(TensorLoader(dataset, 4, shuffle=False, normalization=normalization, max_batches=1))) == 1


def test_tensor_loader_shuffles_reproducibly_per_epoch():
    dataset = make_images(64)
    loader = TensorLoader(dataset, 64, shuffle=True, normalization=Normalization(0, 1), seed=3)

    def order(epoch):
        loader.set_epoch(epoch)
        return next(iter(loader))[1].tolist(), next(iter(loader))[1].tolist()

    first, repeated = order(1)
    assert first == order(1)[0]  # same epoch, same order
    assert sorted(first) == sorted(dataset.labels.tolist())
    assert first != order(2)[0]


def test_set_epoch_seeds_the_loader_with_epoch_seed():
    """The loader's shuffle and augmentation draws of epoch e come from epoch_seed(seed, e), nothing else."""
    dataset = ImageSet(torch.randint(0, 256, (48, 28, 28), dtype=torch.uint8), torch.arange(48))
    augmentation = augmentation_for(TrainConfig())
    loader = TensorLoader(
        dataset, 16, shuffle=True, normalization=Normalization(0, 1), augmentation=augmentation, seed=7
    )
    for epoch in (0, 1, 5):
        loader.set_epoch(epoch)
        batches = list(loader)
        # The same draws by hand: one permutation, then one affine per batch, from one generator.
        generator = torch.Generator().manual_seed(epoch_seed(7, epoch))
        order = torch.randperm(48, generator=generator)
        for index, (images, labels) in enumerate(batches):
            chosen = order[16 * index : 16 * (index + 1)]
            assert torch.equal(labels, chosen)
            expected = random_affine(dataset.images[chosen].unsqueeze(1).float() / 255, augmentation, generator)
            torch.testing.assert_close(images, expected)
    # A fresh loader starts at epoch 0.
    fresh = TensorLoader(dataset, 48, shuffle=True, normalization=Normalization(0, 1), seed=7)
    assert torch.equal(
        next(iter(fresh))[1], torch.randperm(48, generator=torch.Generator().manual_seed(epoch_seed(7, 0)))
    )
