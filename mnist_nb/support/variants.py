"""Support for `mnist_nb.models`: the lab's variants of the series' last model (`residual`), by name.

Each entry is a set of `ModelSpec` field changes. Records in `benchmarks/results/` name their model, so
`build_model` must know every name a recorded run holds; no notebook before 09 uses them.
"""

# Notebook 09's frontier beyond the recipes' `fast` and `tiny`: how small 99.4% and 99.0% still go.
FRONTIER_VARIANTS: dict[str, dict] = {
    "tiny-stem8": {"description": "tiny with an 8-channel stem (<= 5,000 parameters)", "widths": (8, 10)},
    "small": {"description": "residual at width 8, a 4-channel stem", "widths": (4, 8)},  # 3,088 parameters
    "micro": {"description": "residual at width 6, a 4-channel stem", "widths": (4, 6)},  # 1,922 parameters
}

# The ablation: residual with one component removed. Two removals also change how it is trained
# (`lab.frontier.ABLATION_TRAINING`): without BatchNorm it trains at the plain stack's learning rate, 0.05;
# without augmentation the model is residual itself, trained with augment=False.
ABLATIONS: dict[str, dict] = {
    "residual-no-batchnorm": {"description": "residual without BatchNorm", "batchnorm": False},
    "residual-no-dropout": {"description": "residual without dropout", "dropout": 0.0},
    "residual-no-augmentation": {"description": "residual without augmentation"},
    "residual-no-gap": {"description": "residual with a dense head instead of GAP", "head": "dense"},
    "residual-no-attention": {"description": "residual without attention", "attention": False},
    "residual-no-skip": {"description": "residual without skip connections", "skip": False},
}
