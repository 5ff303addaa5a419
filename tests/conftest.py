"""Test-session settings shared by every test module."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    # the suite's matrices are small: on a 2-core machine (and under xdist)
    # several spinning BLAS threads per process only fight each other
    with threadpool_limits(limits=1, user_api="blas"):
        yield
