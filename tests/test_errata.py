"""llmbook.errata and tables.static: counts, anchors and escaped static tables."""

from __future__ import annotations

import pandas as pd
import pytest

from llmbook import errata, tables


def test_verdict_counts_lists_every_verdict_in_order():
    claims = pd.DataFrame({"verdict": ["wrong", "correct", "wrong"]})
    counts = errata.verdict_counts(claims)
    assert counts.to_dict() == {"correct": 1, "wrong": 2, "ambiguous": 0, "unsourced": 0}
    assert list(counts.index) == list(errata.VERDICTS)


def test_anchor():
    assert errata.anchor("C07") == "claim-C07"


def test_static_table_escapes_and_anchors_rows():
    frame = pd.DataFrame({"a": ["<b>x</b>", None], "b": [1, 2]})
    html = tables.static(frame, row_ids=["claim-C01", "claim-C02"], caption="c & d").data
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert '<tr id="claim-C01">' in html and '<tr id="claim-C02">' in html
    assert "<td></td>" in html  # the missing value
    assert "c &amp; d" in html


def test_static_table_checks_row_id_count():
    with pytest.raises(ValueError, match="row_ids"):
        tables.static(pd.DataFrame({"a": [1, 2]}), row_ids=["only-one"])
