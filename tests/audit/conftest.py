"""Fixtures of the audit tests: a local Ray instance (two CPUs) for the executor tests."""

import pytest


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
