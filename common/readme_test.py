"""The README's two set-up commands: CI runs the test command verbatim, and both install from requirements.txt."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_command():
    commands = re.findall(r"```sh\n(.*?)\n```", _read("README.md"), flags=re.S)
    assert len(commands) == 2
    main, tests = commands
    assert tests.endswith("-m pytest") and tests in _read(".ci", "run").splitlines()
    assert "pip install -q -r requirements.txt" in main


def test_every_requirement_is_pinned():
    lines = [line.strip() for line in _read("requirements.txt").splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.]*", r) for r in requirements)
    assert "tensorflow==2.21.0" in requirements
