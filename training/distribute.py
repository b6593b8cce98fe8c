"""tf.distribute strategies by name (``--strategy``), and which worker is the chief.

- ``one_device``: the first GPU, else the CPU.
- ``mirrored``: every local GPU (else every logical CPU device: two logical CPUs in the tests) in one process.
- ``multi_worker``: MultiWorkerMirroredStrategy over the workers listed in ``TF_CONFIG``.
- ``auto``: ``multi_worker`` when ``TF_CONFIG`` names more than one worker, ``mirrored`` with several GPUs, one GPU
  alone; on a CPU, two replicas side by side (``mirrored`` over two logical CPUs, ``split_cpu``) for a network whose
  parameters are small next to the values it computes per batch (``choose``), otherwise ``one_device``.
The training loop is the same under each (a custom loop with ``strategy.run``: Keras 3's ``model.fit`` fails under
MultiWorkerMirroredStrategy, [keras-20585]; reproduced here: EXPERIMENTS.md, 2026-11-22, "Project performance
notes").
"""

import json
import os

import tensorflow as tf

import models

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


# Replicas side by side on a CPU pay where a network's parameters (which every replica updates and all-reduces) are
# fewer than this share of the activation values a batch computes (common.spec.footprint): All-CNN-C 0.03 (1.4M
# parameters, 346k values per image, batch 128), every AlexNet 0.38-0.82 (51-62M; 0.58-1.26M). Measured, training
# at batch 128, one replica against two (benchmark.py --cpu_devices=1|2; BUILD.md, "Speed"): All-CNN-C +3% in
# float32 and in bfloat16 on a 2-core Xeon with AMX, +9-10% on a 2-core Zen 4; AlexNet `paper` -9% in float32 on
# the Xeon, slower on the Zen 4 too.
SIDE_BY_SIDE_SHARE = 0.1
SIDE_BY_SIDE_REPLICAS = 2  # what was measured: 2-core CPUs, one single-threaded replica per core


def cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def choose(workers, gpus, cpu_cores, parameters, activations, batch_size):
    """``--strategy=auto``: (strategy name, logical CPU devices, why), from the job's workers, the local GPUs and
    CPU cores, and the network's ``parameters`` and ``activations`` per image (``models.footprint``)."""
    if workers > 1:
        return "multi_worker", 1, f"TF_CONFIG lists {workers} workers"
    if gpus > 1:
        return "mirrored", 1, f"{gpus} GPUs"
    if gpus == 1:
        return "one_device", 1, "one GPU"
    share = parameters / (batch_size * activations)
    measure = (f"{parameters / 1e6:.1f}M parameters, {share:.2f} of the {batch_size} x {activations / 1e3:,.0f}k "
               f"activation values of a batch")
    if share >= SIDE_BY_SIDE_SHARE:
        return "one_device", 1, f"the CPU, one replica ({measure}: two replicas would each update them all)"
    if cpu_cores < SIDE_BY_SIDE_REPLICAS or batch_size % SIDE_BY_SIDE_REPLICAS:
        why = f"{cpu_cores} core" if cpu_cores < SIDE_BY_SIDE_REPLICAS else f"batch {batch_size} is odd"
        return "one_device", 1, f"the CPU, one replica ({why})"
    return ("mirrored", SIDE_BY_SIDE_REPLICAS, f"{SIDE_BY_SIDE_REPLICAS} replicas side by side on the CPU's "
            f"{cpu_cores} cores ({measure}, under {SIDE_BY_SIDE_SHARE:g})")


def for_run(name, cpu_devices, family, variant, num_classes, batch_size, model_options=None, log=print):
    """The strategy train.py runs under, made before TensorFlow's runtime starts. ``--strategy=auto`` with
    ``--cpu_devices=0`` (the defaults) picks the layout by ``choose`` and says what and why in one line; any other
    pair is taken as given (``--cpu_devices=0`` meaning 1)."""
    if name == "auto" and cpu_devices == 0:
        cluster = tf_config().get("cluster", {})
        workers = sum(len(cluster.get(job, [])) for job in ("chief", "worker"))
        parameters, activations = models.footprint(family, variant, num_classes or 1, **(model_options or {}))
        name, cpu_devices, why = choose(workers, len(tf.config.list_physical_devices("GPU")), cores(), parameters,
                                        activations, batch_size)
        log(f"--strategy=auto: {name}" + (f" over {cpu_devices} logical CPUs" if cpu_devices > 1 else "")
            + f" ({why})")
    split_cpu(max(1, cpu_devices))
    return make(name)


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
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cores() // count))


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
    """Whether this process writes checkpoints, summaries and exports: the ``chief`` task of a multi-worker job,
    or worker 0 where the cluster has no ``chief`` job (TensorFlow's own rule, ``multi_worker_util.is_chief``)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs


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
