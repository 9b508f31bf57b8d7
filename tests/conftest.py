import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id, so each test sees its own reproducible data."""
    return np.random.default_rng(sum(map(ord, request.node.nodeid)))
