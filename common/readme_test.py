"""The README's two set-up commands: CI runs the test command verbatim; the main job installs requirements.txt, the
tests requirements-test.txt (requirements.txt and the tests' reference implementations)."""

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
    assert "pip install -q -r requirements-test.txt" in tests


def _requirements(name):
    lines = [line.split("#")[0].strip() for line in _read(name).splitlines()]
    return [line for line in lines if line]


def test_every_requirement_is_pinned():
    requirements = _requirements("requirements.txt")
    assert requirements and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.]*", r) for r in requirements)
    assert "tensorflow==2.21.0" in requirements
    tests = _requirements("requirements-test.txt")
    assert tests[0] == "-r requirements.txt"
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.]*", r) for r in tests[1:])
    assert "torch==2.13.0" in tests and any(r.startswith("opencv-python-headless==4.") for r in tests)
