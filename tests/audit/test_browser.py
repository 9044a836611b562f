"""The report in a real browser: headless Chromium renders the index and one claim card of each
evidence kind at a desktop (1400 px) and a phone (420 px) width. The verdicts and the links to the
claim cards must be on screen (laid out, not display:none, inside the viewport's width), nothing
may scroll sideways, plots must load and show at their own size on a desktop, the Refuted section
and its plot must be painted, and claim text must stay text.

Needs the Debian ``chromium`` package (``make test`` installs it when it can); skipped without it.
"""

import json
import re
import shutil
import subprocess

import pytest

from audit import ledger
from tests.audit.synthetic import demo_report

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
                                 reason="headless Chromium is not installed (Debian: apt-get install chromium; "
                                        "`make test` installs it when apt is available)")]

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
WIDTHS = (1400, 420)
HEIGHT = 3000

# Appended to a copy of a page (same folder, so relative paths resolve the same way): after load it
# measures what is on screen and writes it into the DOM, which --dump-dom prints.
PROBE = r"""
<script>
window.addEventListener("load", () => {
  const vw = document.documentElement.clientWidth;
  const rect = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
  const laidOut = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility === "visible" && s.display !== "none"; };
  const onScreen = el => !!el && laidOut(el) && el.getBoundingClientRect().left >= -0.5
                         && el.getBoundingClientRect().right <= vw + 0.5;
  const text = el => el ? el.textContent.trim() : null;
  const rows = sel => [...document.querySelectorAll(sel)].map(tr => {
    const badge = tr.querySelector(".v"), link = tr.querySelector("a.card-link");
    const cell = tr.querySelector("td.statement");
    return {id: text(link), href: link && link.getAttribute("href"), verdict: text(badge),
            verdict_on_screen: onScreen(badge), link_on_screen: onScreen(link),
            statement_share: cell ? cell.getBoundingClientRect().width / tr.getBoundingClientRect().width : 0};
  });
  const scrolled = el => el.closest(".scroll, pre, details:not([open])");
  const sticking_out = [...document.body.querySelectorAll("*")]
    .filter(el => !scrolled(el) && el.getBoundingClientRect().right > vw + 0.5 && laidOut(el))
    .map(el => el.tagName + "." + el.className).slice(0, 5);
  const imgs = [...document.images].map(i => ({src: i.getAttribute("src"), loaded: i.complete && i.naturalWidth > 0,
    natural: i.naturalWidth, shown: i.getBoundingClientRect().width, on_screen: onScreen(i), rect: rect(i)}));
  const sec = document.getElementById("refuted");
  const gate = document.getElementById("gate");
  const result = {
    vw, overflow_x: document.documentElement.scrollWidth - document.documentElement.clientWidth, sticking_out,
    claims: rows("#claims table.claims tbody tr"), pending: rows("#pending table.claims tbody tr"),
    gate_on_screen: !!gate && onScreen(gate), gate_text: gate ? gate.innerText : "",
    h1_verdict: text(document.querySelector("h1 .v")), h1_verdict_on_screen: onScreen(document.querySelector("h1 .v")),
    back_link_on_screen: onScreen(document.querySelector('a[href$="index.html"]')),
    imgs, scripts: document.scripts.length,
    refuted: sec ? {on_screen: onScreen(sec), top: sec.getBoundingClientRect().top,
                    heading: text(sec.querySelector("h2")),
                    imgs: [...sec.querySelectorAll("img")].map(i => ({loaded: i.complete && i.naturalWidth > 0,
                                                                      on_screen: onScreen(i), rect: rect(i)}))} : null,
    text_has_script_literal: document.body.innerText.includes("<script>alert('x')<\/script>"),
  };
  parent.postMessage(JSON.stringify(result), "*");
});
</script>
"""

# Headless Chromium lays a window out at least 500 px wide, so the page is measured inside an
# iframe of exactly the width under test; the probe posts its findings to this host page.
HOST = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>window.addEventListener("message", e => {{ const pre = document.createElement("pre"); pre.id = "probe";
  pre.textContent = e.data; document.body.appendChild(pre); }});</script></body></html>
"""


def chromium(*args, profile, width):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--hide-scrollbars", "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--window-size={width},{HEIGHT}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def probe(page, width, profile) -> dict:
    """What Chromium lays out for ``page`` at ``width`` px (see PROBE)."""
    copy = page.with_name(f"_probe_{width}_{page.name}")
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    host = page.with_name(f"_host_{width}_{page.name}")
    host.write_text(HOST.format(src=copy.name, width=width, height=HEIGHT))
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", host.as_uri(), profile=profile,
                   width=max(width, 1400) + 40)
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert match, dom.stderr[-2000:]
    return json.loads(match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
                      .replace("&amp;", "&"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo report (every outcome, a story change, two pending claims), gated and rendered."""
    return demo_report(tmp_path_factory.mktemp("site"))


