"""Every recipe flagfile parses with train.py's flags, layers on configs/common.flags, names a real model and
states its command, expected result and source at the top."""

import glob
import os

import pytest
from absl import flags

import models
import train  # noqa: F401  defines the entry point's flags

ROOT = os.path.dirname(os.path.abspath(__file__))
RECIPES = sorted(p for p in glob.glob(os.path.join(ROOT, "configs", "*.flags")) if not p.endswith("common.flags"))


@pytest.mark.parametrize("path", RECIPES, ids=os.path.basename)
def test_recipe_parses_and_names_a_real_model(path):
    with open(path) as f:
        text = f.read()
    assert "--flagfile=configs/common.flags" in text
    name = os.path.relpath(path, ROOT)
    assert f"# Command:  python train.py --flagfile={name}" in text and "# Expected: " in text
    cwd = os.getcwd()
    os.chdir(ROOT)  # flagfiles name each other relative to the repository root, as the commands run there
    try:
        flags.FLAGS(["train.py", f"--flagfile={name}"])
        assert flags.FLAGS.variant in models.variants(flags.FLAGS.model)
        assert flags.FLAGS.num_classes in (10, 1000)
    finally:
        flags.FLAGS.unparse_flags()
        os.chdir(cwd)
