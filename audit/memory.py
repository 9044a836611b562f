"""Memory measurements: the process's peak so far, and the peak *during* one section of work.

``ru_maxrss`` only ever grows, so it cannot tell two adapters or two precision modes apart;
:class:`PeakDuring` samples the resident set (psutil) on a background thread while its block
runs and reports the section's peak and its growth above the RSS at the start.
"""

from __future__ import annotations

import resource
import threading

import psutil


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mb() -> float | None:
    """Resident memory now, or None where the platform does not report it."""
    try:
        return psutil.Process().memory_info().rss / 2**20
    except (psutil.Error, OSError):
        return None


class PeakDuring:
    """``with PeakDuring() as m: ...`` then ``m.result()``: {peak_mb, growth_mb} of that block."""

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.start_mb = self.peak_mb = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            now = current_rss_mb()
            if now is not None:
                self.peak_mb = max(self.peak_mb or 0.0, now)

    def __enter__(self) -> "PeakDuring":
        self.start_mb = self.peak_mb = current_rss_mb()
        if self.start_mb is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        now = current_rss_mb()
        if now is not None:
            self.peak_mb = max(self.peak_mb or 0.0, now)

    def result(self) -> dict:
        if self.start_mb is None:
            return {"peak_mb": None, "growth_mb": None, "method": "unavailable (the platform reports no RSS)"}
        return {"peak_mb": round(self.peak_mb, 1), "growth_mb": round(self.peak_mb - self.start_mb, 1),
                "method": "RSS sampled every 5 ms during the section"}
