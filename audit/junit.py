"""JUnit XML of a gate result (junitparser): one test case per claim, for CI systems that display
test reports.

A failing claim is a ``<failure>`` (an errored verdict or a control that did not run is an
``<error>``); retired and superseded claims are ``<skipped>``; failures of the baseline as a whole
(or of files that could not be loaded) go into one extra case, ``baseline``.
"""

from __future__ import annotations

import xml.dom.minidom

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from audit.gate import EXIT_ERRORED, GateResult


def _failed(fails: list, errored: bool):
    result = (Error if errored else Failure)(fails[0].line(), fails[0].reason)
    result.text = "\n".join(f.line() for f in fails)
    return result


def to_junit(result: GateResult, name: str = "mi-audit gate") -> str:
    suite = TestSuite(name)
    suite.timestamp = result.evaluated_at
    suite.add_property("exit_code", str(result.exit_code))
    if result.baseline:
        suite.add_property("baseline_published_at", str(result.baseline.get("published_at")))
    by_claim: dict[str, list] = {}
    for f in result.failures:
        by_claim.setdefault(f.claim_id, []).append(f)
    known = {st.claim_id for st in result.claims}
    for st in result.claims:
        case = TestCase(st.claim_id, classname="mi-audit.claims")
        if fails := by_claim.get(st.claim_id, []):
            case.result = [_failed(fails, any(f.code == EXIT_ERRORED for f in fails))]
        elif st.status in ("retired", "superseded"):
            case.result = [Skipped(f"{st.status}; stays visible in the report")]
        case.system_out = (f"verdict={st.verdict} confidence={st.confidence} expect={st.expect} run={st.run_id}\n"
                           f"{st.statement}")
        suite.add_testcase(case)
    rest = [f for cid, fs in by_claim.items() if cid not in known for f in fs]
    if rest or not result.claims:
        case = TestCase("baseline", classname="mi-audit")
        if rest:
            case.result = [_failed(rest, False)]
        suite.add_testcase(case)
    suite.update_statistics()
    report = JUnitXml(name)
    report.add_testsuite(suite)
    return xml.dom.minidom.parseString(report.tostring()).toprettyxml(indent="  ", encoding="utf-8").decode()
