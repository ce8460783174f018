"""4-bit NormalFloat (NF4) with double quantisation, the storage format of QLoRA, in numpy.

QLoRA (Dettmers et al. 2023, §3) stores a frozen weight matrix in blocks of 64 weights. Each
block is divided by its absolute maximum ``c`` (so it lies in [-1, 1]) and every weight is
replaced by the index of the nearest of 16 code values, the NF4 code: quantiles of a standard
normal distribution, so that a normally distributed weight falls into each bin about equally
often, with an exact zero. Storing ``c`` in fp32 costs 32/64 = 0.5 bits per weight; *double
quantisation* quantises the constants themselves, in blocks of 256, to 8 bits plus one fp32
constant per block: 8/64 + 32/(64·256) ≈ 0.127 bits per weight.

The code values are built as in the bitsandbytes library (``create_normal_map``, offset
0.9677083): 8 positive quantiles and 7 negative ones of N(0, 1), plus zero, divided by the
largest. The tests compare them with the NF4 table other implementations hard-code. For the
second level this module uses symmetric 8-bit integers with a per-block absmax after
subtracting the mean of the constants (QLoRA §3 subtracts the mean; bitsandbytes stores the
8-bit values in its dynamic 8-bit float code instead of integers, with the same storage cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

BLOCK = 64  #: weights per first-level block (QLoRA §3)
BLOCK2 = 256  #: first-level constants per second-level block (QLoRA §3)
OFFSET = 0.9677083  #: bitsandbytes create_normal_map: the outermost quantile used


def nf4_code(offset: float = OFFSET) -> np.ndarray:
    """The 16 NF4 values in [-1, 1], sorted, with 0 exactly representable."""
    ppf = NormalDist().inv_cdf
    positive = [ppf(p) for p in np.linspace(offset, 0.5, 9)[:-1]]
    negative = [-ppf(p) for p in np.linspace(offset, 0.5, 8)[:-1]]
    values = np.sort(np.array(positive + [0.0] + negative))
    return values / values.max()


def int4_code() -> np.ndarray:
    """Symmetric 4-bit integers -7..7 scaled to [-1, 1] (15 levels, absmax quantisation)."""
    return np.arange(-7, 8) / 7.0


def _nearest(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Index of the nearest code value for each entry of ``x`` (code sorted ascending)."""
    mid = (code[1:] + code[:-1]) / 2
    return np.searchsorted(mid, x).astype(np.uint8)


@dataclass(frozen=True)
class Blockwise:
    """A matrix in blockwise absmax format: ``codes`` (one index per weight), per-block
    constants ``absmax``, the ``code`` table, the ``block`` size and the original ``shape``."""

    codes: np.ndarray
    absmax: np.ndarray
    code: np.ndarray
    block: int
    shape: tuple[int, ...]


def quantize(w: np.ndarray, code: np.ndarray | None = None, block: int = BLOCK) -> Blockwise:
    """Blockwise absmax quantisation of ``w`` (its size a multiple of ``block``) to ``code``
    (default NF4): each block is divided by max |w| and rounded to the nearest code value."""
    code = nf4_code() if code is None else np.asarray(code, dtype=np.float64)
    flat = np.asarray(w, dtype=np.float64).reshape(-1, block)
    absmax = np.abs(flat).max(axis=1)
    scaled = flat / np.where(absmax == 0, 1.0, absmax)[:, None]
    return Blockwise(_nearest(scaled, code), absmax.astype(np.float32), code, block, w.shape)


def dequantize(q: Blockwise, absmax: np.ndarray | None = None) -> np.ndarray:
    """The float32 matrix a :class:`Blockwise` stands for (``absmax`` overrides the stored
    constants, e.g. with double-dequantised ones)."""
    c = q.absmax if absmax is None else absmax
    values = q.code[q.codes] * np.asarray(c, dtype=np.float64)[:, None]
    return values.reshape(q.shape).astype(np.float32)


@dataclass(frozen=True)
class DoubleQuantized:
    """First-level constants quantised again: 8-bit ``codes`` per constant, an fp32 ``scale``
    per block of ``BLOCK2`` constants, and the fp32 ``mean`` subtracted before."""

    codes: np.ndarray
    scale: np.ndarray
    mean: float
    n: int


def double_quantize(absmax: np.ndarray, block2: int = BLOCK2) -> DoubleQuantized:
    """Quantise the first-level constants to int8 in blocks of ``block2`` after centring."""
    c = np.asarray(absmax, dtype=np.float64)
    mean = float(c.mean())
    centred = c - mean
    pad = (-len(centred)) % block2
    blocks = np.concatenate([centred, np.zeros(pad)]).reshape(-1, block2)
    scale = np.abs(blocks).max(axis=1) / 127
    codes = np.round(blocks / np.where(scale == 0, 1.0, scale)[:, None]).astype(np.int8)
    return DoubleQuantized(codes, scale.astype(np.float32), mean, len(c))


def double_dequantize(dq: DoubleQuantized) -> np.ndarray:
    """The first-level constants recovered from :func:`double_quantize`."""
    values = dq.codes.astype(np.float64) * dq.scale.astype(np.float64)[:, None] + dq.mean
    return values.reshape(-1)[: dq.n]


def nf4_dq_roundtrip(w: np.ndarray) -> np.ndarray:
    """``w`` stored as QLoRA stores it (NF4, blocks of 64, double-quantised constants) and read
    back: ``doubleDequant(c1, c2, W_NF4)`` of QLoRA §3, Eq. 6."""
    q = quantize(w)
    return dequantize(q, double_dequantize(double_quantize(q.absmax)))


def roundtrip(w: np.ndarray, fmt: str) -> np.ndarray:
    """``w`` quantised to ``fmt`` and back: ``nf4`` (fp32 constants), ``nf4-dq``, ``int4-b64`` (or
    ``int4``: evenly spaced levels, absmax, blocks of 64), or a GGUF block type (``Q4_0``,
    ``Q4_1``, ``Q8_0``...) through the ``gguf`` package's reference quantiser (rows of ``w``
    must be multiples of 32)."""
    key = fmt.lower()
    if key == "nf4":
        return dequantize(quantize(w))
    if key == "nf4-dq":
        return nf4_dq_roundtrip(w)
    if key in ("int4", "int4-b64"):
        return dequantize(quantize(w, int4_code()))
    from gguf import quants
    from gguf.constants import GGMLQuantizationType

    try:
        qtype = GGMLQuantizationType[fmt.upper()]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}") from None
    data = quants.quantize(np.ascontiguousarray(w, dtype=np.float32), qtype)
    return np.asarray(quants.dequantize(data, qtype), dtype=np.float32).reshape(w.shape)


def rel_rmse(w: np.ndarray, w_hat: np.ndarray) -> float:
    """Root-mean-square reconstruction error relative to the RMS of ``w``."""
    w64 = np.asarray(w, dtype=np.float64)
    err = w64 - np.asarray(w_hat, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2) / np.mean(w64**2)))
