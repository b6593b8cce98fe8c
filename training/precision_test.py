"""--mixed_precision=auto: bfloat16 only where the hardware computes it (training/precision.py)."""

import pytest

from training import precision

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16 sha_ni
bogomips\t: 3992.49
"""


def test_cpu_flags_reads_the_flags_line_of_proc_cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert precision.cpu_flags(str(path)) == {"fpu", "sse2", "avx", "avx2", "fma", "avx512f", "avx512_bf16",
                                               "sha_ni"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()  # not Linux: nothing known, so float32


@pytest.mark.parametrize("flags, gpus, expected", [
    ({"avx2", "fma"}, (), "float32"),                            # Zen 1 / Haswell: bfloat16 emulated
    ({"avx512f", "avx512_bf16"}, (), "mixed_bfloat16"),          # Zen 4, Cooper Lake
    ({"avx512f", "amx_bf16", "amx_tile"}, (), "mixed_bfloat16"),  # Sapphire Rapids
    ({"avx2"}, ((8, 0),), "mixed_bfloat16"),                     # A100: the GPU decides, not the host CPU
    ({"avx512_bf16"}, ((7, 0),), "float32"),                     # V100: no bfloat16 tensor cores
    ({"avx2"}, ((9, 0), (8, 6)), "mixed_bfloat16"),
])
def test_auto_is_bfloat16_only_where_native(flags, gpus, expected):
    assert precision.resolve_precision("auto", flags, gpus) == expected


def test_explicit_precisions_are_kept_and_bad_ones_named():
    for name in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert precision.resolve_precision(name, {"avx2"}, ()) == name
    with pytest.raises(ValueError, match="--mixed_precision='bf16' is invalid; valid values: auto, float32"):
        precision.resolve_precision("bf16", set(), ())


def test_the_precision_line_says_why_auto_chose():
    assert precision.describe("float32", "float32") == "precision: float32"
    assert precision.describe("auto", "mixed_bfloat16") == (
        "precision: mixed_bfloat16 (--mixed_precision=auto: bfloat16 is native here)")
    assert precision.describe("auto", "float32") == (
        "precision: float32 (--mixed_precision=auto: bfloat16 is not native here)")
