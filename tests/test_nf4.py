"""llmbook.nf4: the NF4 code against its published values, and the round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import memory, nf4

#: The NF4 values as hard-coded, in float32, by independent NF4 implementations (OpenVINO
#: NNCF's NF4_QUANTILES, unsloth's NF4_QUANT_TABLE), which take them from bitsandbytes.
PUBLISHED_NF4 = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]  # fmt: skip


def test_nf4_code_matches_the_published_table():
    np.testing.assert_allclose(nf4.nf4_code(), PUBLISHED_NF4, atol=1e-6)
    code = nf4.nf4_code()
    assert len(code) == 16 and 0.0 in code  # an exact zero, 7 negative and 8 positive values
    assert (code < 0).sum() == 7 and (code > 0).sum() == 8


def test_nf4_uses_its_codes_more_evenly_than_int4_on_normal_weights():
    # The point of the construction: on normal weights the code values are used about equally
    # often, so the 4 bits carry more information (entropy) than uniform int4 levels do.
    x = np.random.default_rng(0).standard_normal((4096, 64))

    def entropy_bits(code):
        counts = np.bincount(nf4.quantize(x, code).codes.ravel())
        p = counts[counts > 0] / x.size
        return float(-(p * np.log2(p)).sum())

    assert entropy_bits(nf4.nf4_code()) > 3.8 > entropy_bits(nf4.int4_code()) + 0.2


def test_hand_computed_block():
    w = np.array([0.5, -1.0, 0.0, 0.25] * 16)
    q = nf4.quantize(w)
    assert q.absmax[0] == pytest.approx(1.0)
    back = nf4.dequantize(q)
    assert back[1] == -1.0 and back[2] == 0.0
    # 0.5 lies between 0.4407 and 0.5626: nearest is 0.4407
    assert back[0] == pytest.approx(0.44070982933044434, abs=1e-6)


def test_double_quantisation_recovers_the_constants_closely():
    c = np.random.default_rng(1).uniform(0.01, 0.2, 5000)
    back = nf4.double_dequantize(nf4.double_quantize(c))
    assert back.shape == c.shape
    # int8 over a centred block: error at most half a step, step = max|c - mean| / 127
    step = np.abs(c - c.mean()).max() / 127
    assert np.abs(back - c).max() <= step / 2 + 1e-9


def test_bits_per_weight_of_the_formats():
    assert memory.bits_per_weight("nf4") == 4 + 32 / nf4.BLOCK
    assert memory.bits_per_weight("nf4-dq") == pytest.approx(4 + 8 / 64 + 32 / (64 * 256))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 10))
def test_roundtrip_error_is_bounded_by_the_largest_gap(seed, scale):
    w = np.random.default_rng(seed).standard_normal((8, 64)) * scale
    back = nf4.roundtrip(w, "nf4")
    gap = np.diff(nf4.nf4_code()).max() / 2
    absmax = np.abs(w).max(axis=1, keepdims=True)
    assert np.all(np.abs(back - w) <= gap * absmax * (1 + 1e-6) + 1e-7)


def test_gguf_roundtrip_and_error_order():
    w = np.random.default_rng(2).standard_normal((16, 256)).astype(np.float32)
    errs = {f: nf4.rel_rmse(w, nf4.roundtrip(w, f)) for f in ("int4", "nf4", "Q4_0", "Q8_0")}
    assert errs["Q8_0"] < errs["Q4_0"] and errs["nf4"] < errs["int4"]
    with pytest.raises(ValueError, match="unknown"):
        nf4.roundtrip(w, "Q3_X")
