"""Compute-optimal scaling: the Chinchilla loss law and the allocation of a FLOP budget.

Hoffmann et al. 2022 (Chinchilla), §3.3 Approach 3, fit L(N, D) = E + A/N^α + B/D^β to final
losses of ~400 runs. Minimising L under C = 6·N·D gives (their Eq. 4, Appendix D.2)

    N_opt = G · (C/6)^(β/(α+β)),   D_opt = (1/G) · (C/6)^(α/(α+β)),   G = (α·A / (β·B))^(1/(α+β)).

Besiroglu et al. 2024 (Epoch AI) refit the same law to data reconstructed from the paper's
figures and found the published constants inconsistent with Approaches 1 and 2; their refit is
offered as ``EPOCH_2024``.

Approach 1 (Table 3 of Hoffmann et al.) scales N_opt and D_opt as C^0.50 each; ``approach1``
anchors that power law at the table's first row.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmbook.compute import TRAIN_FLOPS_PER_PARAM_TOKEN, _positive


@dataclass(frozen=True)
class LossLaw:
    """L(N, D) = E + A/N^alpha + B/D^beta (loss in nats per token)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, params: float, tokens: float) -> float:
        _positive(params=params, tokens=tokens)
        params, tokens = float(params), float(tokens)
        return self.E + self.A / params**self.alpha + self.B / tokens**self.beta

    def optimal(self, flops: float) -> tuple[float, float]:
        """(N_opt, D_opt) minimising the loss for a budget of ``flops`` with C = 6·N·D."""
        _positive(flops=flops)
        a, b = self.alpha, self.beta
        G = (a * self.A / (b * self.B)) ** (1 / (a + b))
        base = float(flops) / TRAIN_FLOPS_PER_PARAM_TOKEN
        return G * base ** (b / (a + b)), base ** (a / (a + b)) / G


#: Hoffmann et al. 2022, §3.3 Eq. (10): the published (rounded) Approach 3 fit.
CHINCHILLA_2022 = LossLaw(
    E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, source="hoffmann2022training: §3.3 Eq. 10"
)
#: Besiroglu et al. 2024, Epoch AI's refit of Approach 3.
EPOCH_2024 = LossLaw(
    E=1.8172,
    A=482.01,
    B=2085.43,
    alpha=0.3478,
    beta=0.3658,
    source="besiroglu2024chinchilla: refit of the Approach 3 parametric loss",
)
LAWS = {"chinchilla": CHINCHILLA_2022, "epoch": EPOCH_2024}

#: Hoffmann et al. 2022, Table 3, first row (Approach 1): 400M parameters need 1.92e19 FLOPs
#: and 8.0e9 tokens. Approach 1's exponents: a = b = 0.50 (Table 2).
APPROACH1_ANCHOR = (1.92e19, 400e6)
APPROACH1_EXPONENT = 0.50


def approach1(flops: float) -> tuple[float, float]:
    """(N_opt, D_opt) by Chinchilla Approach 1: N ∝ C^0.50 through Table 3's first row, D = C/6N."""
    _positive(flops=flops)
    c0, n0 = APPROACH1_ANCHOR
    flops = float(flops)
    params = n0 * (flops / c0) ** APPROACH1_EXPONENT
    return params, flops / (TRAIN_FLOPS_PER_PARAM_TOKEN * params)


def tokens_per_param(params: float, tokens: float) -> float:
    """D / N: Chinchilla's compute-optimal models sit near 20 (Hoffmann et al. 2022, Table 3)."""
    _positive(params=params, tokens=tokens)
    return tokens / params
