"""``kind: layer_scaling`` — the worked example of a kind in one folder (see DEVELOPING.md)."""
