"""llmbook.smollm: the numpy LLaMA forward pass of SmolLM2-135M-Instruct.

The reference logits in tests/data/smollm/ come from Hugging Face transformers (PyTorch) reading
the same GGUF file; tests/data/smollm/README.md says how they were made.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmbook import smollm

REFERENCE = Path(__file__).parent / "data" / "smollm" / "reference.npz"


@pytest.fixture(scope="module")
def model() -> smollm.Model:
    return smollm.Model.load()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def full_logits(model, reference) -> np.ndarray:
    return model.logits(reference["ids"])


# -- hyper-parameters ---------------------------------------------------------------------------


def test_config_read_from_metadata(model):
    cfg = model.config
    shape = (cfg.n_layer, cfg.d_model, cfg.n_head, cfg.n_kv_head, cfg.head_dim, cfg.d_ff)
    assert shape == (30, 576, 9, 3, 64, 1536)
    assert (cfg.vocab_size, cfg.rope_base, cfg.rope_dim) == (49152, 100_000.0, 64)
    assert cfg.rms_eps == pytest.approx(1e-5)
    assert len(model.weights.layers) == cfg.n_layer
    assert model.weights.tok_emb.dtype == np.float32


# -- building blocks on small arrays ------------------------------------------------------------


def test_rms_norm_hand_computed():
    x = np.array([[3.0, 4.0], [1.0, -1.0]], dtype=np.float32)
    w = np.array([1.0, 2.0], dtype=np.float32)
    # rms([3, 4]) = sqrt(12.5); rms([1, -1]) = 1
    expected = np.array([[3 / 12.5**0.5, 8 / 12.5**0.5], [1.0, -2.0]], dtype=np.float32)
    np.testing.assert_allclose(smollm.rms_norm(x, w, eps=0.0), expected, rtol=1e-6)
    # eps is added to the mean square: rms([1, -1]) with eps 3 is 2
    np.testing.assert_allclose(smollm.rms_norm(x[1:], w, eps=3.0), [[0.5, -1.0]], rtol=1e-6)


def test_rope_angles_hand_computed():
    cos, sin = smollm.rope_angles(np.array([0, 1, 2]), dim=4, base=100.0)
    # frequencies base**(-2i/dim) = 1, 0.1
    angles = np.array([[0, 0], [1, 0.1], [2, 0.2]])
    np.testing.assert_allclose(cos, np.cos(angles), rtol=1e-6)
    np.testing.assert_allclose(sin, np.sin(angles), rtol=1e-6)
    x = np.array([[[1.0, 0.0, 0.0, 2.0]]], dtype=np.float32)  # one position, one head
    c, s = smollm.rope_angles(np.array([1]), dim=4, base=100.0)
    # interleaved pairs (x0, x1) = (1, 0) by 1 rad, (x2, x3) = (0, 2) by 0.1 rad
    expected = [np.cos(1), np.sin(1), -2 * np.sin(0.1), 2 * np.cos(0.1)]
    np.testing.assert_allclose(smollm.apply_rope(x, c, s)[0, 0], expected, rtol=1e-6)
    # halves pairs (x0, x2) = (1, 0) by 1 rad, (x1, x3) = (0, 2) by 0.1 rad
    expected = [np.cos(1), -2 * np.sin(0.1), np.sin(1), 2 * np.cos(0.1)]
    got = smollm.apply_rope(x, c, s, smollm.ROPE_HALVES)[0, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("layout", [smollm.ROPE_INTERLEAVED, smollm.ROPE_HALVES])
def test_rope_keeps_norms_and_is_relative(layout):
    rng = np.random.default_rng(0)
    dim, base = 64, 100_000.0
    q = rng.standard_normal((1, 1, dim)).astype(np.float32)
    k = rng.standard_normal((1, 1, dim)).astype(np.float32)

    def at(x, position):
        cos, sin = smollm.rope_angles(np.array([position]), dim, base)
        return smollm.apply_rope(x, cos, sin, layout)

    np.testing.assert_allclose(at(q, 0), q)  # position 0 is the identity
    for position in (1, 7, 1000):
        np.testing.assert_allclose(np.linalg.norm(at(q, position)), np.linalg.norm(q), rtol=1e-5)

    def score(m, n):
        return float(np.sum(at(q, m) * at(k, n)))

    # the score depends only on the offset m - n ...
    for offset in (0, 3, -5, 40):
        scores = [score(n + offset, n) for n in (0, 10, 123, 900) if n + offset >= 0]
        np.testing.assert_allclose(scores, scores[0], rtol=1e-4, atol=1e-4)
    # ... and does change with it
    assert abs(score(3, 0) - score(0, 0)) > 1e-2


def test_interleaved_rope_is_halves_rope_after_the_gguf_permutation():
    """llama.cpp's converter permutes the rows of q_proj/k_proj of each head so that rows
    ``i`` and ``i + d/2`` become ``2i`` and ``2i + 1``; rotating adjacent pairs of the permuted
    vector is rotating halves of the original, permuted the same way."""
    rng = np.random.default_rng(1)
    T, heads, dim = 5, 3, 8
    x = rng.standard_normal((T, heads, dim)).astype(np.float32)
    perm = np.arange(dim).reshape(2, dim // 2).T.reshape(-1)  # [0, 4, 1, 5, 2, 6, 3, 7]
    cos, sin = smollm.rope_angles(np.arange(10, 10 + T), dim, 10_000.0)
    interleaved = smollm.apply_rope(x[..., perm], cos, sin, smollm.ROPE_INTERLEAVED)
    halves = smollm.apply_rope(x, cos, sin, smollm.ROPE_HALVES)[..., perm]
    np.testing.assert_allclose(interleaved, halves, rtol=1e-6)


def test_attention_is_causal_and_grouped():
    rng = np.random.default_rng(2)
    T, n_head, n_kv, hd = 4, 6, 2, 8
    q = rng.standard_normal((T, n_head, hd)).astype(np.float32)
    k = rng.standard_normal((n_kv, T, hd)).astype(np.float32)
    v = rng.standard_normal((n_kv, T, hd)).astype(np.float32)
    out = smollm.attention(q, k, v, start=0).reshape(T, n_head, hd)
    # the first position sees only itself: its output is its own value vector
    np.testing.assert_allclose(out[0], v[np.arange(n_head) // 3, 0], rtol=1e-6)
    # a loop over heads, with head h reading kv head h // 3 and an explicit mask
    for h in range(n_head):
        kh, vh = k[h // 3], v[h // 3]
        scores = q[:, h] @ kh.T / np.sqrt(hd) + np.triu(np.full((T, T), -np.inf), 1)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        np.testing.assert_allclose(out[:, h], probs @ vh, rtol=1e-5, atol=1e-6)


# -- the whole model against an independent implementation -------------------------------------


def test_tokenizer_gives_the_reference_ids(model, reference):
    assert model.encode(str(reference["prompt"])) == reference["ids"].tolist()
    assert str(reference["prompt"]) == smollm.chat_prompt(
        [{"role": "user", "content": "What is the capital of France? Answer in 12 words."}]
    )


def test_logits_match_transformers(full_logits, reference):
    """Max abs difference within 1e-3: the whole last position, and each position's top 50."""
    last = np.abs(full_logits[-1] - reference["last_logits"]).max()
    assert last < 1e-3, f"last position differs by {last}"
    ours = np.take_along_axis(full_logits, reference["top_ids"].astype(np.int64), axis=-1)
    top = np.abs(ours - reference["top_logits"]).max()
    assert top < 1e-3, f"top-50 logits differ by {top}"


