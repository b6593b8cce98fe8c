"""Test helper: the recipe flagfiles of configs/ and their parsed flags."""

import contextlib
import glob
import os

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(os.path.basename(p)[:-len(".flags")] for p in glob.glob(os.path.join(ROOT, "configs", "*.flags"))
                 if not p.endswith("common.flags"))


@contextlib.contextmanager
def _in_root():
    cwd = os.getcwd()
    os.chdir(ROOT)  # flagfiles name each other relative to the repository root, as the commands run there
    try:
        yield
    finally:
        os.chdir(cwd)


def recipe_flags(recipe, *extra):
    """train.py's flags as ``configs/<recipe>.flags`` (plus ``extra`` arguments) sets them; a copy, so that the
    global FLAGS are left unparsed."""
    import train  # noqa: F401  defines the flags

    with _in_root():
        try:
            flags.FLAGS(["train.py", f"--flagfile=configs/{recipe}.flags", *extra])
            values = {name: flags.FLAGS[name].value for name in train.TRAIN_FLAGS}
        finally:
            flags.FLAGS.unparse_flags()
    return type("RecipeFlags", (), values)()
