"""Views of training cost: 6ND against reported FLOPs, chip time, implied utilisation, and the
time each run would take on another chip.

Functions take the DataFrames of ``llmbook.catalog.load(...)`` (``training_runs``, ``models``,
``architectures``, ``hardware``, ``claims``) and never read files; every formula is one of
:mod:`llmbook.compute`. Units: FLOPs are counts (a multiply-add is 2), peaks FLOP/s, time in
days or hours, utilisation a fraction of the chip's dense peak.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from llmbook import catalog, compute, finetune_memory, tables
from llmbook.architecture import Shape

#: Dense 16-bit tensor peak columns of hardware.csv, in order of preference: BF16 where the chip
#: has it (A100, H100, TPUs), else FP16 (V100 has tensor-core FP16 and no BF16).
PEAK_COLUMNS = ("bf16_tflops_dense", "fp16_tflops_dense")
SECONDS_PER_HOUR = 3600
#: Hardware over model FLOPs with full activation recomputation: (2 + 2 + 4) / (2 + 4) = 4/3
#: (Korthikanti et al. 2022 §5; the constants of llmbook.compute).
RECOMPUTE_FACTOR = (
    compute.TRAIN_FLOPS_PER_PARAM_TOKEN_RECOMPUTE / compute.TRAIN_FLOPS_PER_PARAM_TOKEN
)


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def dense_peak(chip: pd.Series) -> tuple[float, str] | None:
    """The dense 16-bit peak of a ``hardware`` row in FLOP/s, and the column it was read from.

    ``bf16_tflops_dense`` if filled, else ``fp16_tflops_dense`` (both TFLOP/s × 1e12, without
    structured sparsity, as the vendor states them); None if the row fills neither.
    """
    for column in PEAK_COLUMNS:
        value = chip.get(column)
        if not _missing(value):
            return float(value) * compute.TERA, column
    return None


def active_params(model: pd.Series) -> tuple[float | None, str]:
    """Parameters one token passes through, N in 6·N·D, of a ``models`` row; or None and why.

    A dense model uses all its ``params``; a mixture of experts only its ``active_params`` (the
    shared layers plus the experts a token is routed to): DeepSeek-V3 uses 37B of its 671B, and
    6·N·D with the total would be 18 times too large. A mixture of experts whose source gives no
    active count is refused, never costed with the total."""
    if not _missing(model.get("moe")) and bool(model["moe"]):
        if _missing(model.get("active_params")):
            return None, "mixture of experts: no published active-parameter count"
        return float(model["active_params"]), ""
    if _missing(model.get("params")):
        return None, "no size in models.csv"
    return float(model["params"]), ""


def six_nd(model: pd.Series) -> tuple[float | None, str]:
    """Model FLOPs C = 6·N·D of a ``models`` row (compute.training_flops), or None and why not.

    N is the parameters a token uses (:func:`active_params`: all of them for a dense model, the
    active ones for a mixture of experts). Left out for an encoder-decoder (a token passes
    through one of the two stacks).
    """
    n, why = active_params(model)
    if n is None:
        return None, why
    if _missing(model.get("train_tokens")):
        return None, "no token count in models.csv"
    if model.get("architecture") == "encoder-decoder":
        return None, "encoder-decoder: 6ND does not apply"
    return compute.training_flops(n, model["train_tokens"]), ""


def run_days(run: pd.Series) -> tuple[float | None, str]:
    """Wall-clock days of a ``training_runs`` row and their basis.

    The ``days`` cell if filled ("days"), else end − start in whole days from the ``start`` and
    ``end`` dates ("dates"), else None.
    """
    if not _missing(run.get("days")):
        return float(run["days"]), "days"
    if not _missing(run.get("start")) and not _missing(run.get("end")):
        return float((run["end"] - run["start"]).days), "dates"
    return None, ""


def run_chip_hours(run: pd.Series) -> tuple[float | None, str]:
    """Accelerator-hours of a run and their basis: reported, or chips × days (compute.chip_hours).

    The ``chip_hours`` cell wins ("reported"); otherwise chip_count × run_days ("chips × days"
    or "chips × dates"); None if neither is known.
    """
    if not _missing(run.get("chip_hours")):
        return float(run["chip_hours"]), "reported"
    days, basis = run_days(run)
    if days is None or _missing(run.get("chip_count")):
        return None, ""
    return compute.chip_hours(run["chip_count"], days * compute.SECONDS_PER_DAY), f"chips × {basis}"


def rental_cost(run: pd.Series, prices: pd.DataFrame) -> tuple[float | None, float | None, str]:
    """(dollars, USD per chip-hour, why not) of a run priced as its own source prices it.

    The price is the ``gpu_prices`` row for the run's chip that cites one of the run's own
    sources (DeepSeek-V3's report assumes $2 per H800-hour); a price from elsewhere would mix
    two accounts, so the run is then left unpriced. The arithmetic is
    :func:`llmbook.compute.run_cost` on the run's chip-hours (:func:`run_chip_hours`). Only the
    final run's chip time: research, ablations, data and owning the hardware are outside it."""
    hours, _basis = run_chip_hours(run)
    if hours is None:
        return None, None, "no chip-hours"
    keys = set(catalog.source_keys(run.get("source", "")))
    mine = prices[
        (prices["chip"] == run["chip"])
        & prices["source"].map(lambda cell: bool(keys & set(catalog.source_keys(cell))))
    ]
    if mine.empty:
        return None, None, "no price stated by the run's own source in gpu_prices.csv"
    price = float(mine.iloc[0]["usd_per_gpu_hour"])
    chips = float(run["chip_count"]) if not _missing(run.get("chip_count")) else 1.0
    cost = compute.run_cost(chips, price, seconds_=hours / chips * SECONDS_PER_HOUR)
    return cost["usd"], price, ""


#: Price kinds that are market list prices; "assumed by source" (DeepSeek's $2) is not one.
MARKET_PRICINGS = ("on-demand", "reserved", "spot")


def listed_prices(chip: str, prices: pd.DataFrame) -> pd.DataFrame:
    """The market list prices of ``chip`` in ``gpu_prices`` (not a source's own assumption),
    cheapest first, with provider, kind and date."""
    rows = prices[(prices["chip"] == chip) & prices["pricing"].isin(MARKET_PRICINGS)]
    return rows.sort_values("usd_per_gpu_hour", kind="stable")


def market_cost(chip_hours: float, chip: str, prices: pd.DataFrame) -> dict | None:
    """Rental cost of ``chip_hours`` on ``chip`` at every listed market price of that chip:
    ``low_usd``/``high_usd`` = chip-hours × the cheapest/dearest listed price per GPU-hour
    (:func:`llmbook.compute.run_cost`), with ``low_price``, ``high_price``, ``n_prices``,
    ``providers`` and ``dates`` (earliest, latest). None when no market price of the chip is
    listed: the book does not borrow another chip's price. Rental only, like ``run_cost``."""
    if chip_hours is None or _missing(chip_hours) or float(chip_hours) <= 0:
        raise ValueError(f"chip_hours must be a positive number, got {chip_hours!r}")
    rows = listed_prices(chip, prices)
    if rows.empty:
        return None
    low, high = float(rows["usd_per_gpu_hour"].iloc[0]), float(rows["usd_per_gpu_hour"].iloc[-1])
    seconds_ = float(chip_hours) * SECONDS_PER_HOUR

    def cost(price: float) -> float:
        return compute.run_cost(1, price, seconds_=seconds_)["usd"]

    dates = sorted(str(d) for d in rows["price_date"])
    return {
        "chip_hours": float(chip_hours),
        "low_price": low,
        "high_price": high,
        "low_usd": cost(low),
        "high_usd": cost(high),
        "n_prices": len(rows),
        "providers": sorted({str(p).split(" (")[0] for p in rows["provider"]}),
        "dates": (dates[0], dates[-1]),
    }


def cheapest_fit(
    memory_gb: float, hardware: pd.DataFrame, prices: pd.DataFrame
) -> pd.Series | None:
    """The cheapest listed market price (a ``gpu_prices`` row, with the chip's ``memory_gb``
    added) among chips of ``hardware`` whose memory is at least ``memory_gb``; None if no
    such chip has a listed price. A plan that needs ``memory_gb`` on one GPU rents at least
    this."""
    if memory_gb <= 0:
        raise ValueError(f"memory_gb must be positive, got {memory_gb}")
    memory = (hardware.set_index("chip") if "chip" in hardware else hardware)["memory_gb"]
    big = {chip for chip, gb in memory.items() if not _missing(gb) and float(gb) >= memory_gb}
    rows = prices[prices["chip"].isin(big) & prices["pricing"].isin(MARKET_PRICINGS)]
    if rows.empty:
        return None
    best = rows.sort_values("usd_per_gpu_hour", kind="stable").iloc[0].copy()
    best["memory_gb"] = float(memory[best["chip"]])
    return best


def market_costs(table: pd.DataFrame, prices: pd.DataFrame) -> pd.Series:
    """:func:`usd_range` of :func:`market_cost` for every row of a table with ``chip`` and
    ``chip-hours`` columns (:func:`chip_time`); a dash where either is unknown or the chip has
    no listed price."""

    def one(row) -> str:
        if _missing(row["chip"]) or _missing(row["chip-hours"]):
            return "—"
        return usd_range(market_cost(row["chip-hours"], row["chip"], prices))

    return table.apply(one, axis=1)


def stated_cost(usd_: float, basis: str) -> str:
    """A source's own cost as it states it: "under $100" (upper bound), "about $300"
    (approximate) or "$5.58M" (exact)."""
    words = {"upper bound": "under ", "approximate": "about ", "exact": ""}
    if basis not in words:
        raise ValueError(f"unknown cost basis {basis!r}; use one of {', '.join(words)}")
    return words[basis] + tables.dollars(usd_)


def usd_range(cost: dict | None) -> str:
    """ "$1.2M–$1.7M" (or one figure when the listed prices agree) from :func:`market_cost`;
    an em dash when no price is listed."""
    if cost is None:
        return "—"
    low, high = tables.dollars(cost["low_usd"]), tables.dollars(cost["high_usd"])
    return low if low == high else f"{low}–{high}"


def mfu_from_chip_hours(flops: float, chip_hours: float, peak_flops_per_s: float) -> float:
    """u = C / (P · chip-seconds): compute.implied_mfu with the chips folded into the hours."""
    return compute.implied_mfu(flops, 1, peak_flops_per_s, chip_hours * SECONDS_PER_HOUR)


def flops_comparison(
    runs: pd.DataFrame,
    models: pd.DataFrame,
    shapes: pd.DataFrame,
    skip_attention: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """For every run that reports its FLOPs: reported FLOPs against 6ND and fuller counts.

    Columns: ``6ND``; ``reported / 6ND``; ``N implied`` = reported / (6·D), the parameter count
    that would make 6ND match; ``App. F / 6ND``, Chinchilla Appendix F's count of every matrix
    product (compute.training_flops_per_token_chinchilla × D), which adds attention and the
    embedding and output products, using the shape and ``context_length`` of architectures.csv;
    ``hardware / 6ND`` = App. F × 8/6, the same with the forward pass recomputed; ``note`` says
    why a cell is empty. ``skip_attention`` maps a model to a reason to leave App. F out (for
    example when its ``context_length`` is not the length most tokens were trained at).
    """
    skip_attention = dict(skip_attention or {})
    models = models.set_index("model", drop=False)
    shapes = shapes.set_index("model", drop=False)
    rows = []
    for _, run in runs[runs["reported_flops"].notna()].iterrows():
        model = models.loc[run["model"]]
        reported = float(run["reported_flops"])
        flops, why = six_nd(model)
        full, note = None, why
        if flops is not None:
            if run["model"] in skip_attention:
                note = skip_attention[run["model"]]
            elif run["model"] not in shapes.index:
                note = "no shape in architectures.csv"
            else:
                shape_row = shapes.loc[run["model"]]
                lacking = [c for c in ("vocab_size", "context_length") if _missing(shape_row[c])]
                if lacking:
                    note = f"architectures.csv lacks {', '.join(lacking)}"
                else:
                    shape = Shape.from_row(shape_row.to_dict())
                    per_token = compute.training_flops_per_token_chinchilla(
                        shape, int(shape_row["context_length"])
                    )
                    full = per_token * float(model["train_tokens"])
        tokens = None if _missing(model["train_tokens"]) else float(model["train_tokens"])
        rows.append(
            {
                "run": run["run"],
                "model": run["model"],
                "reported": reported,
                "6ND": flops,
                "reported / 6ND": None if flops is None else reported / flops,
                "N implied": None if tokens is None else reported / (6 * tokens),
                "N nominal": float(model["params"]),
                "App. F / 6ND": None if full is None else full / flops,
                "hardware / 6ND": None if full is None else full * RECOMPUTE_FACTOR / flops,
                "note": note,
            }
        )
    return pd.DataFrame(rows).set_index("run")


def chip_time(
    runs: pd.DataFrame,
    models: pd.DataFrame,
    hardware: pd.DataFrame,
    chip_for_run: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Chip time and implied utilisation of every run.

    ``chip_hours`` and its basis come from :func:`run_chip_hours`; the peak from
    :func:`dense_peak` of the run's chip (``chip_for_run`` names a hardware row for a run whose
    ``chip`` cell is empty). ``MFU (6ND)`` = 6ND / (peak × chip-seconds), the model-FLOPs
    utilisation averaged over the whole reported chip time (restarts and idle time included);
    ``MFU (reported FLOPs)`` the same with the run's own FLOP count; ``HFU if recomputed`` =
    MFU (6ND) × 8/6, the hardware-FLOPs utilisation had every forward pass been run twice.
    ``missing`` says why a utilisation is empty.
    """
    chip_for_run = dict(chip_for_run or {})
    models = models.set_index("model", drop=False)
    hardware = hardware.set_index("chip", drop=False)
    rows = []
    for _, run in runs.iterrows():
        chip = run["chip"] if not _missing(run["chip"]) else chip_for_run.get(run["run"])
        days, days_basis = run_days(run)
        hours, hours_basis = run_chip_hours(run)
        peak = dense_peak(hardware.loc[chip]) if chip else None
        flops, why = six_nd(models.loc[run["model"]])
        reported = None if _missing(run["reported_flops"]) else float(run["reported_flops"])
        mfu = mfu_rep = None
        missing = []
        if hours is None:
            missing.append("no chip time")
        if peak is None:
            missing.append("no chip named" if not chip else f"no 16-bit peak for {chip}")
        if hours is not None and peak is not None:
            if flops is not None:
                mfu = mfu_from_chip_hours(flops, hours, peak[0])
            else:
                missing.append(why)
            if reported is not None:
                mfu_rep = mfu_from_chip_hours(reported, hours, peak[0])
        rows.append(
            {
                "run": run["run"],
                "chip": chip,
                "chips": None if _missing(run["chip_count"]) else int(run["chip_count"]),
                "days": days,
                "days basis": days_basis,
                "chip-hours": hours,
                "chip-hours basis": hours_basis,
                "setup basis": None if _missing(run["setup_basis"]) else run["setup_basis"],
                "peak column": None if peak is None else peak[1],
                "peak TFLOP/s": None if peak is None else peak[0] / compute.TERA,
                "6ND": flops,
                "MFU (6ND)": mfu,
                "MFU (reported FLOPs)": mfu_rep,
                "HFU if recomputed": None if mfu is None else mfu * RECOMPUTE_FACTOR,
                "missing": "; ".join(missing),
            }
        )
    return pd.DataFrame(rows).set_index("run")


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?")


def article_number(text: str) -> float:
    """The first number in an article's cell: '10,000 32G V100' -> 10000, '4.30E+23' -> 4.3e23."""
    match = _NUMBER.search(str(text))
    if match is None:
        raise ValueError(f"no number in {text!r}")
    return float(match.group(0).replace(",", ""))


def article_comparison(
    claims: pd.DataFrame,
    runs: pd.DataFrame,
    models: pd.DataFrame,
    hardware: pd.DataFrame,
    location: str,
    chip_keys: Mapping[str, str],
) -> pd.DataFrame:
    """The article's training-cost table (claims at ``location``), next to the catalog.

    One row per claimed model, from the claims' ``hardware`` (chip count), ``flops`` and
    ``days`` fields. ``chip_keys`` maps each model to the hardware row of the article's chip.
    Derived columns: ``GPU-days`` = chips × days; ``TFLOP/s per GPU`` = article FLOPs /
    (chips × days), the sustained rate the article's figures imply; ``MFU (6ND)`` and
    ``MFU (article FLOPs)`` = FLOPs / (peak × chips × days) (compute.implied_mfu).
    """
    table = claims[claims["location"] == location]
    models = models.set_index("model")
    hardware = hardware.set_index("chip")
    rows = []
    for subject, group in table.groupby("subject", sort=False):
        fields = group.set_index("field")
        chips = article_number(fields.loc["hardware", "article_value"])
        flops_article = article_number(fields.loc["flops", "article_value"])
        days = article_number(fields.loc["days", "article_value"])
        run = runs[runs["model"] == subject].iloc[0]
        flops, _ = six_nd(models.loc[subject])
        peak, column = dense_peak(hardware.loc[chip_keys[subject]])
        secs = days * compute.SECONDS_PER_DAY
        rows.append(
            {
                "model": subject,
                "claims": ", ".join(group["claim"]),
                "GPUs (article)": chips,
                "chip": chip_keys[subject],
                "days (article)": days,
                "FLOPs (article)": flops_article,
                "GPUs (run row)": None if _missing(run["chip_count"]) else int(run["chip_count"]),
                "setup basis": run["setup_basis"],
                "FLOPs (run row)": float(run["reported_flops"]),
                "6ND": flops,
                "article FLOPs / 6ND": flops_article / flops,
                "GPU-days": chips * days,
                "TFLOP/s per GPU": flops_article / (chips * secs) / compute.TERA,
                "throughput in run row": run["throughput_tflops_per_chip"],
                "peak column": column,
                "peak TFLOP/s": peak / compute.TERA,
                "MFU (6ND)": compute.implied_mfu(flops, int(chips), peak, secs),
                "MFU (article FLOPs)": compute.implied_mfu(flops_article, int(chips), peak, secs),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def on_chip(
    runs: pd.DataFrame,
    models: pd.DataFrame,
    chip: pd.Series,
    chips: int,
    mfu: float,
) -> pd.DataFrame:
    """Days each run would take on ``chips`` of the ``chip`` hardware row at utilisation ``mfu``.

    FLOPs are the run's reported count where there is one, else 6ND (:func:`six_nd`); runs with
    neither are left out (``flops basis`` says which was used). ``days`` = compute.seconds /
    86,400 against the chip's :func:`dense_peak`; ``chip-hours`` = chips × that time;
    ``original days`` is :func:`run_days` and ``original chip-hours`` :func:`run_chip_hours`;
    ``chip-hours ratio`` = original chip-hours / new chip-hours.
    """
    peak, _ = dense_peak(chip)
    models = models.set_index("model")
    rows = []
    for _, run in runs.iterrows():
        if not _missing(run["reported_flops"]):
            flops, basis = float(run["reported_flops"]), "reported"
        else:
            flops, _why = six_nd(models.loc[run["model"]])
            basis = "6ND"
            if flops is None:
                continue
        secs = compute.seconds(flops, chips, peak, mfu)
        new_hours = compute.chip_hours(chips, secs)
        old_days, _ = run_days(run)
        old_hours, _ = run_chip_hours(run)
        rows.append(
            {
                "run": run["run"],
                "FLOPs": flops,
                "flops basis": basis,
                "days": secs / compute.SECONDS_PER_DAY,
                "chip-hours": new_hours,
                "original days": old_days,
                "original chip-hours": old_hours,
                "chip-hours ratio": None if old_hours is None else old_hours / new_hours,
            }
        )
    return pd.DataFrame(rows).set_index("run")


def chips_side_by_side(
    hardware: pd.DataFrame,
    prices: pd.DataFrame,
    names: list[str],
    flops: float,
    params: float,
    chips: int,
    mfu: float,
) -> pd.DataFrame:
    """One training run of ``flops`` FLOPs and ``params`` parameters on each chip of ``names``.

    Per chip (a ``hardware`` row): the memory, bandwidth and :func:`dense_peak` the vendor
    states; the listed market price per GPU-hour (:func:`listed_prices`, low and high); the
    GPUs whose memory holds the run's weights, gradients and Adam states
    (:func:`llmbook.finetune_memory.gpus_needed`, activations left out), a lower bound; and,
    where a dense peak is stated, the days on ``chips`` GPUs at utilisation ``mfu``
    (compute.seconds), the GPU-hours and their rent at every listed price (:func:`market_cost`).
    A value the row does not state stays missing: no chip borrows another's figure.
    """
    hardware = hardware.set_index("chip") if "chip" in hardware.columns else hardware
    rows = {}
    for name in names:
        chip = hardware.loc[name]
        gb = None if _missing(chip["memory_gb"]) else float(chip["memory_gb"])
        bw = chip["memory_bandwidth_gb_s"]
        peak = dense_peak(chip)
        listed = listed_prices(name, prices)["usd_per_gpu_hour"]
        row = {
            "memory_gb": gb,
            "bandwidth_gb_s": None if _missing(bw) else float(bw),
            "peak_tflops": None if peak is None else peak[0] / compute.TERA,
            "low_price": float(listed.min()) if len(listed) else None,
            "high_price": float(listed.max()) if len(listed) else None,
            "state_gpus": None if gb is None else finetune_memory.gpus_needed(params, 0.0, gb),
            "days": None,
            "gpu_hours": None,
            "rent": None,
        }
        if peak is not None:
            secs = compute.seconds(flops, chips, peak[0], mfu)
            row["days"] = secs / compute.SECONDS_PER_DAY
            row["gpu_hours"] = compute.chip_hours(chips, secs)
            row["rent"] = market_cost(row["gpu_hours"], name, prices)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _short(run: str) -> str:
    return run.replace(" pre-training", "").replace(" training", "")


def flops_ratio_figure(table: pd.DataFrame):
    """Dot plot per run: reported FLOPs, Appendix F and hardware counts, each over 6ND."""
    import matplotlib.pyplot as plt

    from llmbook import style

    table = table[table["6ND"].notna()].sort_values("reported / 6ND")
    labels = [_short(r) for r in table.index]
    y = range(len(table))
    fig, ax = plt.subplots()
    ax.axvline(1, color=style.PALETTE[7], lw=0.8)
    ax.axvline(RECOMPUTE_FACTOR, color=style.PALETTE[7], lw=0.8, ls="--")
    series = (
        ("reported / 6ND", "reported FLOPs", "o", style.PALETTE[0], True),
        ("App. F / 6ND", "every matrix product (Chinchilla App. F)", "s", style.PALETTE[1], False),
        ("hardware / 6ND", "App. F with recomputation (×8/6)", "^", style.PALETTE[5], False),
    )
    for column, label, marker, colour, filled in series:
        values = table[column].astype(float)
        ax.scatter(
            values,
            list(y),
            marker=marker,
            s=55 if filled else 45,
            facecolors=colour if filled else "white",
            edgecolors=colour,
            linewidths=1.5,
            label=label,
            zorder=3,
        )
    ax.set_yticks(list(y), labels)
    ax.set_xlabel("FLOPs divided by 6ND (solid line: 6ND; dashed: 8ND)")
    ax.margins(y=0.15)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def mfu_figure(table: pd.DataFrame):
    """Horizontal bars: implied MFU (6ND) per run; hollow markers: MFU from reported FLOPs."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from llmbook import style

    rows = table[table["MFU (6ND)"].notna() | table["MFU (reported FLOPs)"].notna()]
    rows = rows.assign(_order=rows["MFU (6ND)"].fillna(rows["MFU (reported FLOPs)"]))
    rows = rows.sort_values("_order")
    chips = list(dict.fromkeys(rows["chip"]))
    colours = dict(zip(chips, style.PALETTE, strict=False))
    y = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 4.8))
    bars = rows["MFU (6ND)"].astype(float).fillna(0) * 100
    ax.barh(y, bars, color=[colours[c] for c in rows["chip"]], height=0.6, zorder=2)
    reported = rows["MFU (reported FLOPs)"].astype(float) * 100
    ax.scatter(
        reported,
        y,
        marker="D",
        facecolors="white",
        edgecolors=style.PALETTE[7],
        s=30,
        zorder=3,
        label="from the run's reported FLOPs",
    )
    ax.set_yticks(y, [_short(r) for r in rows.index])
    ax.set_xlabel("implied model-FLOPs utilisation over the whole chip time (%)")
    ax.set_xlim(0, 100)
    handles = [Patch(color=colours[c], label=f"6ND on {c}") for c in chips]
    handles.append(ax.collections[-1])
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    return fig


def on_chip_figure(table: pd.DataFrame, chip_name: str, chips: int, mfu: float):
    """Log-scale bars: days on ``chips`` × ``chip_name`` at ``mfu``; dots: original days."""
    import matplotlib.pyplot as plt

    from llmbook import style

    rows = table.sort_values("days")
    y = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(style.FIGURE_WIDTH_INCHES, 5.0))
    ax.barh(
        y,
        rows["days"].astype(float),
        color=style.PALETTE[0],
        height=0.6,
        zorder=2,
        label=f"{chips:,} {chip_name} at {mfu:.0%} MFU",
    )
    original = rows["original days"].astype(float)
    ax.scatter(
        original,
        y,
        marker="o",
        color=style.PALETTE[1],
        edgecolors=style.PALETTE[7],
        s=35,
        zorder=3,
        label="the original run (wall-clock days)",
    )
    ax.set_xscale("log")
    style.plain_log_axis(ax.xaxis)
    ax.set_yticks(y, [_short(r) for r in rows.index])
    ax.set_xlabel("training days (log scale)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(value: float, digits: int = 3) -> str:
    """A number in scientific notation for prose: sci(4.3e23) -> '4.30×10²³' (``digits`` kept)."""
    mantissa, exponent = f"{float(value):.{digits - 1}e}".split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPTS)}"


def formatted(frame: pd.DataFrame, formats: Mapping[str, str]) -> pd.DataFrame:
    """Cells as text for a plain table: ``formats`` maps a column to a format spec ('.1%',
    ',.0f', 'sci' for :func:`sci`); other columns as text; a missing value as an empty cell."""
    out = pd.DataFrame(index=frame.index)
    for name, column in frame.items():
        spec = formats.get(name)
        cells = []
        for value in column:
            if _missing(value):
                cells.append("")
            elif spec == "sci":
                cells.append(sci(value))
            elif spec:
                cells.append(format(float(value), spec))
            else:
                cells.append(str(value))
        out[name] = cells
    return out
