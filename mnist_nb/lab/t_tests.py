"""Student's t and the paired t-test: how far a mean difference over a few seeds is from 0, against the spread
of the differences. Every verdict of the lab (the ablation, the replication, the recipe's changes) reads its
differences with these; notebook 09 shows them.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL


def student_t_p_value(t: float, freedom: int) -> float:
    """Two-sided tail of Student's t: the chance of a |T| at least |t| with `freedom` degrees of freedom."""
    # P(|T| < t) for integer degrees of freedom, in closed form (Abramowitz and Stegun 26.7.3-4).
    angle = math.atan(abs(t) / math.sqrt(freedom))
    sine, cosine = math.sin(angle), math.cos(angle)
    power, coefficient, total = freedom % 2, 1.0, 0.0
    while power <= freedom - 2:  # the series runs over cos^power, power = freedom - 2, freedom - 4, ... >= 0
        total += coefficient * cosine**power
        coefficient *= (power + 1) / (power + 2)
        power += 2
    inside = (2 / math.pi) * (angle + sine * total) if freedom % 2 else sine * total
    return min(1.0, max(0.0, 1.0 - inside))


def student_t_critical(freedom: int, level: float = SIGNIFICANCE_LEVEL) -> float:
    """The t that |T| exceeds with probability `level` (2.776 for 4 degrees of freedom at 0.05)."""
    low, high = 0.0, 1000.0
    for _ in range(100):  # bisection: the tail falls as t grows
        middle = (low + high) / 2
        if student_t_p_value(middle, freedom) > level:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def paired_t_p_value(differences: list[float]) -> float:
    """Two-sided paired t-test: the chance, if neither model were better, of a mean difference this far
    from 0 measured against the spread of the differences.

    `differences` are one model's accuracy minus another's, one per seed, each pair trained on the
    same seed. With n pairs, t = mean / (sd / sqrt(n)) follows Student's t with n - 1 degrees of freedom
    when neither model is better; the p-value is the chance of a |t| at least this large. (Five seeds
    are too few for a two-sided sign test, whose smallest p-value is 2 / 2**5 = 0.0625.)
    """
    count = len(differences)
    if count < 2:
        raise ValueError("a paired t-test needs at least two pairs")
    mean, spread = statistics.fmean(differences), statistics.stdev(differences)  # sample sd, n - 1
    if spread == 0:
        return 1.0 if mean == 0 else 0.0
    return student_t_p_value(mean / (spread / math.sqrt(count)), count - 1)


def interval(differences: list[float], level: float = SIGNIFICANCE_LEVEL) -> tuple[float, float]:
    """The confidence interval of the differences' mean, 95% at the default `level`: mean +- t(n-1) * sd / sqrt(n).
    At a test's level, the interval misses 0 exactly when the paired t-test's p is below that level."""
    mean, count = statistics.fmean(differences), len(differences)
    half = student_t_critical(count - 1, level) * statistics.stdev(differences) / math.sqrt(count)
    return mean - half, mean + half
