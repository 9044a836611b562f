"""The report in a real browser: headless Chromium renders index.html; the Refuted section and the
plots must be visible (in the screenshot, images loaded) and claim text must stay text.

Needs the Debian ``chromium`` package (``make test`` installs it when it can); skipped without it.
"""

import json
import re
import shutil
import subprocess

import pytest

from tests.audit.synthetic import demo_site

pytestmark = pytest.mark.browser

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
WIDTH, HEIGHT = 1200, 3000

# Appended to a copy of index.html (same folder, so relative plot paths resolve the same way):
# after load it measures what is on screen and writes it into the DOM, which --dump-dom prints.
PROBE = r"""
<script>
window.addEventListener("load", () => {
  const sec = document.getElementById("refuted");
  const box = sec.getBoundingClientRect();
  const visible = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility === "visible" && s.display !== "none"; };
  const loaded = img => img.complete && img.naturalWidth > 0;
  const rect = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
  const imgs = [...document.images];
  const result = {
    refuted_visible: visible(sec), refuted_top: box.top, refuted_heading: sec.querySelector("h2").textContent,
    refuted_imgs: [...sec.querySelectorAll("img")].map(i => ({src: i.getAttribute("src"), loaded: loaded(i),
                                                              visible: visible(i), rect: rect(i)})),
    n_imgs: imgs.length, n_loaded: imgs.filter(loaded).length,
    scripts: document.scripts.length,
    overflow_x: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    text_has_script_literal: document.body.innerText.includes("<script>alert('x')<\/script>"),
  };
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>
"""


def chromium(*args, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; "
                                             "`make test` installs it when apt is available)")
def test_refuted_section_and_plots_visible_in_chromium(tmp_path):
    import numpy as np
    from PIL import Image

    site = demo_site(tmp_path)
    index = site / "index.html"
    probe = site / "_probe.html"
    probe.write_text(index.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), profile=tmp_path / "p1")
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert match, dom.stderr[-2000:]
    found = json.loads(match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                       .replace("&quot;", '"'))
    assert found["refuted_visible"] and found["refuted_heading"] == "Refuted"
    assert 0 < found["refuted_top"] < HEIGHT, "the Refuted section must be on the first screen(s) of the page"
    assert found["refuted_imgs"], "refuted claims show their plot"
    for img in found["refuted_imgs"]:
        assert img["loaded"] and img["visible"] and img["rect"][2] > 300, img
    assert found["n_imgs"] >= 4 and found["n_loaded"] == found["n_imgs"], found
    assert found["scripts"] == 1, "only the probe's script: claim text never becomes a <script>"
    assert found["text_has_script_literal"], "a statement's <script> renders as text"
    assert found["overflow_x"] <= 0, "no horizontal scrolling"

    shot = tmp_path / "index.png"
    result = chromium(f"--screenshot={shot}", index.as_uri(), profile=tmp_path / "p2")
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    # the first refuted plot, where the probe found it, is painted (not blank) in the screenshot
    left, top, w, h = found["refuted_imgs"][0]["rect"]
    assert top + h <= HEIGHT, "the refuted plot is inside the screenshot"
    crop = image.crop((int(left), int(top), int(left + w), int(top + h)))
    colors = crop.getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50, "the plot area is painted"
    pixels = np.asarray(crop, dtype=int).sum(axis=2)
    assert (pixels < 300).sum() > 500, "plot lines and labels are visible"  # dark ink on a white figure
    assert (pixels > 700).mean() > 0.5, "the figure's background, not an empty box"
    crop.save(tmp_path / "refuted-plot.png")
