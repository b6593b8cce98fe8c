"""Every recipe flagfile parses with train.py's flags into a training Config that passes its checks, layers on
configs/common.flags, names a real model and states its command, expected result and source at the top."""

import os

from training.config import check

ROOT = os.path.dirname(os.path.abspath(__file__))


def test_recipe_parses_into_a_valid_config_of_a_real_model(recipe, recipe_config):
    name = f"configs/{recipe}.flags"
    with open(os.path.join(ROOT, name)) as f:
        text = f.read()
    assert "--flagfile=configs/common.flags" in text
    assert f"# Command:  python train.py --flagfile={name}" in text and "# Expected: " in text
    config = recipe_config(recipe, "--workdir=/nonexistent")
    check(config)  # the variant, the family's options, the schedules and the data options
    assert config.num_classes in (10, 1000)
