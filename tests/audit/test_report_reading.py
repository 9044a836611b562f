"""The report as people read it: the gate box (counts, grouped failures, the pending policy), pending
claims, no Python reprs / stray backticks / empty fields / repeated messages, stale gate lines,
the layer-sweep per-layer table and confidence sentence, training cards that lead with the
verdict's metric, and legible plots (>= 10 pt, not wider than a page, log axes for tiny values)."""

import re

import matplotlib
import pytest

from audit import ledger, plots
from audit.cards import confidence_sentence, fmt_mb
from audit.render import _derepr, _failure_groups, render_report
from tests.audit.synthetic import append, demo_report, fake_weights, gate_and_render, pending_record, record_for
from tests.conftest import write_claim


@pytest.fixture(scope="module")
def allow(tmp_path_factory):
    return demo_report(tmp_path_factory.mktemp("allow"), "allow")


@pytest.fixture(scope="module")
def fail(tmp_path_factory):
    """Two pending claims naming different models and two claims failing with the same message,
    gated with pending = fail (no plots: quick)."""
    root = tmp_path_factory.mktemp("fail")
    model = fake_weights(root / "model")
    (root / "claims").mkdir()
    out = root / "reports"
    for name in ("broken_a", "broken_b"):
        append(out, write_claim(root / "claims" / f"{name}.yaml", model=str(model)), "errored",
               errored_message="tokenizer file is corrupt")
    for name, weights in (("qwen_small", "Qwen/Qwen2.5-0.5B"), ("qwen_large", "Qwen/Qwen2.5-3B")):
        ledger.append(out, pending_record(write_claim(root / "claims" / f"{name}.yaml", model=str(model)),
                                          f"weights for model '{weights}' are not available on this machine"))
    gate_and_render(root, out, "--pending", "fail")
    return out


def section(html: str, sid: str) -> str:
    return html.split(f'id="{sid}"', 1)[1].split("</section>", 1)[0]


def visible_text(html: str) -> str:
    """The page without its style, scripts, preformatted files and code elements."""
    for tag in ("style", "script", "pre", "code"):
        html = re.sub(rf"<{tag}[^>]*>.*?</{tag}>", "", html, flags=re.S)
    return html


# --- the gate box -------------------------------------------------------------------------------


def test_gate_box_counts_statuses_and_states_the_pending_policy(allow, fail):
    box = section((allow / "index.html").read_text(), "gate")
    assert re.search(r"3 pass</span>.*4 fail</span>.*2 pending</span>", box, re.S), box
    assert "Pending claims (weights not available here) are allowed by the project&#39;s gate policy" in box
    box = section((fail / "index.html").read_text(), "gate")
    assert "count st-pending" not in box and "4 fail</span>" in box
    assert "Pending claims (weights not available here) fail the gate" in box
    md = (fail / "index.md").read_text()
    assert "Pending claims (weights not available here) fail the gate" in md and "4 fail; latest verdicts" in md


def test_identical_failures_become_one_line_naming_every_claim(fail):
    box = section((fail / "index.html").read_text(), "gate")
    lines = re.findall(r"<li>.*?</li>", box, re.S)
    broken = [li for li in lines if "tokenizer file is corrupt" in li]
    assert len(broken) == 1 and "broken_a</code>" in broken[0] and "broken_b</code>" in broken[0], lines
    pending = [li for li in lines if "not available on this machine" in li]
    assert len(pending) == 1, lines  # they differ only in the model each names: both names kept
    assert "qwen_small" in pending[0] and "qwen_large" in pending[0]
    assert "Qwen/Qwen2.5-3B" in pending[0] and "Qwen/Qwen2.5-0.5B" in pending[0]
    assert "4 failures</strong> in 2 lines" in box


def test_grouping_keeps_different_messages_apart():
    fs = [{"claim_id": "a", "reason": "stale", "code": 6, "message": "claim file changed since run 1"},
          {"claim_id": "b", "reason": "stale", "code": 6, "message": "claim file changed since run 2"},
          {"claim_id": "c", "reason": "errored", "code": 3, "message": "weights for model 'x/y' are not avail…"},
          {"claim_id": "d", "reason": "errored", "code": 3, "message": "weights for model 'x/zz' are not available here"},
          {"claim_id": "e", "reason": "inconclusive", "code": 2, "message": "weights for model 'x/y' are not available"}]
    groups = _failure_groups(fs)
    assert [g["claims"] for g in groups] == [["c", "d"], ["a"], ["b"], ["e"]]
    assert groups[0]["message"] == "weights for model 'x/y' / 'x/zz' are not available here"


