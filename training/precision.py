"""``--mixed_precision``: the Keras dtype policies a run may use, and ``auto``, which picks bfloat16 only where the
hardware computes it. The one list of precisions for train.py and benchmark.py."""

import tensorflow as tf

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def cpu_flags(path="/proc/cpuinfo"):
    """The instruction-set flags of this machine's CPU (Linux's /proc/cpuinfo), or an empty set where unknown."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bfloat16(flags, gpu_capabilities=()):
    """Whether bfloat16 matmuls and convolutions run in hardware here: a GPU of compute capability 8.0 or later
    (Ampere on; tensor cores), or a CPU with AVX512-BF16 or AMX-BF16 (oneDNN's bfloat16 kernels). Elsewhere
    TensorFlow emulates bfloat16 in float32 code: an AVX2-only Zen 1 trained All-CNN-C on the digits at 2.4
    images/s in mixed_bfloat16 against 23 in float32 (2026-12-02)."""
    if gpu_capabilities:
        return all(tuple(c) >= (8, 0) for c in gpu_capabilities)
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(name, flags=None, gpu_capabilities=None, flag="mixed_precision"):
    """``--mixed_precision``: ``auto`` is mixed_bfloat16 where bfloat16 is native (``native_bfloat16``), else
    float32; any other name is returned as it is. A ValueError names ``flag`` for a name not in PRECISIONS."""
    if name not in PRECISIONS:
        raise ValueError(f"--{flag}={name!r} is invalid; valid values: {', '.join(PRECISIONS)}.")
    if name != "auto":
        return name
    if gpu_capabilities is None:
        gpu_capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
                            for gpu in tf.config.list_physical_devices("GPU")]
    return "mixed_bfloat16" if native_bfloat16(cpu_flags() if flags is None else flags,
                                               gpu_capabilities) else "float32"


def describe(requested, resolved):
    """The run's precision line: what it uses, and why where ``auto`` chose."""
    if requested != "auto":
        return f"precision: {resolved}"
    native = "native" if resolved == "mixed_bfloat16" else "not native"
    return f"precision: {resolved} (--mixed_precision=auto: bfloat16 is {native} here)"
