"""``ember diff`` as CI runs it: a real process, its output formats, files and exit status."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.diag.diff_runs import ember_runs


def _ember(*args, cwd):
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "tui.cli", "diff", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return {side: [str(p) for p in dirs] for side, dirs in ember_runs(tmp_path_factory.mktemp("runs")).items()}


def test_identical_pair_exits_0_and_says_times_are_not_gated(runs, tmp_path):
    result = _ember(runs["base"][0], runs["again"][0], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gates passed" in result.stdout and "times are reported, not gated" in result.stdout


def test_repeated_runs_gate_time_and_write_junit(runs, tmp_path):
    out = tmp_path / "diff.xml"
    result = _ember("--base", *runs["base"], "--new", *runs["slow"], "--format", "junit", "--output", str(out),
                    cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"junit written to {out}" in result.stdout
    root = ET.parse(out).getroot()
    failures = root.findall(".//failure")
    assert failures and all("Mann-Whitney" in f.get("message") for f in failures)


def test_markdown_for_a_pull_request(runs, tmp_path):
    result = _ember(runs["base"][0], runs["other"][0], "--format", "markdown", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("## ❌ ember diff:") and "**Failed gates**" in result.stdout


def test_thresholds_from_the_command_line(runs, tmp_path):
    relaxed = ["--max-increase", "tasks=off", "--max-increase", "input=off", "--max-increase", "shuffle=off",
               "--max-increase", "jobs=off", "--max-increase", "stages=off", "--allow-plan-changes",
               "--fail-on-new-diagnosis", "off"]
    assert _ember(runs["base"][0], runs["other"][0], *relaxed, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["base.json", "missing.json"], "no such file or directory"),
    (["only-one.json"], "expected BASE and NEW"),
    (["--max-increase", "speed=1%", "a", "b"], "unknown metric 'speed'"),
])
def test_bad_input_exits_2_with_a_clear_message(runs, tmp_path, args, message):
    args = [runs["base"][0] if a == "base.json" else a for a in args]
    result = _ember(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


def test_a_file_that_is_not_an_event_log_exits_2_naming_it(runs, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an event log\n")
    result = _ember(runs["base"][0], str(notes), cwd=tmp_path)
    assert result.returncode == 2
    assert "notes.txt" in result.stderr and "not a Spark event log" in result.stderr
