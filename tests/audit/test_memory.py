"""Section peak memory: a block that allocates shows its growth; one that does not, does not."""

import time

import torch

from audit.memory import PeakDuring, peak_rss_mb


def test_a_section_that_allocates_shows_its_growth_and_an_idle_one_does_not():
    with PeakDuring() as big:
        x = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        x += 1
        time.sleep(0.05)  # several sampling intervals while it is alive
        del x
    with PeakDuring() as idle:
        sum(range(1000))
    assert big.result()["growth_mb"] >= 48  # sampled: the allocation is seen even though it was freed
    assert idle.result()["growth_mb"] < 16
    assert peak_rss_mb() >= big.result()["peak_mb"] - 1
