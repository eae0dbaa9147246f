"""The bootstrap script the agent execs is JavaScript both mongo shells run: Node's (mongosh, which has
``require`` and throws on a failed command) and the legacy shell's (``cat``, failures returned as ok: 0).
Run under Node with a stand-in ``db``; no secret is in the exec request."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fedstate.models.dataplane import Credentials
from fedstate_agent.mongo import first_user_command
from fedstate_agent.podshell import argv, parse_results, read_file, script, shell_for

NODE = shutil.which("node")
# A stand-in for the shell around the script: db.getSiblingDB(...).runCommand records each command and
# fails {"fail": 1} the way that shell does; print collects lines.
HARNESS = """
const vm = require("vm"), fs = require("fs");
const [flavour, scriptPath] = process.argv.slice(2);
const received = [], printed = [];
function runCommand(command) {
  received.push(command);
  if (!("fail" in command)) { return {ok: 1}; }
  if (flavour === "mongo") { return {ok: 0, code: 13, codeName: "Unauthorized", errmsg: "not allowed"}; }
  const error = new Error("not allowed"); error.code = 13; error.codeName = "Unauthorized"; throw error;
}
const sandbox = {db: {getSiblingDB: () => ({runCommand})}, print: (...words) => printed.push(words.join(" "))};
if (flavour === "mongosh") { sandbox.require = require; } else { sandbox.cat = (path) => fs.readFileSync(path, "utf8"); }
vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), sandbox);
console.log(JSON.stringify({received, printed}));
"""


def run_in(flavour: str, commands: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    if NODE is None:
        # Not a skip: a skipped proof looks like a passing one. `make test` installs node where it is missing.
        pytest.fail("node is not installed: run `make test`, which installs it, or install nodejs")
    (workdir / "harness.js").write_text(HARNESS)
    (workdir / "script.js").write_text(script(commands))
    done = subprocess.run(
        [NODE, str(workdir / "harness.js"), flavour, str(workdir / "script.js")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("flavour", ["mongosh", "mongo"])
def test_the_script_reads_files_runs_in_order_and_stops_at_the_first_failure(flavour: str, tmp_path: Path) -> None:
    """$readFile becomes the file's content; commands run in order; the failure is reported and ends the run."""
    secret = tmp_path / "root-password"
    secret.write_text("s3cret")
    commands: list[dict[str, Any]] = [
        {"ping": 1},
        {"createUser": "root", "pwd": read_file(str(secret))},
        {"fail": 1},
        {"ping": 2},
    ]
    done = run_in(flavour, commands, tmp_path)
    assert [{"ping": 1}, {"createUser": "root", "pwd": "s3cret"}, {"fail": 1}] == done["received"]
    failure = {"ok": 0, "code": 13, "codeName": "Unauthorized", "errmsg": "not allowed"}
    assert [{"ok": 1}, {"ok": 1}, failure] == parse_results("\n".join(done["printed"]))


def test_the_exec_request_carries_no_password() -> None:
    """The first user's password is read in the pod from the mounted Secret, never sent."""
    credentials = Credentials(
        key_file="k" * 64, root_password="pa55-w0rd", cluster_admin_password="c", cluster_monitor_password="m"
    )
    command = argv("7.0.4", [first_user_command()])
    assert ["mongosh", "--quiet", "--norc", "--port", "27017", "--eval"] == command[:6]
    assert credentials.root_password not in " ".join(command)
    assert {"$readFile": "/etc/mongod-auth/root-password"} == first_user_command()["pwd"]


@pytest.mark.parametrize(
    ("version", "shell"), [("4.4.29", "mongo"), ("5.0.0", "mongosh"), ("8.0.1", "mongosh"), ("", "mongosh")]
)
def test_the_shell_follows_the_server_version(version: str, shell: str) -> None:
    """mongosh ships from MongoDB 5.0; older images have only the legacy mongo shell."""
    assert shell == shell_for(version)
