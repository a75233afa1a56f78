"""Comparing what was said with what was heard: the live tests' word error rate."""

import re

import numpy as np


def words(text):
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("20th", "twentieth")).split()


def wer(ref, hyp):
    """(word edits from ``ref`` to ``hyp``, words in ``ref``)."""
    r, h = words(ref), words(hyp)
    d = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        prev, d[0] = d.copy(), i
        for j in range(1, len(h) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return d[len(h)], len(r)