# --- pending claims -----------------------------------------------------------------------------


def test_pending_claims_have_their_own_section_and_are_never_supported(allow):
    html = (allow / "index.html").read_text()
    claims, pending = section(html, "claims"), section(html, "pending")
    assert "qwen_small" not in claims and "qwen_small" in pending and "qwen_large" in pending
    assert html.index('id="pending"') > html.index('id="holding"')  # after the others
    assert pending.count('class="v pending"') == 2 and 'class="v supported"' not in pending
    page = (allow / "claims" / "qwen_small.html").read_text()
    assert '<h1><code>qwen_small</code> <span class="v pending">pending</span>' in page
    assert "No confidence: not run here" in page
    md = (allow / "index.md").read_text()
    assert "## Pending: not run here" in md and "qwen\\_small" not in md.split("## The claims")[1].split("## ")[0]


def test_gate_only_pending_claims_without_records_are_listed(tmp_path):
    out = tmp_path / "reports"
    append(out, write_claim(tmp_path / "a.yaml", model=str(fake_weights(tmp_path / "m"))), "supported")
    gate = {"passed": True, "exit_code": 0, "evaluated_at": "2026-11-20T09:00:00+00:00", "ledger_records": 1,
            "policy": {"pending": "allow", "source": "pyproject.toml [tool.mi-audit]"}, "failures": [],
            "claims": [{"claim_id": "a", "status": "pass"},
                       {"claim_id": "ghost", "status": "pending", "statement": "A claim never run here."}]}
    html = render_report(out, gate).read_text()
    assert "ghost" in section(html, "pending") and (out / "claims" / "ghost.html").exists()
    assert "(set by pyproject.toml [tool.mi-audit])" in section(html, "gate")


def test_report_without_policy_or_pending_fields_still_renders(tmp_path):
    out = tmp_path / "reports"
    append(out, write_claim(tmp_path / "a.yaml", model=str(fake_weights(tmp_path / "m"))), "refuted", hub=1)
    gate = {"passed": False, "exit_code": 1, "evaluated_at": "2026-11-20T09:00:00+00:00", "ledger_records": 1,
            "failures": [{"claim_id": "a", "reason": "contradicts", "code": 1, "message": "m"}],
            "claims": [{"claim_id": "a", "status": "fail", "failures": ["[1] a: contradicts: m"]}]}
    html = render_report(out, gate).read_text()
    assert "Pending claims" not in html and 'id="pending"' not in html and "1 fail</span>" in html


# --- what must not show -------------------------------------------------------------------------


@pytest.fixture
def planted_text(tmp_path):
    """A claim whose reasons hold a Python dict and list, a code span, a truncated code span and a
    repeated reason; gated, then rendered."""
    model = fake_weights(tmp_path / "model")
    (tmp_path / "claims").mkdir()
    c = write_claim(tmp_path / "claims" / "odd.yaml", model=str(model))
    reasons = ["tops {'smollm2_hub': 8, 'gemma3_hub': 5} (spread 0.0183)", "families ['copying', 'arithmetic'] agree",
               "run `audit gate` now", "tops {'smollm2_hub': 8, 'gemma3_hub': 5} (spread 0.0183)",
               "Supply a checkpoint with `audit run CLAIM --model /pa…"]
    out = tmp_path / "reports"
    append(out, c, "inconclusive", reasons=reasons)
    gate_and_render(tmp_path, out)
    return out


def test_no_python_reprs_backticks_or_repeats(planted_text):
    html = (planted_text / "claims" / "odd.html").read_text()
    index = (planted_text / "index.html").read_text()
    md = (planted_text / "claims" / "odd.md").read_text() + (planted_text / "index.md").read_text()
    for text in (html, index, md):
        assert "smollm2_hub: 8, gemma3_hub: 5" in text and "copying, arithmetic agree" in text
        assert not re.search(r"[{\[](&#39;|')", text), "no Python repr"
    for page in (html, index):
        assert "`" not in visible_text(page), "markdown backticks become <code>"
        assert "<code>audit gate</code>" in page and "<code>audit run CLAIM --model /pa…</code>" in page
    reasons = html.split('<ul class="reasons">', 1)[1].split("</ul>", 1)[0]
    assert reasons.count("smollm2_hub: 8") == 1, "a repeated reason shows once"
    gate_line = html.split("Gate (", 1)[1].split("</ul>", 1)[0]
    assert "for the reason above" in gate_line and "smollm2_hub" not in gate_line, "the gate line does not repeat it"
    assert not re.search(r"\bwaive: *(<br>|·|\||,|$)", html + md, re.M), "no empty waive:"
    assert "waive" not in html.split("<th>controls</th>", 1)[1].split("</tr>", 1)[0]


