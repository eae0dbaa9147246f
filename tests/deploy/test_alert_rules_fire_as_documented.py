"""The shipped alert rules are valid Prometheus rules, each proven by a promtool unit test that makes it fire,
and each tells the operator what happened and where its runbook is (a section of docs/operations.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "fedstate-alerts.yml"
UNIT_TESTS = ROOT / "deploy" / "prometheus" / "fedstate-alerts.test.yml"
OPERATIONS = ROOT / "docs" / "operations.md"


def alerts() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        # Not a skip: a skipped proof looks like a passing one. `make test` installs prometheus where it is missing.
        pytest.fail("promtool is not installed: run `make tools`, or install Debian's prometheus package")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=RULES.parent, check=False, timeout=120)


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file."""
    headings = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_promtool_accepts_the_rules() -> None:
    checked = promtool("check", "rules", RULES.name)
    assert 0 == checked.returncode, checked.stdout + checked.stderr


def test_promtool_unit_tests_pass() -> None:
    tested = promtool("test", "rules", UNIT_TESTS.name)
    assert 0 == tested.returncode, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    fired = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in alerts()} == fired


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_says_what_happened_and_links_its_runbook(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    assert rule["labels"]["severity"] in {"warning", "critical"}
    page, _, anchor = annotations["runbook_url"].partition("#")
    assert "docs/operations.md" == page
    assert anchor == rule["alert"].lower()
    assert anchor in github_anchors(OPERATIONS.read_text())
