"""mi-audit: declarative audits of mechanistic-interpretability claims.

Data flow: claim file -> :mod:`audit.schema` (validated ``Claim``) -> :mod:`audit.session` (lock,
journal, executor) -> :mod:`audit.runner` -> :mod:`audit.evidence` (per kind, driving
:mod:`interventions` on the model, with :mod:`controls`) -> :mod:`audit.criteria` ->
:mod:`audit.verdict` + :mod:`audit.confidence` -> :mod:`audit.ledger` -> :mod:`audit.render` ->
:mod:`audit.gate` / :mod:`audit.publication`.
"""

__version__ = "0.1.0"

__all__ = ["run", "check", "Result", "Claim", "LoadedClaim", "load_claim"]


def __getattr__(name):  # lazy: `import audit` (and `audit check`) stays light, no torch
    if name in ("run", "check", "Result"):
        from audit import api

        return getattr(api, name)
    if name in ("Claim", "LoadedClaim", "load_claim"):
        from audit import schema

        return getattr(schema, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")

