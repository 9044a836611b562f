"""mi-audit: declarative audits of mechanistic-interpretability claims.

Data flow: claim file -> :mod:`audit.schema` (validated ``Claim``) -> :mod:`audit.plan`
-> :mod:`interventions` on the model -> :mod:`audit.metrics` -> :mod:`controls`
-> :mod:`audit.verdict` + :mod:`audit.confidence` -> :mod:`audit.ledger` -> :mod:`audit.render`.
"""

__version__ = "0.1.0"