def test_rotate_half_would_not_match(model, reference):
    """The GGUF weights need the interleaved rotation: rotating halves is far off."""
    halves = smollm.Model(model.weights, model.path, rope=smollm.ROPE_HALVES)
    last = halves.step(reference["ids"], halves.new_cache())[-1]
    assert np.abs(last - reference["last_logits"]).max() > 1.0


# -- KV cache and decoding ----------------------------------------------------------------------


def test_kv_cache_one_token_at_a_time(model, reference, full_logits):
    """Prefill, then one token per step (as generation does): the same logits as the full
    forward pass, to 1e-4."""
    ids = reference["ids"].tolist()
    cache = model.new_cache()
    prefix = len(ids) - 8
    parts = [model.step(ids[:prefix], cache)]
    parts += [model.step([token], cache) for token in ids[prefix:]]
    assert cache.length == len(ids)
    incremental = np.concatenate(parts)
    assert incremental.shape == full_logits.shape
    assert np.abs(incremental - full_logits).max() < 1e-4


def test_kv_cache_chunked_prefill(model, reference, full_logits):
    ids = reference["ids"].tolist()
    cache = model.new_cache()
    parts = [model.step(ids[a : a + 10], cache) for a in range(0, len(ids), 10)]
    assert np.abs(np.concatenate(parts) - full_logits).max() < 1e-4


