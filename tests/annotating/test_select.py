"""The uncertainty measure on hand-made tag probabilities: a few doubtful tokens rank a note first
however many sure ones surround them, and a note's length alone does not."""

import numpy as np
import pytest

from chartlnn.annotating.select import uncertainty
from chartlnn.inference.decode import Tagged


def _tagged(section_prob: list[float], entity_prob: list[float]) -> Tagged:
    n = len(section_prob)
    return Tagged(np.zeros(n, np.int64), np.array(section_prob, np.float32),
                  np.zeros(n, np.int64), np.array(entity_prob, np.float32), 0, 1.0)


def test_a_doubtful_mention_outranks_a_note_that_is_a_little_unsure_everywhere():
    doubtful = _tagged([0.99] * 505, [0.99] * 500 + [0.4] * 5)
    lukewarm = _tagged([0.95] * 505, [0.95] * 505)
    assert uncertainty(doubtful) == pytest.approx(((1 - 0.99) + (1 - 0.4)) / 2, abs=1e-6)
    assert uncertainty(lukewarm) == pytest.approx(0.05, abs=1e-6)
    assert uncertainty(doubtful) > uncertainty(lukewarm)


def test_length_alone_does_not_raise_it():
    short = _tagged([0.9, 0.99, 0.8, 0.99, 0.7, 0.99, 0.99], [0.6] + [0.99] * 6)
    long = _tagged(short.section_prob.tolist() + [0.99] * 2000,
                   short.entity_prob.tolist() + [0.99] * 2000)
    assert uncertainty(long) == pytest.approx(uncertainty(short), abs=1e-6)


def test_short_and_empty_notes():
    assert uncertainty(_tagged([0.5, 1.0], [1.0, 1.0])) == pytest.approx(0.125, abs=1e-6)
    assert uncertainty(_tagged([], [])) == 0.0
