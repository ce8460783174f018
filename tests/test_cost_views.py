"""llmbook.cost_views: chip time, utilisation and FLOP counts, on hand-made rows and the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from llmbook import catalog, compute  # noqa: E402
from llmbook import cost_views as cv  # noqa: E402

OPT_TABLE = "text: OPT vs GPT-3 table"
ARTICLE_CHIPS = {"OPT-175B": "A100 80GB", "GPT-3 175B": "V100 32GB"}


@pytest.fixture(scope="module")
def data():
    return {
        name: catalog.load(name)
        for name in ("training_runs", "models", "architectures", "hardware", "claims")
    }


def _run(**cells) -> pd.Series:
    base = {
        "run": "R",
        "model": "M",
        "chip": pd.NA,
        "chip_count": pd.NA,
        "days": pd.NA,
        "chip_hours": pd.NA,
        "setup_basis": pd.NA,
        "reported_flops": pd.NA,
        "start": pd.NaT,
        "end": pd.NaT,
    }
    return pd.Series({**base, **cells})


def test_dense_peak_prefers_bf16_and_falls_back_to_fp16():
    assert cv.dense_peak(pd.Series({"bf16_tflops_dense": 312.0, "fp16_tflops_dense": 312.0})) == (
        312e12,
        "bf16_tflops_dense",
    )
    assert cv.dense_peak(pd.Series({"bf16_tflops_dense": pd.NA, "fp16_tflops_dense": 125.0})) == (
        125e12,
        "fp16_tflops_dense",
    )
    assert (
        cv.dense_peak(pd.Series({"bf16_tflops_dense": pd.NA, "fp16_tflops_dense": pd.NA})) is None
    )


def test_v100_peak_comes_from_the_fp16_column(data):
    hardware = data["hardware"].set_index("chip")
    for chip in ("V100 16GB", "V100 32GB"):
        assert cv.dense_peak(hardware.loc[chip]) == (125e12, "fp16_tflops_dense")


def test_six_nd_and_the_models_it_refuses():
    dense = pd.Series({"params": 7e9, "train_tokens": 1e12, "moe": False, "architecture": "x"})
    assert cv.six_nd(dense) == (6 * 7e9 * 1e12, "")
    assert cv.six_nd(dense.copy().replace({7e9: pd.NA}))[0] is None
    moe = dense.copy()
    moe["moe"] = True
    assert "active" in cv.six_nd(moe)[1]
    encdec = dense.copy()
    encdec["architecture"] = "encoder-decoder"
    assert cv.six_nd(encdec)[0] is None


def test_days_from_cells_or_dates():
    assert cv.run_days(_run(days=21.0)) == (21.0, "days")
    dated = _run(start=pd.Timestamp("2022-05-06"), end=pd.Timestamp("2022-07-03"))
    assert cv.run_days(dated) == (58.0, "dates")
    assert cv.run_days(_run()) == (None, "")


def test_chip_hours_prefer_the_reported_cell():
    assert cv.run_chip_hours(_run(chip_hours=100.0, chip_count=8, days=1.0)) == (
        100.0,
        "reported",
    )
    assert cv.run_chip_hours(_run(chip_count=8, days=2.0)) == (8 * 48.0, "chips × days")
    assert cv.run_chip_hours(_run(chip_count=8)) == (None, "")


def test_mfu_from_chip_hours_is_implied_mfu():
    # 1e20 FLOPs in 100 chip-hours at 1e14 FLOP/s peak: 1e20 / (1e14 * 360000) = 0.2778.
    assert cv.mfu_from_chip_hours(1e20, 100, 1e14) == pytest.approx(1e20 / (1e14 * 360_000))
    assert cv.mfu_from_chip_hours(1e20, 100, 1e14) == pytest.approx(
        compute.implied_mfu(1e20, 10, 1e14, 10 * 3600)
    )


def test_llama65b_utilisation_from_reported_gpu_hours(data):
    # Touvron et al. 2023: 1,022,362 A100-hours for 6 x 65.2e9 x 1.4e12 FLOPs: about 47.7% of
    # the 312 TFLOP/s BF16 peak, close to the throughput-based 47% of the formulas appendix.
    table = cv.chip_time(data["training_runs"], data["models"], data["hardware"])
    row = table.loc["LLaMA-65B pre-training"]
    assert row["chip-hours basis"] == "reported"
    assert row["MFU (6ND)"] == pytest.approx(6 * 65.2e9 * 1.4e12 / (312e12 * 1022362 * 3600))
    assert row["HFU if recomputed"] == pytest.approx(row["MFU (6ND)"] * 8 / 6)


def test_chip_time_names_what_is_missing(data):
    table = cv.chip_time(
        data["training_runs"],
        data["models"],
        data["hardware"],
        {"GPT-3 175B pre-training": "V100 32GB"},
    )
    assert table.loc["GPT-3 175B pre-training", "chip"] == "V100 32GB"
    assert table.loc["GPT-3 175B pre-training", "chip-hours basis"] == "chips × days"
    assert "no chip time" in table.loc["OPT-175B pre-training", "missing"]
    assert "H800" in table.loc["DeepSeek-V3 training", "missing"]
    # LaMDA's FLOPs were computed by its authors from utilisation: the check is circular.
    assert table.loc["LaMDA 137B pre-training", "MFU (reported FLOPs)"] == pytest.approx(
        0.565, abs=0.001
    )


def test_opt_logbook_flops_match_hardware_flops_with_attention(data):
    table = cv.flops_comparison(data["training_runs"], data["models"], data["architectures"])
    opt = table.loc["OPT-175B pre-training"]
    assert opt["reported / 6ND"] == pytest.approx(4.30e23 / 3.15e23)
    assert opt["hardware / 6ND"] == pytest.approx(opt["reported / 6ND"], rel=0.01)
    gpt3 = table.loc["GPT-3 175B pre-training"]
    assert gpt3["N implied"] == pytest.approx(174.4e9, rel=0.001)
    assert pd.isna(gpt3["App. F / 6ND"])  # no vocabulary in architectures.csv


def test_skip_attention_leaves_a_reason(data):
    table = cv.flops_comparison(
        data["training_runs"],
        data["models"],
        data["architectures"],
        {"Llama-3.1-405B": "context is the extension length"},
    )
    row = table.loc["Llama-3.1-405B pre-training"]
    assert pd.isna(row["App. F / 6ND"]) and row["note"] == "context is the extension length"


@pytest.mark.parametrize(
    "text, value",
    [("1024 80G A100", 1024), ("10,000 32G V100", 10_000), ("4.30E+23", 4.3e23), ("14.8", 14.8)],
)
def test_article_number(text, value):
    assert cv.article_number(text) == value


def test_article_number_refuses_text_without_a_number():
    with pytest.raises(ValueError, match="no number"):
        cv.article_number("not stated")


def test_article_table_implies_opts_147_tflops(data):
    table = cv.article_comparison(
        data["claims"],
        data["training_runs"],
        data["models"],
        data["hardware"],
        OPT_TABLE,
        ARTICLE_CHIPS,
    )
    assert list(table.index) == ["OPT-175B", "GPT-3 175B"]
    # Zhang et al. 2022 §2.4: up to 147 TFLOP/s per GPU; the logbook's FLOPs / (1024 x 33 days).
    assert table.loc["OPT-175B", "TFLOP/s per GPU"] == pytest.approx(147, rel=0.01)
    assert table.loc["OPT-175B", "6ND"] == table.loc["GPT-3 175B", "6ND"]
    assert table.loc["GPT-3 175B", "MFU (6ND)"] == pytest.approx(
        3.15e23 / (10_000 * 125e12 * 14.8 * 86_400)
    )


def test_on_chip_days(data):
    hardware = data["hardware"].set_index("chip")
    table = cv.on_chip(
        data["training_runs"], data["models"], hardware.loc["H100 SXM"], chips=1024, mfu=0.4
    )
    gpt3 = table.loc["GPT-3 175B pre-training"]
    assert gpt3["flops basis"] == "reported"
    assert gpt3["days"] == pytest.approx(3.14e23 / (1024 * 989.4e12 * 0.4) / 86_400)
    # A mixture of experts is costed with its active parameters: 6 · 37B · 14.8T.
    deepseek = table.loc["DeepSeek-V3 training"]
    assert deepseek["flops basis"] == "6ND"
    assert deepseek["FLOPs"] == pytest.approx(6 * 37e9 * 14.8e12)
    assert table.loc["GLM-130B pre-training", "flops basis"] == "6ND"


def test_figures_draw_one_row_per_run(data):
    runs, models, hardware = data["training_runs"], data["models"], data["hardware"]
    flops = cv.flops_comparison(runs, models, data["architectures"])
    fig = cv.flops_ratio_figure(flops)
    assert len(fig.axes[0].get_yticks()) == flops["6ND"].notna().sum()
    plt.close(fig)
    time = cv.chip_time(runs, models, hardware)
    fig = cv.mfu_figure(time)
    drawn = (time["MFU (6ND)"].notna() | time["MFU (reported FLOPs)"].notna()).sum()
    assert len(fig.axes[0].get_yticks()) == drawn
    plt.close(fig)
    today = cv.on_chip(runs, models, hardware.set_index("chip").loc["H100 SXM"], 1024, 0.4)
    fig = cv.on_chip_figure(today, "H100 SXM", 1024, 0.4)
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)


def test_sci_and_formatted():
    assert cv.sci(4.3e23) == "4.30×10²³"
    assert cv.sci(3.14e-5, 2) == "3.1×10⁻⁵"
    frame = pd.DataFrame({"a": [0.3456, None], "b": [1e23, 2e24], "c": ["x", pd.NA]})
    out = cv.formatted(frame, {"a": ".1%", "b": "sci"})
    assert out.to_dict("list") == {
        "a": ["34.6%", ""],
        "b": ["1.00×10²³", "2.00×10²⁴"],
        "c": ["x", ""],
    }


def test_active_params_of_a_row_and_the_refusal_of_a_moe_without_them():
    assert cv.active_params(pd.Series({"params": 7e9, "moe": False})) == (7e9, "")
    v3 = pd.Series({"params": 671e9, "active_params": 37e9, "moe": True})
    assert cv.active_params(v3) == (37e9, "")
    for missing in (None, float("nan"), pd.NA):
        n, why = cv.active_params(pd.Series({"params": 671e9, "active_params": missing,
                                             "moe": True}))  # fmt: skip
        assert n is None and "active" in why
    # 6ND of a MoE uses the active count, never the total
    row = v3.copy()
    row["train_tokens"] = 14.8e12
    assert cv.six_nd(row)[0] == 6 * 37e9 * 14.8e12


def test_rental_cost_prices_a_run_only_with_its_own_sources_price(data):
    """DeepSeek-V3: 2.788M H800 GPU-hours at the $2 the report assumes = $5.576M (report §1,
    Table 1); a run whose source states no price is left unpriced, not priced at DeepSeek's."""
    runs = data["training_runs"].set_index("run")
    prices = catalog.load("gpu_prices")
    usd, price, why = cv.rental_cost(runs.loc["DeepSeek-V3 training"], prices)
    assert why == "" and price == 2.0 and usd == pytest.approx(5.576e6)
    other = runs.loc["GPT-3 175B pre-training"]
    assert cv.rental_cost(other, prices)[0] is None


