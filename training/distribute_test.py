"""Strategies by name (training/distribute.py)."""

import tensorflow as tf

from training import distribute


def test_one_replica_side_by_side_is_the_default_strategy():
    # --cpu_devices=1 (benchmark.py, tools/torch_peer.py): no logical devices made, no wrapping strategy
    assert distribute.side_by_side_strategy(1) is tf.distribute.get_strategy()
