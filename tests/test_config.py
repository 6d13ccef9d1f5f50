"""The recipe: validation, concrete settings, the same run, smoke mode, per-epoch seeds, records."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mnist_nb.config import (
    RECIPES,
    SMOKE_BATCHES_PER_EPOCH,
    TrainConfig,
    epoch_seed,
    recipe,
    smoke_batches,
)


def test_invalid_config_values_are_refused():
    with pytest.raises(ValueError, match="num_epochs must be >= 1"):
        TrainConfig(num_epochs=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        TrainConfig(learning_rate=-0.1)
    with pytest.raises(ValueError, match=r"clean_epochs must be in \[0, num_epochs\]"):
        TrainConfig(num_epochs=3).replace(clean_epochs=4)
    with pytest.raises(ValueError, match="max_batches_per_epoch must be >= 1 or None"):
        TrainConfig(max_batches_per_epoch=0)
    # A zoom of 1 +- 1.5 would reach 0 (a division by nearly nothing) and below it (a mirrored digit, a flip).
    with pytest.raises(ValueError, match=r"scale_range must be in \[0, 1\): a zoom of 1 \+- scale_range \(got 1.5\)"):
        TrainConfig(scale_range=1.5)
    with pytest.raises(ValueError, match=r"rotation_degrees must be >= 0 \(got -10\); translate_pixels must be >= 0"):
        TrainConfig(rotation_degrees=-10, translate_pixels=-2)
    # Every problem at once, in one message.
    with pytest.raises(ValueError, match=r"batch_size must be >= 1 \(got 0\); warmup_fraction must be in \[0, 1\)"):
        TrainConfig(batch_size=0, warmup_fraction=1.0)


def test_every_setting_is_concrete_and_every_recipe_states_its_learning_rate_and_augmentation():
    assert all(value is not None for key, value in TrainConfig().to_dict().items() if key != "max_batches_per_epoch")
    for name, config in RECIPES.items():
        assert (config.learning_rate, config.augment) == (0.1, True), name
    # The model's name says what to build, not how to train it: another model keeps the config's settings.
    baseline = TrainConfig(model="baseline")
    assert (baseline.learning_rate, baseline.augment) == (0.1, True)
    # False is a setting: a config without augmentation stays without it.
    assert TrainConfig(augment=False).replace(model="dropout").augment is False


def test_config_imports_no_model_code():
    code = "import sys, mnist_nb.config; print(sorted(m for m in sys.modules if m.startswith('mnist_nb')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['mnist_nb', 'mnist_nb.config']"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", None),
        ("false", None),
        (" False ", None),
        ("no", None),
        ("1", SMOKE_BATCHES_PER_EPOCH),
        ("yes", SMOKE_BATCHES_PER_EPOCH),
        ("true", SMOKE_BATCHES_PER_EPOCH),
    ],
)
def test_smoke_batches_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("MNIST_NB_SMOKE", raising=False)
    else:
        monkeypatch.setenv("MNIST_NB_SMOKE", value)
    assert smoke_batches() == expected
    # Reading it changes no config: the caller passes it on as max_batches_per_epoch.
    assert TrainConfig().max_batches_per_epoch is None


def test_epoch_seed_is_one_formula_distinct_per_seed_and_epoch():
    seeds = {epoch_seed(seed, epoch) for seed in range(10) for epoch in range(0, 101)}
    assert len(seeds) == 10 * 101  # no two (seed, epoch) pairs of a 100-epoch sweep share one


def test_model_options_are_a_sorted_tuple_equal_from_python_or_json():
    from_dict = TrainConfig(model="tiny", model_options={"widths": (8, 10), "attention": False})
    from_pairs = TrainConfig(model="tiny", model_options=(("attention", False), ("widths", (8, 10))))
    assert from_dict.model_options == (("attention", False), ("widths", (8, 10)))
    assert from_dict == from_pairs and hash(from_dict) == hash(from_pairs)
    # Through metrics.json (tuples become lists) and back: the same config.
    restored = TrainConfig.from_dict(json.loads(json.dumps(from_dict.to_dict())))
    assert restored == from_dict and restored.model_options == from_dict.model_options
    assert TrainConfig.from_dict(from_dict.to_dict()) == from_dict
    assert TrainConfig().model_options == ()


def test_from_dict_ignores_settings_that_no_longer_exist():
    # The config of a recorded run (benchmarks/results/tiny-stem8-30.json), from before distillation and
    # label smoothing were removed: its keys load, the old ones are dropped.
    recorded = {
        "model": "tiny-stem8", "num_epochs": 30, "batch_size": 128, "learning_rate": 0.1,
        "warmup_fraction": 0.2, "momentum": 0.9, "weight_decay": 0.0005, "label_smoothing": 0.0,
        "augment": True, "rotation_degrees": 10.0, "translate_pixels": 2.0, "scale_range": 0.1,
        "clean_epochs": 3, "recalibrate_batchnorm": True, "validation_size": 5000, "split_seed": 0,
        "device": "auto", "channels_last": True, "compile": False, "teacher": None,  # compile: removed too
        "distillation_weight": 0.5, "distillation_temperature": 4.0, "max_batches_per_epoch": None,
    }  # fmt: skip
    config = TrainConfig.from_dict(recorded)
    assert config == TrainConfig(
        model="tiny-stem8", num_epochs=30, learning_rate=0.1, augment=True, clean_epochs=3, recalibrate_batchnorm=True
    )
    assert not {"teacher", "distillation_weight", "distillation_temperature", "label_smoothing", "compile"} & set(
        config.to_dict()
    )


def test_same_run_ignores_only_the_device():
    config = TrainConfig(device="cuda")
    assert config.same_run(config.replace(device="cpu"))
    assert not config.same_run(config.replace(device="cpu", seed=1))
    assert not config.same_run(config.replace(model_options={"widths": (6, 10)}))
    assert not recipe("final").same_run(recipe("final").replace(learning_rate=0.05))
    assert not recipe("final").same_run(recipe("final").replace(augment=False))
    # One identity: every setting, the device read as "auto"; a notebook's run folder is named by its digest.
    assert config.run_identity() == {**config.to_dict(), "device": "auto"}
    # A config read back from JSON (lists for tuples) is the same run as the one that wrote it.
    saved = json.loads(json.dumps(recipe("final").to_dict()))
    assert TrainConfig.from_dict(saved).same_run(recipe("final").replace(device="cpu"))


def test_describe_lists_every_setting():
    lines = TrainConfig(model_options={"widths": (6, 10)}).describe().splitlines()
    assert len(lines) == len(TrainConfig().to_dict())
    assert any(line.startswith("model_options") and line.endswith("= (('widths', (6, 10)),)") for line in lines)


def test_a_shorter_budget_keeps_the_clean_epochs_its_last_ones():
    final = recipe("final")  # 15 epochs, the last 2 clean
    assert final.replace(num_epochs=1).clean_epochs == 1  # the one epoch there is
    assert final.replace(num_epochs=5).clean_epochs == 2
    assert final.replace(num_epochs=5, clean_epochs=0).clean_epochs == 0  # asked for: kept
    with pytest.raises(ValueError, match="clean_epochs must be in"):
        final.replace(num_epochs=5, clean_epochs=6)
