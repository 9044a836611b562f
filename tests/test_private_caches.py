"""The test session never writes the user's caches (conftest points both at temp dirs)."""

import tempfile
from pathlib import Path

from platformdirs import user_cache_dir


def test_model_and_evidence_caches_are_private_temp_dirs():
    from audit.cache import EvidenceCache
    from audit.models import cache_root

    user = Path(user_cache_dir("mi-audit")).resolve()
    tmp = Path(tempfile.gettempdir()).resolve()
    for root in (cache_root(), EvidenceCache().root):
        assert not root.resolve().is_relative_to(user), root
        assert root.resolve().is_relative_to(tmp), root
