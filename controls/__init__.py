"""Controls, one module per YAML key under ``controls:``."""
