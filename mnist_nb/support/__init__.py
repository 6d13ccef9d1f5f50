"""Support: what the lesson core and the notebooks use but do not teach.

The MNIST files (`mnist_files`: where they live, md5, IDX checks, extraction locks), the notebooks' figures
(`plots` and `model_plots`: matplotlib drawing, not the lesson), checkpoint files (`checkpoint_files`: atomic
writes, format checks), the lab's model variants (`variants`) and the reference model the lab compares
against (`reference_model`). They import nothing of the package outside `support`.
"""
