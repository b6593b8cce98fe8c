"""Strategies by name (training/distribute.py)."""

import tensorflow as tf

from training import distribute


def test_one_replica_side_by_side_is_the_default_strategy():
    # --cpu_devices=1 (benchmark.py, tools/torch_peer.py): no logical devices made, no wrapping strategy
    assert distribute.side_by_side_strategy(1) is tf.distribute.get_strategy()


def test_mirrored_is_one_strategy_per_process():
    # two MirroredStrategy objects in one process number their all-reduces alike and collide in TensorFlow's
    # collective runtime: the second of two runs in a notebook (or a test suite) failed with a shape mismatch
    assert distribute.make("mirrored") is distribute.make("mirrored")
