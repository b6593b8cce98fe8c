"""tf.distribute strategies by name (``--strategy``), and which worker is the chief.

- ``one_device``: the first GPU, else the CPU.
- ``mirrored``: every local GPU (else every logical CPU device: two logical CPUs in the tests) in one process.
- ``multi_worker``: MultiWorkerMirroredStrategy over the workers listed in ``TF_CONFIG``.
- ``auto``: ``multi_worker`` when ``TF_CONFIG`` names more than one worker, ``mirrored`` with several GPUs,
  otherwise ``one_device``.
The training loop is the same under each (a custom loop with ``strategy.run``: Keras 3's ``model.fit`` fails under
MultiWorkerMirroredStrategy, [keras-20585]; reproduced here: EXPERIMENTS.md, 2026-11-22, "Project performance
notes").
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def tf_config():
    """The parsed ``TF_CONFIG`` (an empty dict when unset); ValueError naming the variable when it is not JSON."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}); it must look like "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}.')
    return config


def split_cpu(count):
    """Make ``count`` logical CPU devices (before any TensorFlow op runs), so that MirroredStrategy can be tried on
    one machine without GPUs, or run ``count`` replicas side by side on the CPU's cores.

    Each op then gets 1/count of the cores (the intra-op pool), and the replicas' ops run at once (the inter-op
    pool: one thread per core by default). On 2 cores, All-CNN-C at batch 32 (2 replicas of 16, single-threaded
    convolutions) trained at 180-184 images/s against 136-158 with the default 2 threads per op (2026-11-23): small
    convolutions split over threads waste more than they gain."""
    if count > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cores // count))


def side_by_side_strategy(count):
    """The strategy running ``count`` replicas side by side on the CPU (``split_cpu``): the MirroredStrategy over
    them; for one, the default strategy (one replica, no wrapping). For benchmark.py's and tools/torch_peer.py's
    ``--cpu_devices``."""
    split_cpu(count)
    return make("mirrored") if count > 1 else tf.distribute.get_strategy()


def describe(strategy):
    """One line: the strategy, its replicas' devices and the threads each op may use."""
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    try:
        devices = ", ".join(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy (a library caller's): TensorFlow places the ops
        devices = "TensorFlow's default placement"
    return (f"strategy: {type(strategy).__name__}, {strategy.num_replicas_in_sync} replica(s) in sync, this "
            f"worker's devices: {devices}; threads per op: {threads or 'all cores (TensorFlow default)'}")


def make(name):
    """The strategy called ``name`` (one of ``STRATEGIES``)."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r} is invalid; valid strategies: {', '.join(STRATEGIES)}.")
    workers = tf_config().get("cluster", {}).get("worker", [])
    # physical devices: listing them does not start the runtime, which MultiWorkerMirroredStrategy must configure
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = "multi_worker" if len(workers) > 1 else "mirrored" if len(gpus) > 1 else "one_device"
    if name == "multi_worker":
        if not workers:
            raise ValueError("--strategy=multi_worker needs TF_CONFIG listing the workers, e.g. "
                             'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                             '"task": {"type": "worker", "index": 0}}\'.')
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tuple(d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))
        return mirrored(devices)
    return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")


_MIRRORED = {}


def mirrored(devices):
    """The MirroredStrategy over ``devices``, one per process: two of them in one process (a notebook that runs
    ``training.run.train_and_evaluate`` twice, a test suite) number their all-reduces alike and collide in
    TensorFlow's collective runtime ("Shape mismatch in the collective instance 100", TF 2.21)."""
    devices = tuple(devices)
    if devices not in _MIRRORED:
        _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
    return _MIRRORED[devices]


def is_chief(strategy):
    """Whether this process writes checkpoints, summaries and exports (worker 0 of a multi-worker job)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def num_workers(strategy):
    """How many processes (each with its own input pipeline) the strategy spans: the chief and workers of a
    multi-worker job, else 1."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 1
    spec = strategy.cluster_resolver.cluster_spec()
    return max(1, sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs))


def worker_index(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_id", 0) or 0