def test_future_tokens_do_not_change_the_past(model, reference, full_logits):
    ids = reference["ids"].tolist()
    changed = model.logits(ids[:20] + [42] * 5)
    assert np.abs(changed[:20] - full_logits[:20]).max() < 1e-4
    assert np.abs(changed[20:] - full_logits[20:25]).max() > 1.0


def test_chat_prompt_follows_the_gguf_template(model):
    jinja2 = pytest.importorskip("jinja2")
    template = jinja2.Template(model.config.chat_template)
    conversations = [
        [{"role": "user", "content": "Hi"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "and 3+3?"},
        ],
    ]
    for messages in conversations:
        for add in (True, False):
            expected = template.render(messages=messages, add_generation_prompt=add)
            assert smollm.chat_prompt(messages, add_generation_prompt=add) == expected


def test_generate_paris(model):
    result = model.generate("What is the capital of France?", max_tokens=16)
    assert "Paris" in result["text"]
    assert result["tokens"] and not model.stop_ids & set(result["tokens"])
    assert len(result["tokens"]) < 16  # it stopped at the end of its turn
    assert model.decode(result["tokens"]) == result["text"]
    assert result["seconds"] > 0


def test_generate_reports_its_stages_to_a_progress_callback(model):
    calls = []
    result = model.generate("Hi", max_tokens=3, progress=lambda *c: calls.append(c))
    assert calls[0] == ("prefill", 0, result["prompt_tokens"])
    assert calls[1:] == [("decode", n, 3) for n in range(1, len(result["tokens"]) + 1)]
    assert 0 < result["prefill_seconds"] <= result["seconds"]


def test_generate_is_greedy_and_bounded(model, reference, full_logits):
    # without the chat template the prompt is taken as it is; the first token is the argmax
    result = model.generate(str(reference["prompt"]), max_tokens=3, chat=False)
    assert len(result["tokens"]) == 3
    assert result["tokens"][0] == int(np.argmax(full_logits[-1]))


# -- the on-disk float32 cache ------------------------------------------------------------------


@pytest.fixture(scope="module")
def gguf_copy(tmp_path_factory) -> Path:
    """The model file copied to a fresh folder, so its weight cache starts empty."""
    import shutil

    from llmbook import assets

    target = tmp_path_factory.mktemp("gguf") / "model.gguf"
    shutil.copyfile(assets.path(smollm.ASSET), target)
    return target


@pytest.fixture(scope="module")
def dequantised(gguf_copy) -> smollm.Weights:
    return smollm.dequantise_gguf(gguf_copy)


