"""The thread policy: the requested count wins; else the cores this process may use minus the
load of other work, at least one."""

import pytest

from audit import threads


@pytest.mark.parametrize("cores,load,expected", [(2, 0.1, 2), (2, 1.2, 1), (2, 5.0, 1), (8, 2.6, 5), (1, 0.0, 1)])
def test_threads_follow_the_free_cores(cores, load, expected, monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    n, why = threads.choose(cores=cores, load=load)
    assert n == expected and f"{cores} core(s)" in why


def test_a_request_wins_and_a_bad_environment_value_is_one_line(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.choose(3, cores=2, load=9.0)[0] == 3
    monkeypatch.setenv(threads.ENV, "4")
    assert threads.choose(cores=2, load=0.0)[0] == 4
    monkeypatch.setenv(threads.ENV, "lots")
    with pytest.raises(ValueError, match="MI_AUDIT_THREADS='lots'"):
        threads.choose(cores=2, load=0.0)


def test_available_cores_respects_the_affinity_mask():
    import os

    assert threads.available_cores() == len(os.sched_getaffinity(0))


def test_other_load_sums_the_busy_cores_of_this_process(monkeypatch):
    import os

    import psutil

    mine = sorted(os.sched_getaffinity(0))
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval, percpu: [100.0 if i == mine[0] else 3.0
                                                                        for i in range(max(mine) + 1)])
    assert abs(threads.other_load() - (1.0 + 0.03 * (len(mine) - 1))) < 1e-9


def test_a_busy_neighbour_is_seen_at_once_not_a_minute_later():
    import subprocess
    import sys

    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.3)  # the neighbour is running; the 1-minute load average has barely moved
        assert threads.other_load() >= 0.6
    finally:
        hog.kill()
        hog.wait()
