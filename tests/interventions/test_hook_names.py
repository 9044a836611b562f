"""TransformerLens hook names are caught at `audit check` with what to write instead, never an
AttributeError at run time."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from interventions.components import transformer_lens_equivalent

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name,expected", [
    ("blocks.8.hook_resid_post", "target: residual, layers: [8]"),
    ("blocks.8.hook_resid_pre", "target: residual, layers: [7]"),
    ("blocks.0.hook_resid_pre", "no equivalent"),
    ("blocks.3.hook_mlp_out", "target: mlp, layers: [3]"),
    ("blocks.3.attn.hook_z", "target: head, layers: [3]"),
    ("blocks.3.attn.hook_result", "target: attn, layers: [3]"),
    ("blocks.3.hook_nonsense", "looks like a TransformerLens hook name"),
])
def test_transformer_lens_names_get_the_equivalent(name, expected):
    assert expected in transformer_lens_equivalent(name)


def test_hugging_face_module_paths_are_not_flagged():
    assert transformer_lens_equivalent("model.layers.3.mlp.down_proj") == ""


def test_audit_check_rejects_a_transformer_lens_module_with_the_line_and_the_equivalent(tmp_path):
    text = (REPO / "claims" / "smollm2_head_atlas.yaml").read_text()
    block = re.search(r"^intervention:\n(?:  .*\n)+", text, re.M).group(0)
    claim = tmp_path / "tl.yaml"
    claim.write_text(text.replace(block, "intervention:\n  kind: ablation\n  target: module\n  method: zero\n"
                                         "  module: blocks.8.hook_resid_post\n").replace("name: main", "name: main"))
    result = CliRunner().invoke(app, ["check", str(claim)])
    assert result.exit_code == 4, result.output
    assert "tl.yaml:" in result.output and "target: residual, layers: [8]" in result.output
