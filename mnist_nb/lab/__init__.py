"""The lab: what reproduces the README's figures, apart from the lesson.

The lesson core (`mnist_nb.config`, `data`, `models`, `training`, ...) is what the notebooks
teach. Here is the machinery around it: runs recorded as files (`experiments`, `records`), the
frontier and ablation sweeps (`frontier`) and their readings (`ablation`, `verdicts`, and on fresh
seeds `replication`, `recipe_changes`), notebook 09's figures (`figures`), the GPU step as a CUDA
graph (`graphed`), the headless notebook runner (`notebook_runner`) and the command line (`cli`,
`commands`). A reader of the lesson can stop at this door.
"""