def one_card_per_kind(site) -> dict[str, str]:
    """kind -> claim id: one card of each evidence kind in the ledger (errored and pending records,
    which have none, count as kinds of their own)."""
    records, _ = ledger.load(site)
    out = {}
    for rec in sorted(ledger.latest_per_claim(records).values(), key=lambda r: r["claim_id"]):
        kind = (rec.get("evidence") or {}).get("kind") or rec["verdict"]
        out.setdefault(kind, rec["claim_id"])
    return out


def assert_fits(found: dict, width: int, where: str) -> None:
    assert width - 20 <= found["vw"] <= width, (where, found["vw"])
    assert found["overflow_x"] <= 0, f"{where}: the page scrolls sideways by {found['overflow_x']} px"
    assert not found["sticking_out"], f"{where}: wider than the viewport: {found['sticking_out']}"
    for img in found["imgs"]:
        assert img["loaded"] and img["on_screen"], (where, img)
        if width >= 1000:  # on a desktop a plot shows at its own size: its >= 10 pt text stays >= 10 pt
            assert img["shown"] >= 0.98 * img["natural"], (where, img)


@pytest.mark.parametrize("width", WIDTHS)
def test_index_verdicts_and_card_links_are_on_screen(site, tmp_path, width):
    found = probe(site / "index.html", width, tmp_path / "profile")
    assert_fits(found, width, f"index.html at {width}px")
    records, _ = ledger.load(site)
    latest = ledger.latest_per_claim(records)
    assert found["gate_on_screen"] and "2 pending" in found["gate_text"], found["gate_text"]
    assert "Pending claims (weights not available here) are allowed by the project's gate policy" in found["gate_text"]
    listed = {r["id"]: r for r in found["claims"] + found["pending"]}
    assert set(listed) == set(latest), "every claim has a row, once"
    for cid, row in listed.items():
        assert row["verdict_on_screen"] and row["link_on_screen"], (width, row)
        assert row["href"] == f"claims/{cid}.html" and (site / row["href"]).is_file(), row
        expect = "pending" if latest[cid]["verdict"] == "pending" else latest[cid]["verdict"]
        assert row["verdict"] == expect, row
    assert {r["id"] for r in found["pending"]} == {"qwen_small", "qwen_large"}, "pending claims in their own table"
    if width < 720:  # stacked: each claim a card, its statement the card's full width (no squeezed columns)
        assert all(r["statement_share"] > 0.85 for r in listed.values()), listed
    assert found["claims"][0]["verdict"] == "supported" and "pending" not in {r["verdict"] for r in found["claims"]}


@pytest.mark.parametrize("width", WIDTHS)
def test_one_card_of_each_evidence_kind_fits(site, tmp_path, width):
    kinds = one_card_per_kind(site)
    assert {"layer_sweep", "errored", "pending"} <= set(kinds), kinds
    records, _ = ledger.load(site)
    latest = ledger.latest_per_claim(records)
    for kind, cid in kinds.items():
        found = probe(site / "claims" / f"{cid}.html", width, tmp_path / f"profile-{kind}")
        assert_fits(found, width, f"{cid} ({kind}) at {width}px")
        assert found["h1_verdict_on_screen"] and found["back_link_on_screen"], (cid, found)
        assert found["h1_verdict"] == latest[cid]["verdict"], (cid, found["h1_verdict"])
        if kind == "layer_sweep":
            assert len(found["imgs"]) >= 2, "effect per layer and the family heatmap"


def test_refuted_section_and_plots_painted(site, tmp_path):
    import numpy as np
    from PIL import Image

    width = 1200
    found = probe(site / "index.html", width, tmp_path / "p1")
    ref = found["refuted"]
    assert ref["on_screen"] and ref["heading"] == "Refuted"
    assert 0 < ref["top"] < HEIGHT, "the Refuted section is within the first screens of the page"
    assert ref["imgs"], "refuted claims show their plot"
    for img in ref["imgs"]:
        assert img["loaded"] and img["on_screen"] and img["rect"][2] > 300, img
    assert len(found["imgs"]) >= 4
    assert found["scripts"] == 1, "only the probe's script: claim text never becomes a <script>"
    assert found["text_has_script_literal"], "a statement's <script> renders as text"

    shot = tmp_path / "index.png"
    result = chromium(f"--screenshot={shot}", (site / "index.html").as_uri(), profile=tmp_path / "p2", width=width)
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (width, HEIGHT)
    left, top, w, h = ref["imgs"][0]["rect"]
    assert top + h <= HEIGHT, "the refuted plot is inside the screenshot"
    crop = image.crop((int(left), int(top), int(left + w), int(top + h)))
    colors = crop.getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50, "the plot area is painted"
    pixels = np.asarray(crop, dtype=int).sum(axis=2)
    assert (pixels < 300).sum() > 500, "plot lines and labels are visible"  # dark ink on a white figure
    assert (pixels > 700).mean() > 0.5, "the figure's background, not an empty box"
