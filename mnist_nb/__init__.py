"""mnist-nb: a CNN of fewer than 20,000 parameters past 99.4% on MNIST, one idea at a time.

The lesson core, in the order the notebooks use it: config, data, augmentation, devices, plots, blocks,
models, anatomy, training, inspection, comparison, checkpoint. Support (`mnist_nb.support`): the files
and the reference model, beneath the core. The lab (`mnist_nb.lab`) reproduces the README's figures.
"""