def _prices(rows):
    return pd.DataFrame(
        rows, columns=["provider", "chip", "usd_per_gpu_hour", "pricing", "price_date", "source"]
    )


def test_market_cost_spans_the_listed_prices_and_ignores_a_sources_assumption():
    prices = _prices(
        [
            ("Cloud B (8-GPU)", "X1", 3.0, "on-demand", "2026-09", "b: list"),
            ("Cloud A (1-GPU)", "X1", 2.0, "reserved", "2024-12", "a: list"),
            ("A lab (assumed)", "X1", 0.5, "assumed by source", "2024-12", "c: report"),
            ("Cloud A (1-GPU)", "Y2", 9.0, "on-demand", "2026-09", "a: list"),
        ]
    )
    cost = cv.market_cost(1000, "X1", prices)
    # 1,000 GPU-hours × $2 and × $3: the $0.50 a source assumed is not a market price
    assert (cost["low_usd"], cost["high_usd"]) == (2000, 3000)
    assert cost["n_prices"] == 2 and cost["providers"] == ["Cloud A", "Cloud B"]
    assert cost["dates"] == ("2024-12", "2026-09")
    assert cv.usd_range(cost) == "$2,000–$3,000"
    assert cv.market_cost(10, "Z9", prices) is None and cv.usd_range(None) == "—"
    with pytest.raises(ValueError):
        cv.market_cost(0, "X1", prices)