def test_derepr_leaves_text_that_is_no_python_literal_alone():
    assert _derepr("alert('x') and {\"a\": 1} and [see 'x' here") == "alert('x') and {\"a\": 1} and [see 'x' here"
    assert _derepr("suite.split None → all") == "suite.split unset → all"
    assert _derepr("points [{'label': 'r2', 'placement': {'p': 'a'}}, …") == "points label: r2, placement: p: a, …"
    assert _derepr("x [{'a': 1, 'b': None}, {'a': 2}]") == "x (a: 1, b: unset); a: 2"


def test_a_claim_page_says_when_its_gate_line_is_stale(tmp_path):
    model = fake_weights(tmp_path / "model")
    (tmp_path / "claims").mkdir()
    a = write_claim(tmp_path / "claims" / "a.yaml", model=str(model))
    b = write_claim(tmp_path / "claims" / "b.yaml", model=str(model))
    out = tmp_path / "reports"
    append(out, a, "errored")  # errored records: no plots to draw, a gate line to judge
    append(out, b, "errored")
    gate_and_render(tmp_path, out)
    assert "stale" not in (out / "claims" / "a.html").read_text()
    append(out, a, "errored", errored_message="still broken")  # a newer run than the one the gate judged
    render_report(out)
    page_a, page_b = (out / "claims" / "a.html").read_text(), (out / "claims" / "b.html").read_text()
    assert "<strong class=\"warn\">stale</strong>: it judged run" in page_a and "this page shows run" in page_a
    assert "it saw 2 ledger records, the ledger has 3 now" in page_b and "stale" in page_b
    assert "**stale**" in (out / "claims" / "a.md").read_text()


# --- layer-sweep cards --------------------------------------------------------------------------


def test_layer_sweep_card_has_a_per_layer_table_and_says_why_its_confidence(tmp_path):
    model = fake_weights(tmp_path / "model")
    c = write_claim(tmp_path / "c.yaml", model=str(model))
    intervals = [{"contrast": f"2 - {k}", "estimate": 2.6 - 0.1 * k, "low": 2.0 - 0.1 * k, "high": 3.0} for k in (0, 1, 3)]
    rec = record_for(c, "supported", confidence="low",
                     summary={"top_layer": 2, "intervals": intervals, "inference": {"method": "max-T", "family_size": 3}})
    rec.update(confidence_cap="medium", confidence_notes=["evidence cap medium: 1 evidence kind(s) (ablation), controls "
                                                          "seeds, 3 seed(s)"])
    out = tmp_path / "reports"
    ledger.append(out, rec)
    page = (render_report(out).parent / "claims" / "c.html").read_text()
    table = page.split("Per layer: pooled effect, rank", 1)[1].split("</table>", 1)[0]
    for col in ("<th>layer</th>", "<th>effect</th>", "<th>rank</th>", "<th>CI low</th>", "<th>CI high</th>"):
        assert col in table, col
    assert re.search(r"<td>2 \(claimed\)</td><td>3\.\d*</td><td>1</td><td>—</td>", table), table
    assert re.search(r"<tr><td>0</td><td>[\d.]+</td><td>\d+</td><td>2\.6</td><td>2</td><td>3</td></tr>", table), table
    why = page.split('<td class="confidence-why">', 1)[1].split("</td>", 1)[0]
    assert why.startswith("Low confidence: the cap is medium (evidence cap medium: 1 evidence kind (ablation)")
    assert "not strong" in why and "one step below the cap" in why


def test_confidence_sentence_for_each_outcome():
    base = {"confidence_notes": ["evidence cap low: 1 evidence kind(s) (x), controls none, 3 seed(s)"],
            "confidence_cap": "low"}
    assert confidence_sentence({**base, "verdict": "pending"}).startswith("No confidence: not run here")
    assert confidence_sentence({**base, "verdict": "errored"}).startswith("No confidence: the evidence could not")
    assert "could reach at most low" in confidence_sentence({**base, "verdict": "inconclusive", "confidence": "none"})
    old = confidence_sentence({"verdict": "supported", "confidence": "high", "evidence_kinds": ["ablation"],
                               "controls_run": [], "claim": {"controls": {"seeds": [1, 2, 3]}}})
    assert "older version" in old and "caps this evidence at low" in old


