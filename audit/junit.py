"""JUnit XML of a gate result: one test case per claim, for CI systems that display test reports.

A failing claim is a ``<failure>`` (an errored verdict or a control that did not run is an
``<error>``); retired and superseded claims are ``<skipped>``; failures of the baseline as a whole
(or of files that could not be loaded) go into one extra case, ``baseline``. ElementTree does the
XML escaping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from audit.gate import EXIT_ERRORED, GateResult


def to_junit(result: GateResult, name: str = "mi-audit gate") -> str:
    suite = ET.Element("testsuite", name=name, timestamp=result.evaluated_at)
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="exit_code", value=str(result.exit_code))
    if result.baseline:
        ET.SubElement(props, "property", name="baseline_published_at", value=str(result.baseline.get("published_at")))
    n_fail = n_err = n_skip = 0
    by_claim: dict[str, list] = {}
    for f in result.failures:
        by_claim.setdefault(f.claim_id, []).append(f)
    known = {st.claim_id for st in result.claims}
    for st in result.claims:
        case = ET.SubElement(suite, "testcase", classname="mi-audit.claims", name=st.claim_id)
        fails = by_claim.get(st.claim_id, [])
        if fails:
            errored = any(f.code == EXIT_ERRORED for f in fails)
            tag = "error" if errored else "failure"
            n_err += errored
            n_fail += not errored
            el = ET.SubElement(case, tag, message=fails[0].line(), type=fails[0].reason)
            el.text = "\n".join(f.line() for f in fails)
        elif st.status in ("retired", "superseded"):
            n_skip += 1
            ET.SubElement(case, "skipped", message=f"{st.status}; stays visible in the report")
        out = ET.SubElement(case, "system-out")
        out.text = f"verdict={st.verdict} confidence={st.confidence} expect={st.expect} run={st.run_id}\n{st.statement}"
    rest = [f for cid, fs in by_claim.items() if cid not in known for f in fs]
    if rest or not result.claims:
        case = ET.SubElement(suite, "testcase", classname="mi-audit", name="baseline")
        if rest:
            n_fail += 1
            el = ET.SubElement(case, "failure", message=rest[0].line(), type=rest[0].reason)
            el.text = "\n".join(f.line() for f in rest)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(n_fail))
    suite.set("errors", str(n_err))
    suite.set("skipped", str(n_skip))
    root = ET.Element("testsuites", name=name)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