def test_market_cost_of_the_catalog_uses_only_the_chips_own_prices(data):
    """Every listed H100 SXM price lies within the range; the H800 (only DeepSeek's assumed
    $2) has no market price, so it is not priced at all."""
    prices = catalog.load("gpu_prices")
    h100 = prices[prices["chip"] == "H100 SXM"]["usd_per_gpu_hour"]
    cost = cv.market_cost(100, "H100 SXM", prices)
    assert cost["low_usd"] == pytest.approx(100 * h100.min())
    assert cost["high_usd"] == pytest.approx(100 * h100.max())
    assert cv.market_cost(100, "H800", prices) is None


def test_stated_cost_keeps_the_sources_hedge():
    assert cv.stated_cost(100, "upper bound") == "under $100"
    assert cv.stated_cost(300, "approximate") == "about $300"
    assert cv.stated_cost(5.576e6, "exact") == "$5.58M"
    with pytest.raises(ValueError):
        cv.stated_cost(1, "roughly")


def test_cheapest_fit_rents_the_cheapest_chip_with_enough_memory():
    hardware = pd.DataFrame({"chip": ["S24", "M48", "L80", "X"], "memory_gb": [24, 48, 80, None]})
    prices = _prices(
        [
            ("A", "S24", 0.5, "on-demand", "2026-09", "a: list"),
            ("A", "L80", 2.0, "on-demand", "2026-09", "a: list"),
            ("B", "L80", 1.5, "assumed by source", "2024-12", "b: report"),
            ("A", "X", 0.1, "on-demand", "2026-09", "a: list"),
        ]
    )
    # 40 GB: the 48 GB chip has no listed price, the 24 GB one is too small, an assumed price
    # is not a market price: the 80 GB chip at $2
    best = cv.cheapest_fit(40, hardware, prices)
    assert (best["chip"], best["usd_per_gpu_hour"], best["memory_gb"]) == ("L80", 2.0, 80)
    assert cv.cheapest_fit(20, hardware, prices)["chip"] == "S24"
    assert cv.cheapest_fit(100, hardware, prices) is None


