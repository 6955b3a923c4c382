import numpy as np
import pytest

import clattn


def _available(device):
    try:
        clattn.device_info(device)
        return True
    except clattn.Error as e:
        if e.status_name == "CLATTN_ERROR_DEVICE_NOT_FOUND":
            return False
        raise


@pytest.fixture(params=["host", "pocl"])
def device(request):
    """Every test taking `device` runs on the host path and on PoCL (skipped where PoCL is absent)."""
    if not _available(request.param):
        pytest.skip(f"no device matches {request.param!r}")
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