# --- training cards and memory ------------------------------------------------------------------


def _row(seed, name, params, em, loss):
    return {"seed": seed, "trainable_params": params, "exact_match": em, "json_parse_rate": None,
            "schema_valid_rate": None, "final_loss": loss, "loss_noise": 1e-5, "kl_drift": 0.01 * params / 1e5,
            "train_seconds": 30.0, "train_memory": {"peak_mb": 1843.2}, "from_cache": False, "examples": [],
            "losses": [0.3 / (i + 1) ** 3 + loss for i in range(20)]}


def lora_record(kind="lora", acceptance=None) -> dict:
    runs = {"atlas": (52224, 1.0, 5e-5), "all_linear": (2442240, 1.0, 4e-5), "random": (52224, 0.5, 2e-3)}
    ev = {"kind": kind, "results": {n: [_row(s, n, *v) for s in (1, 2, 3)] for n, v in runs.items()},
          "baseline": [{"seed": s, "exact_match": 0.3} for s in (1, 2, 3)],
          "task": {"family": "json_schema", "train_prompts": 8, "eval_prompts": 16, "drift_families": ["copying"]},
          "training": {"steps": 40, "batch_size": 4, "max_length": 80, "rank": 8, "alpha": 16, "learning_rate": 1e-4,
                       "optimizer": "adamw", "format": "chat"}}
    if kind == "lora_sweep":
        ev["points"] = [{"label": n, "placement": {"placement": "all_linear"}} for n in runs]
    return {"claim_id": f"t_{kind}", "verdict": "supported", "evidence": ev, "provenance": {"wall_time_s": 9},
            "summary": {}, "claim": {"acceptance": acceptance or {}}}


class Figures:
    """Every figure saved through ``plots.save`` while active, drawn (so tick labels exist)."""

    def __init__(self, monkeypatch):
        self.figs, original = [], plots.save

        def keep(fig, path):
            fig.canvas.draw()
            self.figs.append((path.name, fig, fig.get_size_inches()[0], [
                (t.get_text(), t.get_fontsize()) for t in fig.findobj(matplotlib.text.Text)
                if t.get_visible() and t.get_text().strip()]))
            for ax in fig.axes:
                self.figs[-1] += ((ax.get_xscale(), ax.get_yscale()),)
            return original(fig, path)
        monkeypatch.setattr(plots, "save", keep)

    def named(self, part):
        """The latest figure whose file name has ``part``."""
        return [f for f in self.figs if part in f[0]][-1]


def test_training_card_leads_with_the_verdicts_metric_and_draws_the_base_model(tmp_path, monkeypatch):
    from audit.cards.training import lora_card, sweep_card

    figs = Figures(monkeypatch)
    card = lora_card(lora_record(), tmp_path)
    assert card["plots"][0][0].endswith("-params.png") and "base" in card["plots"][0][1]
    assert card["notes"][0].startswith("**The verdict used held-out exact match**")
    table = card["tables"][-1]
    assert table["columns"][1] == "held-out exact match per seed"
    memory = table["columns"].index("train peak RSS (mean, range)")
    assert table["rows"][0][memory] == "1.8 GB (1.8 GB–1.8 GB)" and "e+0" not in str(table["rows"])
    texts = [t for t, _ in figs.named("params")[3]]
    assert any(t.startswith("base model (no adapter): 0.3") for t in texts), texts
    assert figs.named("loss")[4][1] == "log", "losses spanning decades: log axis"

    card = sweep_card(lora_record("lora_sweep", {"metric": "kl_drift"}), tmp_path)
    assert card["plots"][0][0].endswith("-drift.png") and card["notes"][0].startswith("**The verdict used KL drift")
    assert card["tables"][-1]["columns"][1] == "KL drift (mean, seed range)"
    assert figs.named("params")[4][1] == "log", "final losses 4e-5 .. 2e-3: log axis"


def test_memory_reads_in_mb_or_gb():
    assert fmt_mb(1843.2) == "1.8 GB" and fmt_mb(377.9) == "378 MB" and fmt_mb(12.5) == "12.5 MB"
    assert fmt_mb(None) == "—"


# --- legible plots ------------------------------------------------------------------------------


