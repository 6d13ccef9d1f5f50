"""The lab: what reproduces the README's figures, apart from the lesson.

The lesson core (`mnist_nb.config`, `data`, `models`, `training`, ...) is what the notebooks
teach. Here is the machinery around it: runs recorded as files (`experiments`, `records`), the
frontier and ablation sweeps (`frontier`), the headless notebook runner (`notebook_runner`) and
the command line (`cli`, `commands`). A reader of the lesson can stop at this door.
"""
