"""How each parameter-efficient method changes the forward pass, on one small transformer block.

The block is deliberately plain, so that each method's change stands out: single-head causal
self-attention with biases, then a two-layer feed-forward network with biases, each wrapped in a
residual connection (no normalisation)::

    q, k, v = x Wq + bq, x Wk + bk, x Wv + bv
    a = softmax(q kᵀ / √d + causal mask) v Wo + bo;     x' = x + a
    y = x' + gelu(x' W1 + b1) W2 + b2

The frozen weights ``W`` never change; each method adds or selects its own trainable
parameters ``θ`` (counts as in :mod:`llmbook.peft`, for one layer):

* **adapter** (Houlsby et al. 2019, §2.1): a bottleneck ``z + gelu(z Wdown + bdown) Wup + bup``
  applied to each sub-layer's output before the residual sum; ``Wup = 0`` at start.
* **prefix** (Li & Liang 2021): ``n`` trained key/value vectors prepended in the
  attention, produced during training by a small MLP from a smaller matrix (the
  re-parameterisation the authors found stabilises training), kept as plain vectors afterwards.
* **p-tuning-v2** (Liu et al. 2022): the same prefix keys and values, trained directly in every
  layer, without the re-parameterisation.
* **prompt** (Lester et al. 2021): ``n`` trained input embeddings prepended to the sequence.
* **lora** (Hu et al. 2021): ``Wq + s·Aq Bq`` and ``Wv + s·Av Bv`` with ``B = 0`` at start.
* **ia3** (Liu et al. 2022, T-Few §3.3): learned vectors rescaling keys, values and the
  feed-forward activation, ``k ⊙ lk``, ``v ⊙ lv``, ``gelu(·) ⊙ lff``; ones at start.
* **bitfit** (Ben Zaken et al. 2022): only the biases are trained.
* **qlora** (Dettmers et al. 2023): every frozen matrix stored in NF4 with double quantisation
  and read back for the product, with LoRA on every matrix.

:func:`train` fits each method to a target with Adam, with gradients from central finite
differences: slow in general, but exact enough and simple for a block this small, and it needs
no code per method beyond the forward pass.
"""

from __future__ import annotations

import hashlib

import numpy as np

METHODS = ("adapter", "prefix", "p-tuning-v2", "prompt", "lora", "ia3", "bitfit", "qlora")
MATRICES = ("wq", "wk", "wv", "wo", "w1", "w2")
BIASES = ("bq", "bk", "bv", "bo", "b1", "b2")


