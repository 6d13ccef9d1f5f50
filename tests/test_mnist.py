"""The MNIST files: where they live, clear errors for missing or bad ones, extraction shared between processes."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import pytest
import torch

from mnist_nb.support.mnist_files import (
    DATA_ENVIRONMENT_VARIABLE,
    EXTRACTION_LOCK,
    MNIST_FILES,
    MnistDataError,
    check_idx_file,
    default_data_root,
    ensure_mnist,
    md5_of,
    project_root,
    raw_folder,
    read_split,
)

from .conftest import write_idx


def test_data_root_follows_environment_variable(monkeypatch, tmp_path):
    assert DATA_ENVIRONMENT_VARIABLE == "MNIST_NB_DATA"
    monkeypatch.setenv("MNIST_NB_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    monkeypatch.delenv("MNIST_NB_DATA")
    assert default_data_root().name == "data"
    # In a checkout, the data lives beside the package: <checkout>/data.
    assert project_root() is not None and default_data_root() == project_root() / "data"
    assert raw_folder(tmp_path) == tmp_path / "MNIST" / "raw"


def test_read_split_reads_tiny_idx_files(tiny_mnist_root):
    images, labels = read_split(tiny_mnist_root, train=True)
    assert images.dtype == torch.uint8 and images.shape == (100, 28, 28) and images.is_contiguous()
    assert labels.dtype == torch.int64 and labels.tolist() == [index % 10 for index in range(100)]
    raw = (raw_folder(tiny_mnist_root) / "train-images-idx3-ubyte").read_bytes()[16:]
    assert torch.equal(images, torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(100, 28, 28))
    test_images, test_labels = read_split(tiny_mnist_root, train=False)
    assert test_images.shape == (20, 28, 28) and len(test_labels) == 20


def test_extracted_files_are_used_as_they_are(tiny_mnist_root):
    # All four IDX files present: nothing is downloaded, extracted or verified against an md5.
    assert ensure_mnist(tiny_mnist_root, download=False) == tiny_mnist_root
    assert sorted(path.name for path in raw_folder(tiny_mnist_root).iterdir()) == sorted(
        name.removesuffix(".gz") for name, _ in MNIST_FILES
    )


def test_missing_data_offline_says_which_files_go_where(tmp_path):
    with pytest.raises(MnistDataError) as error:
        ensure_mnist(tmp_path, download=False)
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
        ensure_mnist(tmp_path)
    # Nothing was deleted or replaced: the user decides what to do with the bad file.
    assert (folder / "train-labels-idx1-ubyte.gz").stat().st_size == len(good) // 2


def test_truncated_extracted_file_is_named(tiny_mnist_root):
    path = raw_folder(tiny_mnist_root) / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(MnistDataError, match=r"t10k-images-idx3-ubyte is truncated or corrupt"):
        read_split(tiny_mnist_root, train=False)
    read_split(tiny_mnist_root, train=True)  # the intact split still reads


def test_check_idx_file_compares_the_header_with_the_length(tmp_path):
    good = tmp_path / "good-idx3-ubyte"
    write_idx(good, torch.zeros(3, 28, 28, dtype=torch.uint8))
    check_idx_file(good)  # 16 header bytes + 3 * 784 data bytes: as promised
    assert good.stat().st_size == 16 + 3 * 784
    longer = tmp_path / "longer-idx3-ubyte"
    longer.write_bytes(good.read_bytes() + b"\0")
    with pytest.raises(
        MnistDataError, match=r"longer-idx3-ubyte is truncated or corrupt: 2369 bytes, its header says 2368"
    ):
        check_idx_file(longer)
    not_idx = tmp_path / "text-idx3-ubyte"
    not_idx.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(MnistDataError, match=r"text-idx3-ubyte is not an MNIST IDX file \(bad header\)"):
        check_idx_file(not_idx)
    cut_header = tmp_path / "cut-idx3-ubyte"
    cut_header.write_bytes(good.read_bytes()[:10])  # the 3 dimensions need 12 bytes after the first 4
    with pytest.raises(MnistDataError, match=r"cut-idx3-ubyte is truncated \(header cut short\)"):
        check_idx_file(cut_header)


def test_archives_are_gzip_of_idx(mnist_root):
    """The files CI seeds are the canonical archives torchvision extracted."""
    archive = raw_folder(mnist_root) / "t10k-labels-idx1-ubyte.gz"
    extracted = raw_folder(mnist_root) / "t10k-labels-idx1-ubyte"
    assert gzip.decompress(archive.read_bytes()) == extracted.read_bytes()
    assert md5_of(archive) == dict(MNIST_FILES)["t10k-labels-idx1-ubyte.gz"]


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
    assert (folder / EXTRACTION_LOCK).is_file()  # the extracting process locked the folder


def test_a_file_where_the_data_folder_must_go_is_refused_with_the_fix(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder\n")
    for root in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "deeper"):
        with pytest.raises(MnistDataError, match=r"notes.txt is a file, but MNIST needs a folder there") as error:
            ensure_mnist(root, download=False)
        assert "point $MNIST_NB_DATA at a folder" in str(error.value)
    (tmp_path / "data" / "MNIST").mkdir(parents=True)
    (tmp_path / "data" / "MNIST" / "raw").write_text("a file where the raw folder goes\n")
    with pytest.raises(MnistDataError, match=r"raw is a file"):
        ensure_mnist(tmp_path / "data", download=False)
