"""summarize(accumulate=True) is thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from cases import CASES, IDS, flat_params


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_concurrent_accumulation_equals_serial(case):
    X = case.draw(np.random.default_rng(4), 4000)
    batches = np.array_split(X, 64)
    serial = case.make()
    for b in batches:
        serial.summarize(b)
    concurrent = case.make()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(concurrent.summarize, batches))
    assert concurrent.pending.allclose(serial.pending, rtol=1e-12, atol=1e-12 * len(X))
    serial.from_summaries()
    concurrent.from_summaries()
    np.testing.assert_allclose(flat_params(concurrent), flat_params(serial), rtol=1e-12, atol=1e-14)