def gelu(x: np.ndarray) -> np.ndarray:
    """GeLU, tanh approximation (Hendrycks & Gimpel 2016)."""
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def init_block(d: int = 8, f: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random frozen weights of the block: matrices stored (in, out), biases."""
    rng = np.random.default_rng(seed)
    w = {name: rng.standard_normal((d, d)) / np.sqrt(d) for name in ("wq", "wk", "wv", "wo")}
    w["w1"] = rng.standard_normal((d, f)) / np.sqrt(d)
    w["w2"] = rng.standard_normal((f, d)) / np.sqrt(f)
    for name, size in zip(BIASES, (d, d, d, d, f, d), strict=True):
        w[name] = rng.standard_normal(size) * 0.1
    return w


def fingerprint(arrays: dict[str, np.ndarray]) -> str:
    """A short SHA-256 of the arrays' bytes: equal fingerprints mean unchanged weights."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()[:12]


def init_params(
    method: str, frozen: dict[str, np.ndarray], n_virtual: int = 2, rank: int = 2, seed: int = 1
) -> dict[str, np.ndarray]:
    """Trainable parameters of ``method`` for the block, initialised as the papers do."""
    d, f = frozen["w1"].shape
    rng = np.random.default_rng(seed)
    if method == "adapter":
        m = rank
        p = {}
        for where in ("attn", "ffn"):
            p[f"{where}_down"] = rng.standard_normal((d, m)) / np.sqrt(d)
            p[f"{where}_bdown"] = np.zeros(m)
            p[f"{where}_up"] = np.zeros((m, d))  # near-identity start
            p[f"{where}_bup"] = np.zeros(d)
        return p
    if method == "prefix":
        hidden, small = d, d // 2
        return {
            "embed": rng.standard_normal((n_virtual, small)),
            "mlp_w1": rng.standard_normal((small, hidden)) / np.sqrt(small),
            "mlp_b1": np.zeros(hidden),
            "mlp_w2": rng.standard_normal((hidden, 2 * d)) / np.sqrt(hidden),
            "mlp_b2": np.zeros(2 * d),
        }
    if method == "p-tuning-v2":
        return {
            "prefix_k": rng.standard_normal((n_virtual, d)),
            "prefix_v": rng.standard_normal((n_virtual, d)),
        }
    if method == "prompt":
        return {"prompt": rng.standard_normal((n_virtual, d)) * 0.5}
    if method in ("lora", "qlora"):
        targets = ("wq", "wv") if method == "lora" else MATRICES
        p = {}
        for t in targets:
            d_in, d_out = frozen[t].shape
            p[f"{t}_A"] = rng.standard_normal((d_in, rank)) / np.sqrt(d_in)
            p[f"{t}_B"] = np.zeros((rank, d_out))
        return p
    if method == "ia3":
        return {"l_k": np.ones(d), "l_v": np.ones(d), "l_ff": np.ones(f)}
    if method == "bitfit":
        return {name: frozen[name].copy() for name in BIASES}
    raise ValueError(f"unknown method {method!r}; use {', '.join(METHODS)}")


def prefix_kv(params: dict[str, np.ndarray], method: str) -> tuple[np.ndarray, np.ndarray]:
    """The prefix keys and values: from the re-parameterisation MLP (prefix tuning) or the
    trained vectors themselves (P-tuning v2)."""
    if method == "p-tuning-v2":
        return params["prefix_k"], params["prefix_v"]
    h = np.tanh(params["embed"] @ params["mlp_w1"] + params["mlp_b1"])
    kv = h @ params["mlp_w2"] + params["mlp_b2"]
    d = kv.shape[1] // 2
    return kv[:, :d], kv[:, d:]


def quantized_block(frozen: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The frozen weights as QLoRA holds them: every matrix stored in NF4 with double
    quantisation and read back (biases stay in high precision)."""
    from llmbook import nf4

    w = dict(frozen)
    for t in MATRICES:
        w[t] = nf4.nf4_dq_roundtrip(frozen[t]).astype(np.float64)
    return w


def _effective_weights(frozen, method, params, scale):
    w = dict(frozen)
    if method in ("lora", "qlora"):
        for key in params:
            if key.endswith("_A"):
                t = key[:-2]
                w[t] = w[t] + scale * params[f"{t}_A"] @ params[f"{t}_B"]
    if method == "bitfit":
        w.update(params)
    return w


def forward(
    x: np.ndarray,
    frozen: dict[str, np.ndarray],
    method: str | None = None,
    params: dict[str, np.ndarray] | None = None,
    lora_scale: float = 1.0,
    stored: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Output (T, d) of the block for input ``x`` (T, d), adapted by ``method`` (None: plain).
    For ``qlora``, ``stored`` is :func:`quantized_block` of ``frozen`` (computed if omitted)."""
    params = params or {}
    if method == "qlora":
        frozen = quantized_block(frozen) if stored is None else stored
    w = _effective_weights(frozen, method, params, lora_scale)
    T, d = x.shape
    n_prompt = 0
    if method == "prompt":
        x = np.concatenate([params["prompt"], x])
        n_prompt = len(params["prompt"])
    q = x @ w["wq"] + w["bq"]
    k = x @ w["wk"] + w["bk"]
    v = x @ w["wv"] + w["bv"]
    if method == "ia3":
        k, v = k * params["l_k"], v * params["l_v"]
    n_pre = 0
    if method in ("prefix", "p-tuning-v2"):
        pk, pv = prefix_kv(params, method)
        k, v = np.concatenate([pk, k]), np.concatenate([pv, v])
        n_pre = len(pk)
    L = len(q)
    scores = q @ k.T / np.sqrt(d)
    future = np.arange(k.shape[0])[None, :] - n_pre > np.arange(L)[:, None]  # prefix: visible
    scores = np.where(future, -np.inf, scores)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    attn = (p / p.sum(axis=1, keepdims=True)) @ v @ w["wo"] + w["bo"]
    if method == "adapter":
        attn = _adapter(attn, params, "attn")
    x = x + attn
    hidden = gelu(x @ w["w1"] + w["b1"])
    if method == "ia3":
        hidden = hidden * params["l_ff"]
    ffn = hidden @ w["w2"] + w["b2"]
    if method == "adapter":
        ffn = _adapter(ffn, params, "ffn")
    return (x + ffn)[n_prompt:]


def _adapter(z, params, where):
    h = gelu(z @ params[f"{where}_down"] + params[f"{where}_bdown"])
    return z + h @ params[f"{where}_up"] + params[f"{where}_bup"]


def n_params(params: dict[str, np.ndarray]) -> int:
    return int(sum(p.size for p in params.values()))


def numeric_grads(loss, params: dict[str, np.ndarray], eps: float = 1e-6) -> dict:
    """Central finite differences of ``loss()`` with respect to every entry of ``params``."""
    grads = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def train(
    method: str,
    frozen: dict[str, np.ndarray],
    x: np.ndarray,
    target: np.ndarray,
    steps: int = 30,
    lr: float = 0.05,
    seed: int = 1,
) -> dict:
    """Fit ``method`` so that the block maps ``x`` to ``target`` (mean squared error), with
    Adam on finite-difference gradients. Returns the losses, the trainable count, the output at
    initialisation and after, and fingerprints of the frozen weights before and after."""
    from llmbook.lora_train import Adam

    params = init_params(method, frozen, seed=seed)
    before = fingerprint(frozen)
    stored = quantized_block(frozen) if method == "qlora" else None

    def run():
        return forward(x, frozen, method, params, stored=stored)

    def loss():
        return float(np.mean((run() - target) ** 2))

    out0 = run()
    opt, losses = Adam(lr=lr), [loss()]
    for _ in range(steps):
        opt.step(params, numeric_grads(loss, params))
        losses.append(loss())
    return {
        "method": method,
        "trainable": n_params(params),
        "losses": losses,
        "output_at_init": out0,
        "output": run(),
        "frozen_before": before,
        "frozen_after": fingerprint(frozen),
    }


# ----------------------------------------------------------------------------------------------
# Published trainable-parameter counts, for checking the counting formulas of llmbook.peft

#: GPT-3 175B counts of Hu et al. 2021 (Table 4, with the settings of Appendix D.4) and the
#: mt0-large line printed in the Hugging Face PEFT README. ``published`` is the figure as
#: printed (the paper rounds to 0.1M); ``setting`` is what the source states it was counted for.
PUBLISHED_COUNTS = (
    {
        "model": "GPT-3 175B",
        "method": "prompt",
        "setting": "l_p = 256 prefix + l_i = 8 infix tokens (PreEmbed)",
        "published": 3.2e6,
        "digits": 0.1e6,
        "source": "hu2021lora: Table 4 and Appendix D.4",
    },  # noqa: E501
    {
        "model": "GPT-3 175B",
        "method": "lora",
        "setting": "r_q = r_v = 1",
        "published": 4.7e6,
        "digits": 0.1e6,
        "source": "hu2021lora: Table 4 and Appendix D.4",
    },  # noqa: E501
    {
        "model": "GPT-3 175B",
        "method": "lora",
        "setting": "r_v = 2",
        "published": 4.7e6,
        "digits": 0.1e6,
        "source": "hu2021lora: Appendix D.4",
    },  # noqa: E501
    {
        "model": "GPT-3 175B",
        "method": "lora",
        "setting": "r_q = r_v = 8",
        "published": 37.7e6,
        "digits": 0.1e6,
        "source": "hu2021lora: Table 4 and Appendix D.4",
    },  # noqa: E501
    {
        "model": "GPT-3 175B",
        "method": "lora",
        "setting": "r_q = r_k = r_v = r_o = 2",
        "published": 37.7e6,
        "digits": 0.1e6,
        "source": "hu2021lora: Appendix D.4",
    },  # noqa: E501
    {
        "model": "GPT-3 175B",
        "method": "prefix-layer",
        "setting": "l_p = l_i = 8 (PreLayer)",
        "published": 20.2e6,
        "digits": 0.1e6,
        "source": "hu2021lora: Table 4 and Appendix D.4",
    },  # noqa: E501
    {
        "model": "mt0-large",
        "method": "lora",
        "setting": "r = 8 on q and v",
        "published": 2_359_296,
        "digits": 1,
        "source": "huggingface2023peft: README, get_peft_model example",
    },  # noqa: E501
)


def published_checks(gpt3, mt0) -> list[dict]:
    """Each published count next to the count of :mod:`llmbook.peft` for the stated setting,
    ``gpt3`` and ``mt0`` being the two models' :class:`~llmbook.architecture.Shape`. PreLayer
    uses the paper's own formula L·d_model·(l_p + l_i) (§5.1), which is
    :func:`llmbook.peft.prompt_params` once per layer."""
    from llmbook import peft

    ours = [
        peft.prompt_params(gpt3, 256 + 8),
        peft.lora_params(gpt3, 1, ("q", "v")),
        peft.lora_params(gpt3, 2, ("v",)),
        peft.lora_params(gpt3, 8, ("q", "v")),
        peft.lora_params(gpt3, 2, ("q", "k", "v", "o")),
        gpt3.layers * peft.prompt_params(gpt3, 8 + 8),
        peft.lora_params(mt0, 8, ("q", "v")),
    ]
    rows = []
    for row, count in zip(PUBLISHED_COUNTS, ours, strict=True):
        agrees = abs(count - row["published"]) <= row["digits"] / 2
        rows.append({**row, "computed": count, "agrees": agrees})
    return rows
