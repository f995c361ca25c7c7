from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# JIT compilation makes first calls slow: no deadline. Keep example counts modest for CI.
settings.register_profile(
    "suffstat",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("suffstat")


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)
