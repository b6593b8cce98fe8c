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


def test_auto_puts_replicas_side_by_side_only_for_networks_with_few_parameters_next_to_their_activations():
    import models
    allcnn = models.footprint("allcnn", "all_cnn_c", 10)
    alexnet = models.footprint("alexnet", "paper", 1000)
    assert allcnn == (1_369_738, 345_970) and alexnet == (60_965_224, 1_258_760)
    name, devices, why = distribute.choose(1, 0, 2, *allcnn, 128)
    assert (name, devices) == ("mirrored", 2)
    assert why == ("2 replicas side by side on the CPU's 2 cores (1.4M parameters, 0.03 of the 128 x 346k activation "
                   "values of a batch, under 0.1)")
    assert distribute.choose(1, 0, 2, *alexnet, 128)[:2] == ("one_device", 1)
    assert "0.38 of the 128 x 1,259k activation values" in distribute.choose(1, 0, 2, *alexnet, 128)[2]
    assert distribute.choose(1, 0, 1, *allcnn, 128)[:2] == ("one_device", 1)  # one core
    assert distribute.choose(1, 0, 2, *allcnn, 127)[2] == "the CPU, one replica (batch 127 is odd)"
    assert distribute.choose(1, 1, 2, *allcnn, 128)[:2] == ("one_device", 1)  # a GPU
    assert distribute.choose(1, 4, 2, *alexnet, 128)[:2] == ("mirrored", 1)
    assert distribute.choose(3, 0, 2, *allcnn, 128)[:2] == ("multi_worker", 1)
    # every variant of each family falls on its family's side of the line, by a wide margin
    for family, variant_classes in (("alexnet", 1000), ("allcnn", 10)):
        for variant in models.variants(family):
            parameters, activations = models.footprint(family, variant, variant_classes)
            share = parameters / (128 * activations)
            assert (share < distribute.SIDE_BY_SIDE_SHARE / 2) if family == "allcnn" else \
                (share > 2 * distribute.SIDE_BY_SIDE_SHARE), (variant, share)


def test_the_chief_is_the_chief_task_or_worker_0_where_there_is_none():
    from unittest import mock

    def strategy(task_type, task_id, jobs):
        fake = mock.Mock(spec=tf.distribute.MultiWorkerMirroredStrategy)
        fake.cluster_resolver.task_type, fake.cluster_resolver.task_id = task_type, task_id
        fake.cluster_resolver.cluster_spec.return_value = tf.train.ClusterSpec(
            {job: [f"localhost:{2000 + i}" for i in range(count)] for job, count in jobs.items()})
        return fake

    assert distribute.is_chief(strategy("worker", 0, {"worker": 2}))
    assert not distribute.is_chief(strategy("worker", 1, {"worker": 2}))
    assert distribute.is_chief(strategy("chief", 0, {"chief": 1, "worker": 2}))
    assert not distribute.is_chief(strategy("worker", 0, {"chief": 1, "worker": 2}))  # was taken for a second chief
    assert distribute.is_chief(tf.distribute.get_strategy())