PLOTS = {
    "sweep": lambda p: plots.sweep(list(range(30)), [[[0.1 * i for i in range(30)]] * 2] * 3, [1, 2, 3], 8, "kl",
                                   "layer", "a_long_claim_id_for_a_title", p),
    "heatmap": lambda p: plots.heatmap(list(range(30)), [f"family_{i}" for i in range(12)],
                                       [[[0.1 * i for i in range(30)]] * 12] * 3, "kl", "layer", "t", p),
    "null": lambda p: plots.null_histogram([0.1 * i for i in range(40)], 2.0, 3.0, 0.95, 0.4, "t\nsecond line", "x", p,
                                           [1.9, 2.1]),
    "steer": lambda p: plots.steering_sweep([4, 8], [0.5, 1.0], {f"L{l}@{a:g}": [0.1, 0.2] for l in (4, 8) for a in (0.5, 1.0)},
                                            {f"L{l}@{a:g}": [0.01] for l in (4, 8) for a in (0.5, 1.0)}, "L8@1", "y",
                                            "t", p),
    "skip": lambda p: plots.skip_tradeoff([{"name": "skip L3", "n_skipped": 1, "speedups": [1.1, 1.2, 1.3],
                                            "seeds": [{"top5_overlap": 0.8}, {"top5_overlap": 0.9}]}], 0.9, 1.05, "t", p),
    "modes": lambda p: plots.mode_bars(["float32", "bfloat16", "int8", "nf4"],
                                       [("tokens/s ratio", [1, 2, 3, 4]), ("weights footprint (MB)", [500, 250, 200, 150]),
                                        ("KL", [0, 0.01, 0.03, 0.3]), ("exact match", [0.1, 0.1, 0.1, 0.1])], "t", p),
    "mode_layers": lambda p: plots.mode_layer_effects([0, 1, 2], {"float32": [1, 2, 3], "nf4": [1, 2, 2]}, "kl", "t", p),
    "loss": lambda p: plots.loss_curves({"a": [0.3, 0.1, 1e-3, 1e-4], "b": [0.3, 0.2, 0.1, 0.05]}, "t", p),
    "params": lambda p: plots.params_scatter({"a": (5e4, 1.0), "b": (5e4, 1.0), "c": (2e6, 0.5)}, "em", "t", p, 0.3),
    "norm": lambda p: plots.effect_and_norm([0, 1, 2], [1e-4, 2e-4, 1e-4], [1.0, 2.0, 3.0], "t", p),
    "intervals": lambda p: plots.intervals([{"contrast": f"8 - {k}", "estimate": 1.0, "low": 0.5, "high": 1.5}
                                            for k in range(30)], 0.3, "t", p),
}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_plots_are_legible_at_their_displayed_size(name, tmp_path, monkeypatch):
    from PIL import Image

    figs = Figures(monkeypatch)
    path = PLOTS[name](tmp_path / f"{name}.png")
    _, fig, width_in, texts = figs.figs[0][:4]
    small = [(t, s) for t, s in texts if s < plots.MIN_FONT_PT]
    assert not small, f"text below {plots.MIN_FONT_PT} pt: {small}"
    assert not any(t.startswith("$") or "mathdefault" in t for t, _ in texts), texts  # log ticks are plain text
    width, _ = Image.open(path).size
    assert width <= 900, "wider than a report page: the browser would shrink it (and its text)"
    for ax in fig.axes:  # nothing of the axes' own text falls outside the saved figure
        legend = ax.get_legend()
        if legend is not None and ax.get_title():
            box, title = legend.get_window_extent(), ax.title.get_window_extent()
            assert not box.overlaps(title), "a legend covers the title"


def test_log_axis_only_where_differences_are_tiny():
    assert plots.wants_log([5e-5, 4e-5, 2e-3]) and plots.wants_log([0.3, 1e-4])
    assert plots.wants_log([0.001, 0.004])  # under 1e-2 absolute, 4x apart
    assert not plots.wants_log([2.31, 2.32]) and not plots.wants_log([-1, 1]) and not plots.wants_log([0.5, 0.9])
    assert plots.tick_text(1e-5) == "10⁻⁵" and plots.tick_text(0.01) == "0.01" and plots.tick_text(1e6) == "10⁶"


def test_a_file_direction_is_described_in_one_phrase_not_a_mapping():
    from audit.cards.steering import direction_text

    text = direction_text({"source": "file", "file": "u.npy", "format": "numpy", "sha256": "8883abcdef0123456789",
                           "producer": "repeng", "norm_per_layer": {"1": 2.5, "3": 1.0}})
    assert text == "file u.npy (numpy; sha256 8883abcdef01…; made by repeng; norm before normalising L1 2.5, L3 1)"
    assert "{" not in text and direction_text("contrastive") == "contrastive"