def test_chips_side_by_side_computes_only_what_each_row_states():
    """Chip A states 80 GB and a 1,000 TFLOP/s dense peak; chip B 160 GB and no peak. A run of
    1e24 FLOPs and 1e11 parameters (16 bytes each: 1.6 TB of training state) on 100 GPUs at 50%."""
    hardware = pd.DataFrame(
        {
            "chip": ["A", "B"],
            "memory_gb": [80.0, 160.0],
            "memory_bandwidth_gb_s": [3000.0, pd.NA],
            "bf16_tflops_dense": [1000.0, pd.NA],
            "fp16_tflops_dense": [pd.NA, pd.NA],
        }
    )
    prices = pd.DataFrame(
        {
            "provider": ["P1", "P2", "P3"],
            "chip": ["A", "A", "B"],
            "usd_per_gpu_hour": [2.0, 3.0, 6.0],
            "pricing": ["on-demand", "reserved", "on-demand"],
            "price_date": ["2026-01", "2026-02", "2026-03"],
        }
    )
    table = cv.chips_side_by_side(hardware, prices, ["A", "B"], 1e24, 1e11, 100, 0.5)
    a, b = table.loc["A"], table.loc["B"]
    days = 1e24 / (100 * 1000e12 * 0.5) / 86_400
    assert a["days"] == pytest.approx(days)
    assert a["gpu_hours"] == pytest.approx(days * 24 * 100)
    assert (a["low_price"], a["high_price"]) == (2.0, 3.0)
    assert a["rent"]["low_usd"] == pytest.approx(a["gpu_hours"] * 2.0)
    assert a["rent"]["high_usd"] == pytest.approx(a["gpu_hours"] * 3.0)
    assert a["state_gpus"] == 20  # 1.6e12 bytes / 80e9
    assert b["state_gpus"] == 10
    assert all(
        pd.isna(b[c]) for c in ("days", "gpu_hours", "rent", "peak_tflops", "bandwidth_gb_s")
    )
    assert (b["low_price"], b["high_price"]) == (6.0, 6.0)


def test_chips_side_by_side_on_the_catalog_leaves_unstated_peaks_empty(data):
    """H100 SXM has NVIDIA's dense BF16 peak, so it gets days; H200 and B200 have none in
    hardware.csv, so they get memory (and the H200 bandwidth) but no time."""
    prices = catalog.load("gpu_prices")
    table = cv.chips_side_by_side(
        data["hardware"], prices, ["H100 SXM", "H200", "B200"], 3.8e25, 405e9, 1024, 0.4
    )
    days = 3.8e25 / (1024 * 989.4e12 * 0.4) / 86_400
    assert table.loc["H100 SXM", "days"] == pytest.approx(days)
    assert pd.isna(table.loc["H200", "days"]) and pd.isna(table.loc["B200", "days"])
    assert table.loc["H200", "bandwidth_gb_s"] == 4800
    assert list(table["state_gpus"]) == [81, 46, 36]  # 6.48 TB over 80, 141 and 180 GB
