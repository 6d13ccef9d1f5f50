"""Support: what the lesson core needs but does not teach.

The MNIST files (`mnist_files`: where they live, md5, IDX checks, extraction locks), the notebooks' figures
(`plots`: matplotlib drawing, not the lesson), checkpoint files
(`checkpoint_files`: atomic writes, format checks), the lab's model variants (`variants`) and the reference
model the lab compares against (`reference_model`). The core imports these; they import nothing else of the package.
"""
