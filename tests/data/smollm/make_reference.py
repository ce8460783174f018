"""Make reference.npz: SmolLM2-135M-Instruct logits from Hugging Face transformers (PyTorch).

An implementation independent of ``llmbook.smollm``: transformers reads the GGUF file itself,
dequantises it, undoes llama.cpp's Q/K row permutation and runs its own LlamaForCausalLM
(rotate-half RoPE) in float32 on the CPU. Run it in a throw-away venv, not the project's:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 transformers==5.24.0 gguf==0.19.0 accelerate==1.15.0
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tests/data/smollm/make_reference.py \
        /path/to/SmolLM2-135M-Instruct.Q4_1.gguf tests/data/smollm/reference.npz
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in 12 words."}]
TOP_K = 50


def main(gguf_path: str, out: str) -> None:
    path = Path(gguf_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == SHA256, f"{path} has sha256 {digest}, expected {SHA256}"
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    )
    model.eval()
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()  # (T, vocab)
    top = np.argsort(-logits, axis=-1)[:, :TOP_K]
    np.savez_compressed(
        out,
        prompt=np.array(text),
        ids=np.array(ids, dtype=np.int32),
        top_ids=top.astype(np.int32),  # (T, TOP_K): each position's highest logits
        top_logits=np.take_along_axis(logits, top, axis=-1).astype(np.float32),
        last_logits=logits[-1].astype(np.float32),  # (vocab,): the whole last position
        versions=np.array(
            f"torch=={torch.__version__} transformers=={transformers.__version__} "
            f"numpy=={np.__version__} python=={sys.version.split()[0]}"
        ),
    )
    print(text, ids, logits.shape, Path(out).stat().st_size, "bytes")
    print("greedy next token:", tokenizer.decode([int(logits[-1].argmax())]))


if __name__ == "__main__":
    main(*sys.argv[1:])
