"""Rebuild the Chinese genre texts ``data/texts/zh-<genre>.txt`` from the registry packages.

Run by hand, once, when a text is to be refreshed (the book reads the committed files and needs
no network). Fetch the four packages with their ordinary clients into one folder first::

    mkdir -p /tmp/zh && cd /tmp/zh
    npm pack chinese-poetry@2.0.1                                   # MIT
    pip download --no-deps chatterbot-corpus==1.2.0                 # BSD-3-Clause
    pip download --no-deps --no-binary :all: pypinyin==0.55.0       # MIT
    pip download --no-deps --no-binary :all: jieba==0.42.1          # MIT
    apt-get download debian-faq-zh-cn=11.1                          # SPI's FAQ licence

then ``python scripts/extract_zh_corpus.py /tmp/zh``. The selection rules are those of
``data/texts/README.md``; each output file holds one paragraph, poem line or utterance a line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

CJK = re.compile(r"[\u4e00-\u9fff]")
#: CJK characters and full-width punctuation: a space between two of them is a line wrap.
WIDE = r"[\u3000-\u9fff\uff00-\uffef]"
#: Stop adding units to a genre once it holds this many CJK characters.
TARGET_CHARS = 1500
OUT = Path(__file__).resolve().parents[1] / "data" / "texts"


def _cjk(text: str) -> int:
    return len(CJK.findall(text))


def _take(units: list[str]) -> list[str]:
    """Units in order until TARGET_CHARS CJK characters are reached."""
    out, total = [], 0
    for unit in units:
        if total >= TARGET_CHARS:
            break
        out.append(unit)
        total += _cjk(unit)
    return out


def poetry(folder: Path) -> list[str]:
    """The first poems of chinese-poetry's 水墨唐诗 (Tang poems, simplified), one line a couplet."""
    with tarfile.open(folder / "chinese-poetry-2.0.1.tgz") as tar:
        member = tar.extractfile("package/dist/shuimotangshi/shuimotangshi.json")
        poems = json.load(member)
    lines: list[str] = []
    total = 0
    for poem in poems:
        if total >= TARGET_CHARS:
            break
        lines += poem["paragraphs"]
        total += _cjk("".join(poem["paragraphs"]))
    return lines


def dialogue(folder: Path) -> list[str]:
    """Utterances of chatterbot-corpus's Chinese conversation files, each kept once, in order."""
    import yaml

    utterances: list[str] = []
    with zipfile.ZipFile(folder / "chatterbot_corpus-1.2.0-py2.py3-none-any.whl") as wheel:
        for name in ("conversations", "greetings", "emotion", "food", "gossip"):
            data = yaml.safe_load(wheel.read(f"chatterbot_corpus/data/chinese/{name}.yml"))
            for conversation in data["conversations"]:
                utterances += [str(u).strip() for u in conversation]
    unique = [u for u in dict.fromkeys(utterances) if _cjk(u)]
    return _take(unique)


def _rst_inline(text: str) -> str:
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`__?", r"\1", text)  # `text <url>`__ -> text
    text = re.sub(r"`([^`]+)`_+", r"\1", text)  # `ref`_ -> ref
    text = re.sub(r"``([^`]+)``", r"\1", text)  # ``code`` -> code
    return re.sub(r"\*\*([^*]+)\*\*", r"\1", text)  # **bold** -> bold


def technical(folder: Path) -> list[str]:
    """Paragraphs of pypinyin's README (reStructuredText) with CJK text, literal blocks left out."""
    with tarfile.open(folder / "pypinyin-0.55.0.tar.gz") as tar:
        readme = tar.extractfile("pypinyin-0.55.0/README.rst").read().decode("utf-8")
    blocks = re.split(r"\n\s*\n", readme)
    paragraphs, literal = [], False
    for block in blocks:
        lines = block.split("\n")
        indented = all(not line or line.startswith((" ", "\t")) for line in lines)
        if literal and indented and not lines[0].lstrip().startswith(("*", "-")):
            continue  # the body of a literal or code block
        literal = block.rstrip().endswith("::") or ".. code-block::" in block
        if block.lstrip().startswith(".."):
            continue
        kept = [ln.strip() for ln in lines if not re.fullmatch(r"\s*[-=~^+*#]{3,}\s*", ln)]
        # one paragraph a line; a bullet item starts a new line
        joined = re.sub(r"\n(?![*-] )", "", "\n".join(kept))
        for text in joined.split("\n"):
            text = _rst_inline(text).removesuffix("::").strip()
            if _cjk(text):
                paragraphs.append(text)
    return paragraphs


def _jieba_description(folder: Path) -> list[str]:
    """The Chinese lines of jieba's package description (PKG-INFO of its sdist)."""
    with tarfile.open(folder / "jieba-0.42.1.tar.gz") as tar:
        info = tar.extractfile("jieba-0.42.1/PKG-INFO").read().decode("utf-8")
    description = info.split("Description:", 1)[1].split("\nKeywords:", 1)[0]
    lines = [re.sub(r"^-\s+", "", ln.strip()) for ln in description.split("\n")]
    return [_rst_inline(ln) for ln in lines if _cjk(ln) and not ln.startswith(("=", "GitHub"))]


def technical_texts(folder: Path) -> list[str]:
    """pypinyin's README paragraphs, then jieba's description, up to TARGET_CHARS."""
    return _take(technical(folder) + _jieba_description(folder))


def expository(folder: Path) -> list[str]:
    """Paragraphs of the Debian FAQ's chapter 1, "Definitions and overview", in Chinese."""
    from bs4 import BeautifulSoup

    deb = next(folder.glob("debian-faq-zh-cn_*_all.deb"))
    data = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True
    ).stdout
    import io

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        html = tar.extractfile("./usr/share/doc/debian/FAQ/zh-cn/basic-defs.zh-cn.html").read()
    soup = BeautifulSoup(html.decode("utf-8"), "html.parser")
    body = soup.find("div", class_="chapter") or soup
    paragraphs = []
    for p in body.find_all("p"):
        text = re.sub(r"\s+", " ", p.get_text()).strip()
        # a wrapped line inside a Chinese sentence leaves a space between two CJK characters
        text = re.sub(
            r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text
        )
        if _cjk(text) >= 10:
            paragraphs.append(text)
    return _take(paragraphs)


def main(folder: str) -> None:
    src = Path(folder)
    for genre, build in (("expository", expository), ("poetry", poetry),
                         ("dialogue", dialogue), ("technical", technical_texts)):  # fmt: skip
        units = build(src)
        path = OUT / f"zh-{genre}.txt"
        path.write_text("\n".join(units) + "\n", encoding="utf-8")
        print(f"{path.name}: {len(units)} lines, {_cjk(''.join(units))} CJK characters")


if __name__ == "__main__":
    main(sys.argv[1])
