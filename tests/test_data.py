"""Data: loading IDX files through torchvision, clear errors, the split, the on-device loader."""

from __future__ import annotations

import gzip
import math
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from mnist_nb.augment import Augmentation, random_affine
from mnist_nb.data import (
    MNIST_FILES,
    ImageSet,
    MnistDataError,
    Normalization,
    TensorLoader,
    default_data_root,
    ensure_mnist,
    load_test_set,
    load_training_split,
    raw_folder,
)


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


def test_data_root_follows_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_NB_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    monkeypatch.delenv("MNIST_NB_DATA")
    assert default_data_root().name == "data"


def test_missing_data_offline_says_which_files_go_where(tmp_path):
    with pytest.raises(MnistDataError) as error:
        load_training_split(tmp_path, download=False)
    message = str(error.value)
    for name, _ in MNIST_FILES:
        assert name in message
    assert str(raw_folder(tmp_path)) in message
    assert "MNIST_NB_DATA" in message


def test_missing_data_with_failed_download_says_which_files_go_where(tmp_path, monkeypatch):
    # The real download path, made to fail fast: torchvision is pointed at an unreachable mirror.
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(MnistDataError) as error:
        ensure_mnist(tmp_path, download=True)
    message = str(error.value)
    assert "download failed" in message
    for name, _ in MNIST_FILES:
        assert name in message


def test_corrupt_archive_is_named(tmp_path, mnist_root):
    folder = raw_folder(tmp_path)
    folder.mkdir(parents=True)
    for name, _ in MNIST_FILES:
        shutil.copyfile(raw_folder(mnist_root) / name, folder / name)
    good = (folder / "train-labels-idx1-ubyte.gz").read_bytes()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(good[: len(good) // 2])  # truncated download
    with pytest.raises(MnistDataError, match=r"train-labels-idx1-ubyte\.gz is corrupt or truncated"):
        load_training_split(tmp_path)
    # Nothing was deleted or replaced: the user decides what to do with the bad file.
    assert (folder / "train-labels-idx1-ubyte.gz").stat().st_size == len(good) // 2


def test_truncated_extracted_file_is_named(tiny_mnist_root):
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


def test_normalization_matches_manual_statistics():
    images = ImageSet(torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8), torch.zeros(50, dtype=torch.long))
    normalization = Normalization.of(images)
    pixels = images.images.double() / 255
    assert math.isclose(normalization.mean, pixels.mean().item(), abs_tol=1e-6)
    assert math.isclose(normalization.std, pixels.std().item(), abs_tol=1e-6)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(normalization.invert(normalization(x)), x)


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


def test_identity_augmentation_leaves_images_unchanged():
    images = torch.rand(6, 1, 28, 28)
    still = Augmentation(rotation_degrees=0, translate_pixels=0, scale_range=0)
    torch.testing.assert_close(
        random_affine(images, still, torch.Generator().manual_seed(0)), images, atol=1e-5, rtol=0
    )


def test_augmentation_is_seeded_and_changes_images():
    images = torch.zeros(4, 1, 28, 28)
    images[:, :, 10:18, 12:16] = 1.0
    augmentation = Augmentation()
    first = random_affine(images, augmentation, torch.Generator().manual_seed(0))
    again = random_affine(images, augmentation, torch.Generator().manual_seed(0))
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, images)
    # Small affine maps keep the digit's ink roughly constant and never flip it.
    assert torch.allclose(first.sum((1, 2, 3)), images.sum((1, 2, 3)), rtol=0.3)


def test_pure_translation_matches_roll():
    """A whole-pixel shift through the affine path equals shifting the array (PyTorch reference)."""
    images = torch.zeros(1, 1, 28, 28)
    images[0, 0, 10:15, 8:20] = torch.rand(5, 12)
    theta = torch.tensor([[[1.0, 0.0, 2 * 2 / 28], [0.0, 1.0, 0.0]]])  # sample 2 pixels to the right
    grid = F.affine_grid(theta, [1, 1, 28, 28], align_corners=False)
    shifted = F.grid_sample(images, grid, align_corners=False)
    torch.testing.assert_close(shifted, torch.roll(images, shifts=-2, dims=3), atol=1e-5, rtol=0)


def test_archives_are_gzip_of_idx(mnist_root):
    """The files CI seeds are the canonical archives torchvision extracted."""
    archive = raw_folder(mnist_root) / "t10k-labels-idx1-ubyte.gz"
    extracted = raw_folder(mnist_root) / "t10k-labels-idx1-ubyte"
    assert gzip.decompress(archive.read_bytes()) == extracted.read_bytes()


def test_processes_started_together_share_one_extraction(tmp_path, mnist_root):
    # Two seeds started side by side on a fresh checkout both find only the archives: one must
    # extract while the other waits, never reading a half-written IDX file (which once killed a run).
    folder = raw_folder(tmp_path)
    folder.mkdir(parents=True)
    for name, _ in MNIST_FILES:
        shutil.copyfile(raw_folder(mnist_root) / name, folder / name)
    script = (
        "import sys; from mnist_nb.data import load_test_set, load_training_split; "
        "train, validation = load_training_split(sys.argv[1]); "
        "print(len(train), len(validation), len(load_test_set(sys.argv[1])))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        assert stdout.split() == ["55000", "5000", "10000"]
