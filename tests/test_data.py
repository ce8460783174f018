"""The data itself: the source article's models are all there, and every source resolves."""

from __future__ import annotations

import re

import pytest

from llmbook import catalog

#: The source article's two tables (../shared/source/, "基座模型" and "微调模型"), by the names
#: the article uses, mapped to the catalog rows that stand for them.
ARTICLE_BASE_MODELS = {
    "T5": ["T5-11B"],
    "GPT-3": ["GPT-3 175B"],
    "CPM1": ["CPM 2.6B"],
    "LaMDA": ["LaMDA 137B"],
    "CPM2": ["CPM-2 11B", "CPM-2 198B MoE"],
    "Jurassic": ["Jurassic-1 Jumbo 178B"],
    "MT-NLG": ["MT-NLG 530B"],
    "ERNIE 3.0": ["ERNIE 3.0 10B", "ERNIE 3.0 Titan 260B"],
    "Gopher": ["Gopher-280B"],
    "Chinchilla": ["Chinchilla-70B"],
    "PaLM": ["PaLM-540B"],
    "OPT": ["OPT-175B"],
    "BLOOM": ["BLOOM-176B"],
    "GLM-130B": ["GLM-130B"],
    "Wenzhong": ["Wenzhong2.0-GPT2-3.5B"],
    "LLaMA": ["LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B"],
    "MOSS": ["moss-moon-003-base"],
}
ARTICLE_TUNED_MODELS = {
    "GPT-3.5": ["GPT-3.5"],
    "FLAN": ["FLAN 137B"],
    "T0": ["T0 11B"],
    "Flan-PaLM": ["Flan-PaLM 540B"],
    "BLOOMZ": ["BLOOMZ 176B"],
    "mT0": ["mT0-XXL 13B"],
    "ChatGPT": ["ChatGPT"],
    "Alpaca": ["Alpaca 7B"],
    "ChatGLM": ["ChatGLM-6B"],
    "GPT-4": ["GPT-4"],
    "ERNIE Bot": ["ERNIE Bot"],
    "Bard": ["Bard"],
    "MOSS": ["moss-moon-003-sft"],
}


@pytest.fixture(scope="module")
def models(request):
    from conftest import ROOT

    return catalog.load("models", ROOT / "data").set_index("model")


@pytest.mark.parametrize("article_name,rows", sorted(ARTICLE_BASE_MODELS.items()))
def test_article_base_models_present_as_pretrained(models, article_name, rows):
    for row in rows:
        assert row in models.index, f"{article_name}: no row {row!r}"
        assert models.loc[row, "stage"] == "pretrained"


@pytest.mark.parametrize("article_name,rows", sorted(ARTICLE_TUNED_MODELS.items()))
def test_article_tuned_models_present_as_tuned(models, article_name, rows):
    for row in rows:
        assert row in models.index, f"{article_name}: no row {row!r}"
        assert models.loc[row, "stage"] in ("instruction-tuned", "chat")


def test_every_source_key_is_in_the_bibliography(root):
    bib = (root / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"@\w+\{([^,\s]+),", bib))
    for table in catalog.table_names(root / "data"):
        frame = catalog.load(table, root / "data")
        cited = {k for cell in frame["source"] for k in catalog.source_keys(cell)}
        assert cited - keys == set(), f"{table} cites keys missing from references.bib"


def test_every_bibliography_entry_has_a_url_or_doi(root):
    bib = (root / "book" / "references.bib").read_text(encoding="utf-8")
    for entry in re.split(r"\n(?=@)", bib):
        if entry.strip().startswith("@"):
            assert re.search(r"\b(url|doi)\s*=", entry), entry.splitlines()[0]


def test_bibliography_has_no_duplicate_keys(root):
    bib = (root / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"@\w+\{([^,\s]+),", bib)
    assert len(keys) == len(set(keys))


def test_basis_columns_are_filled_exactly_when_the_value_is(models):
    for value, basis in [("params", "params_basis"), ("train_tokens", "train_tokens_basis")]:
        mismatched = models.index[models[value].isna() != models[basis].isna()].tolist()
        assert mismatched == [], f"{basis} must be filled exactly when {value} is"


def test_tuned_models_are_not_larger_than_their_base(models):
    tuned = models[models["base_model"].notna()]
    for name, row in tuned.iterrows():
        base = models.loc[row["base_model"]]
        if pd_notna(row["params"]) and pd_notna(base["params"]):
            assert row["params"] <= base["params"] * 1.05, name


def pd_notna(value) -> bool:
    import pandas as pd

    return not pd.isna(value)


#: Fields sphinxcontrib-bibtex's default style needs per entry type (a missing one is a warning,
#: and the strict build turns warnings into failures).
REQUIRED_BIB_FIELDS = {
    "article": ("title", "journal", "year"),
    "inproceedings": ("title", "booktitle", "year"),
    "techreport": ("title", "institution", "year"),
    "misc": ("title",),
}


def test_bibliography_entries_have_the_fields_their_type_needs(root):
    from pybtex.database import parse_file

    database = parse_file(str(root / "book" / "references.bib"))
    missing = []
    for key, entry in database.entries.items():
        for field in REQUIRED_BIB_FIELDS.get(entry.type, ("title",)):
            if field not in entry.fields:
                missing.append(f"{key} ({entry.type}): {field}")
    assert missing == []


#: Open models that matter for a Chinese chat model after the article (issue: the data package).
LATER_OPEN_MODELS = [
    "Llama-2-7B", "Llama-2-70B", "Meta-Llama-3-8B", "Llama-3.1-405B", "Qwen-7B", "Qwen1.5-7B",
    "Qwen2-7B", "Qwen2.5-7B", "Baichuan-7B", "Baichuan2-7B-Base", "ChatGLM-6B", "ChatGLM2-6B",
    "ChatGLM3-6B", "GLM-4-9B", "InternLM-7B", "InternLM2-7B", "Yi-6B", "DeepSeek-LLM-7B-Base",
    "DeepSeek-V2", "DeepSeek-V3", "Mistral-7B", "Mixtral-8x7B",
]  # fmt: skip


def test_later_open_models_are_present_and_open(models):
    missing = [m for m in LATER_OPEN_MODELS if m not in models.index]
    assert missing == []
    assert models.loc[LATER_OPEN_MODELS, "open_weights"].all()


def test_catalog_sizes(root):
    data = root / "data"
    assert len(catalog.load("models", data)) >= 55
    assert len(catalog.load("claims", data)) >= 25
    opt = catalog.load("architectures", data)["model"].str.startswith("OPT-").sum()
    assert opt == 9  # the whole OPT suite, 125M to 175B


def test_every_source_item_names_a_key_and_a_location(root):
    bad = []
    for table in catalog.table_names(root / "data"):
        for cell in catalog.load(table, root / "data")["source"]:
            for item in cell.split(catalog.SOURCE_SEPARATOR):
                if not re.fullmatch(r"[a-z0-9_-]+: \S.*", item.strip()):
                    bad.append(f"{table}: {item!r}")
    assert bad == []


def test_runs_with_a_setup_say_who_reported_it(root):
    runs = catalog.load("training_runs", root / "data")
    has_setup = runs[["chip_count", "days", "chip_hours"]].notna().any(axis=1)
    assert (runs["setup_basis"].notna() == has_setup).all()
