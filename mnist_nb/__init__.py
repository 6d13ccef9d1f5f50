"""mnist-nb: a CNN of fewer than 20,000 parameters past 99.4% on MNIST, one idea at a time.

The lesson core, in the order the notebooks use it: config, data, augmentation, devices, anatomy, blocks,
models, training, inspection, comparison, checkpoint. Support (`mnist_nb.support`): what the core and the
notebooks use but do not teach (files, figures, the reference model). The lab (`mnist_nb.lab`): the figures.
"""
