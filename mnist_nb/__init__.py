"""mnist-nb: a CNN of fewer than 20,000 parameters past 99.4% on MNIST, one idea at a time.

The lesson core, in reading order: config, mnist (the files), data, augmentation, blocks, models,
reference, anatomy, devices, training, comparison, checkpoint, inspection, plots. The lab
(`mnist_nb.lab`) reproduces the README's figures: records, sweeps, the notebook runner, the CLI.
"""
