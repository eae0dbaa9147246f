"""The configuration ``fedstate up --with-prometheus`` gives Prometheus is one promtool accepts, with the shipped
rules loaded and the stack's targets file as its only discovery; without the binary the flag fails clearly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fedstate.cli.errors import CliError
from fedstate.cli.memberaccess import source_file
from fedstate.cli.prometheus import RULES, prometheus_launch
from fedstate.cli.state import StackPaths, Tier


def test_promtool_accepts_the_configuration_and_its_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # not a skip: `make test` installs it
        pytest.fail("promtool is not installed: run `make tools`, or install Debian's prometheus package")
    paths = StackPaths(tmp_path / ".fedstate")
    paths.root.mkdir()
    paths.prometheus_targets.write_text("[]")
    launch = prometheus_launch(paths, 9999, "127.0.0.1")
    config_file = next(a.partition("=")[2] for a in launch.args if a.startswith("--config.file="))
    checked = subprocess.run([promtool, "check", "config", config_file], capture_output=True, text=True, check=False)
    assert 0 == checked.returncode, checked.stdout + checked.stderr
    shipped = sum(len(g["rules"]) for g in yaml.safe_load(source_file(RULES).read_text())["groups"])
    assert f"SUCCESS: {shipped} rules found" in checked.stdout
    config = json.loads(Path(config_file).read_text())
    assert [str(paths.prometheus_targets.resolve())] == config["scrape_configs"][0]["file_sd_configs"][0]["files"]
    assert ("--web.listen-address=127.0.0.1:9999", Tier.SCRAPER) == (launch.args[-1], launch.tier)


def test_without_prometheus_on_the_path_the_flag_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CliError, match="apt-get install prometheus"):
        prometheus_launch(StackPaths(tmp_path / ".fedstate"), 9999, "127.0.0.1")