@pytest.fixture
def tiny_gguf(tmp_path) -> Path:
    """A two-block LLaMA GGUF (d = 8, vocabulary 16) written with the gguf package: the weight
    cache's damage checks need a real file, not SmolLM2's 540 MB of float32 per case."""
    import gguf

    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    d, n_head, n_kv, d_ff, vocab = 8, 2, 1, 12, 16
    kv = n_kv * d // n_head
    writer.add_block_count(2)
    writer.add_embedding_length(d)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_feed_forward_length(d_ff)
    writer.add_context_length(32)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    writer.add_token_list([f"t{i}" for i in range(vocab)])
    writer.add_token_types([3, 3] + [1] * (vocab - 2))  # 3 = control
    shapes = {"token_embd.weight": (vocab, d), "output_norm.weight": (d,)}
    for i in range(2):
        shapes.update({
            f"blk.{i}.attn_norm.weight": (d,), f"blk.{i}.ffn_norm.weight": (d,),
            f"blk.{i}.attn_q.weight": (d, d), f"blk.{i}.attn_k.weight": (kv, d),
            f"blk.{i}.attn_v.weight": (kv, d), f"blk.{i}.attn_output.weight": (d, d),
            f"blk.{i}.ffn_gate.weight": (d_ff, d), f"blk.{i}.ffn_up.weight": (d_ff, d),
            f"blk.{i}.ffn_down.weight": (d, d_ff),
        })  # fmt: skip
    for name, shape in shapes.items():
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _arrays_equal(a: smollm.Weights, b: smollm.Weights) -> bool:
    pairs = zip(smollm._named_arrays(a), smollm._named_arrays(b), strict=True)
    return (
        a.config == b.config
        and a.control_ids == b.control_ids
        and all(n == m and x.shape == y.shape and np.array_equal(x, y) for (n, x), (m, y) in pairs)
    )


def _damage(gguf: Path, damage: str) -> None:
    data, manifest = smollm.weight_cache_paths(gguf)
    if damage == "flip a byte":
        with open(data, "r+b") as handle:
            handle.seek(data.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, 1)
            handle.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "truncate":
        with open(data, "r+b") as handle:
            handle.truncate(data.stat().st_size // 2)
    elif damage == "manifest":
        manifest.write_text("{not json", encoding="utf-8")


def test_weight_cache_round_trips_and_loads_fast(gguf_copy, dequantised):
    import time

    from llmbook import assets

    digest = assets.file_sha256(gguf_copy)
    assert smollm.read_weight_cache(gguf_copy, digest) is None  # nothing cached yet
    smollm.write_weight_cache(gguf_copy, digest, dequantised)
    start = time.perf_counter()
    cached = smollm.read_weight_cache(gguf_copy, digest)
    seconds = time.perf_counter() - start
    assert cached is not None and _arrays_equal(dequantised, cached)
    assert all(a.flags.c_contiguous for _, a in smollm._named_arrays(cached))
    assert seconds < 1.0, f"reading the cache took {seconds:.2f} s"
    cached.layers[0].wo[0, 0] += 1.0  # copy-on-write: the file is not changed
    assert _arrays_equal(dequantised, smollm.read_weight_cache(gguf_copy, digest))


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "manifest", "other file"])
def test_a_corrupted_or_stale_weight_cache_is_detected(tiny_gguf, damage):
    from llmbook import assets

    digest = assets.file_sha256(tiny_gguf)
    smollm.write_weight_cache(tiny_gguf, digest, smollm.dequantise_gguf(tiny_gguf))
    assert smollm.read_weight_cache(tiny_gguf, digest) is not None  # intact, it is read
    _damage(tiny_gguf, damage)
    if damage == "other file":  # a cache made for another GGUF file (the asset was updated)
        digest = "0" * 64
    assert smollm.read_weight_cache(tiny_gguf, digest) is None


def test_a_damaged_weight_cache_is_rebuilt_on_load(tiny_gguf):
    from llmbook import assets

    digest = assets.file_sha256(tiny_gguf)
    dequantised = smollm.dequantise_gguf(tiny_gguf)
    smollm.write_weight_cache(tiny_gguf, digest, dequantised)
    _damage(tiny_gguf, "flip a byte")
    assert smollm.read_weight_cache(tiny_gguf, digest) is None
    smollm.load_gguf.cache_clear()
    rebuilt = smollm.load_gguf(tiny_gguf)  # detects the damage, dequantises, rewrites
    assert _arrays_equal(rebuilt, dequantised)
    assert _arrays_equal(smollm.read_weight_cache(tiny_gguf, digest), dequantised)
