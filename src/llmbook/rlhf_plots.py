"""Figures of Part 5 (RLHF): reward models, the KL-regularised optimum, PPO, best-of-n, cost.

Each function takes computed arrays (never data files) and returns a matplotlib Figure drawn in
the house style (:func:`llmbook.style.use` must have been called).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from llmbook.style import FIGURE_WIDTH_INCHES, PALETTE


def _wide(height: float = 0.42, cols: int = 2):
    return plt.subplots(1, cols, figsize=(FIGURE_WIDTH_INCHES, FIGURE_WIDTH_INCHES * height))


def recovery_figure(true, fitted, elo_logit, sizes, rmse_bt, rmse_elo):
    """Left: fitted Bradley-Terry scores and rescaled Elo ratings against the true rewards.
    Right: error of the recovered rewards against the number of comparisons."""
    fig, (ax, bx) = _wide()
    lim = [min(np.min(true), np.min(fitted)) - 0.2, max(np.max(true), np.max(fitted)) + 0.2]
    ax.plot(lim, lim, color=PALETTE[7], lw=0.8, ls="--", label="perfect recovery")
    ax.scatter(true, fitted, s=18, color=PALETTE[0], label="Bradley-Terry fit", zorder=3)
    ax.scatter(true, elo_logit, s=18, marker="x", color=PALETTE[1], label="Elo (rescaled)")
    ax.set(xlabel="true reward", ylabel="recovered reward", title="All comparisons")
    ax.legend(fontsize=8)
    bx.plot(sizes, rmse_bt, "o-", color=PALETTE[0], label="Bradley-Terry fit")
    bx.plot(sizes, rmse_elo, "x-", color=PALETTE[1], label="Elo (rescaled)")
    bx.set(xscale="log", yscale="log", xlabel="comparisons used", ylabel="RMS error of reward")
    bx.minorticks_off()
    bx.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ticks = np.round(np.geomspace(min(rmse_bt + rmse_elo), max(rmse_bt + rmse_elo), 4), 2)
    bx.set_yticks(ticks, [f"{t:g}" for t in ticks])
    bx.set_title("Error falls with more comparisons")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def calibration_figure(tables: dict[str, dict[str, np.ndarray]]):
    """Reliability diagram: observed frequency against predicted probability, one line per
    model; marker area proportional to the comparisons in the bin."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_INCHES * 0.6, FIGURE_WIDTH_INCHES * 0.45))
    ax.plot([0, 1], [0, 1], color=PALETTE[7], lw=0.8, ls="--", label="perfectly calibrated")
    for (name, t), color in zip(tables.items(), PALETTE, strict=False):
        ax.plot(t["predicted"], t["observed"], "-", color=color, lw=1, label=name)
        ax.scatter(t["predicted"], t["observed"], s=4 + t["count"] / 2, color=color, zorder=3)
    ax.set(xlabel="predicted P(first is chosen)", ylabel="observed share chosen")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def graded_rewards_figure(grades, scores: dict[str, np.ndarray], groups):
    """One panel per score: each response's score (centred within its prompt) against its
    grade, with a small horizontal jitter; a good reward rises with the grade."""
    fig, axes = _wide(0.4, len(scores))
    g = np.asarray(groups)
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.15, 0.15, len(g))
    for ax, (name, s) in zip(np.atleast_1d(axes), scores.items(), strict=True):
        s = np.asarray(s, dtype=float).copy()
        for group in dict.fromkeys(g.tolist()):
            s[g == group] -= s[g == group].mean()
        ax.scatter(np.asarray(grades) + jitter, s, s=12, color=PALETTE[0], alpha=0.8)
        means = [s[np.asarray(grades) == k].mean() for k in range(4)]
        ax.plot(range(4), means, "_", ms=22, mew=2, color=PALETTE[5], label="mean per grade")
        ax.set(xticks=range(4), xlabel="grade (0 wrong ... 3 correct and direct)", title=name)
        ax.set_ylabel("score, centred per prompt")
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def pipeline_figure(
    models: list[dict],
    depths: dict[str, int],
    lines: dict[str, list[str]],
    uses: list[tuple[str, str, str]],
):
    """The models of an RLHF pipeline in columns by initialisation depth
    (:func:`llmbook.alignment.initialisation_depths`), policy-sized models on top and smaller
    ones at the bottom. Solid arrows: "initialised from"; dashed arrows ``(source, target,
    label)``: what a frozen or auxiliary model feeds the one being trained. ``lines`` adds text
    (data, sizes) under a model's name."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    big = max(m["params"] for m in models)
    n_cols = max(depths.values()) + 1
    fig = plt.figure(figsize=(FIGURE_WIDTH_INCHES, FIGURE_WIDTH_INCHES * 0.55))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, n_cols), ylim=(0, 3))
    ax.axis("off")
    width, height = 0.84, 0.62
    placed: dict[str, tuple[float, float]] = {}
    widths: dict[str, float] = {}
    top_rows: dict[int, int] = {}
    for m in models:
        col = depths[m["name"]]
        if m["params"] == big:
            row = top_rows.get(col, 0)
            top_rows[col] = row + 1
        else:
            row = 2
        placed[m["name"]] = (col + 0.08, 3 - row - 0.81)
        # A model in the middle row is drawn narrow, on the left, so that an arrow from the
        # bottom row to the top row of its column passes beside it, not through it.
        widths[m["name"]] = width * 0.55 if row == 1 else width
    for m in models:
        x0, y0 = placed[m["name"]]
        w = widths[m["name"]]
        colour = PALETTE[0] if "trained" in m["role"] else PALETTE[7]
        style = "-" if m["role"] != "frozen" else "--"
        ax.add_patch(
            FancyBboxPatch(
                (x0, y0),
                w,
                height,
                boxstyle="round,pad=0.02",
                fc="white",
                ec=colour,
                lw=1.4,
                ls=style,
            )
        )
        size = f"{m['params'] / 1e9:.0f}B, {m['role']}"
        text = "\n".join([size, *lines.get(m["name"], [])])
        ax.text(
            x0 + w / 2,
            y0 + height - 0.06,
            m["name"],
            ha="center",
            va="top",
            fontsize=8.5,
            color=colour,
        )
        ax.text(
            x0 + w / 2,
            y0 + height - 0.25,
            text,
            ha="center",
            va="top",
            fontsize=6.8,
            linespacing=1.35,
        )
        if m["init"] is not None:
            px, py = placed[m["init"]]
            ax.add_patch(
                FancyArrowPatch(
                    (px + widths[m["init"]] + 0.02, py + height / 2),
                    (x0 - 0.02, y0 + height / 2),
                    arrowstyle="-|>",
                    mutation_scale=11,
                    color=PALETTE[7],
                    lw=1.0,
                )
            )
    for source, target, label in uses:
        (sx, sy), (tx, ty) = placed[source], placed[target]
        sw, tw = widths[source], widths[target]
        if abs(sx - tx) < 1e-9:  # same column: vertical, edge to edge
            up = ty > sy
            # beside a narrow middle box when passing it, through the narrower box's centre
            skips = abs(ty - sy) > 1.5
            x = sx + (width * 0.8 if skips else min(sw, tw) / 2)
            start = (x, sy + (height + 0.02 if up else -0.02))
            end = (x, ty + (-0.02 if up else height + 0.02))
        else:  # from the source's near side to the target's near side
            right = tx > sx
            start = (sx + (sw + 0.02 if right else -0.02), sy + height / 2)
            end = (tx + (-0.02 if right else tw + 0.02), ty + height / 2)
        ax.add_patch(
            FancyArrowPatch(
                start, end, arrowstyle="-|>", mutation_scale=11, color=PALETTE[3], lw=1.0, ls="--"
            )
        )
        ax.text(
            (start[0] + end[0]) / 2 + 0.04,
            (start[1] + end[1]) / 2,
            label,
            fontsize=6.8,
            color=PALETTE[3],
            ha="left",
            va="center",
        )
    return fig


def disclosure_figure(matrix, row_labels, col_labels):
    """Grid of what each project disclosed: filled cells were disclosed, empty ones not."""
    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(
        figsize=(FIGURE_WIDTH_INCHES, 0.5 + 0.32 * len(row_labels)),
    )
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1.6, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, "yes" if v else "-", ha="center", va="center", fontsize=7.5,
                color="white" if v else PALETTE[7])  # fmt: skip
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    fig.tight_layout()
    return fig


def frontier_figure(frontier: dict, bon: dict, ppo_point: tuple[float, float], ppo_beta: float):
    """Expected reward against KL(π ‖ π_ref): the KL-regularised optimum for a range of β
    (a curve), best-of-n for several n (points, labelled), and the PPO result (a star)."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_INCHES * 0.7, FIGURE_WIDTH_INCHES * 0.45))
    ax.plot(
        frontier["kl"], frontier["reward"], "-", color=PALETTE[0], label="optimum π* (β varies)"
    )
    ax.plot(bon["kl"], bon["reward"], "o", color=PALETTE[1], label="best-of-n (exact)")
    for i, (n, x, y) in enumerate(zip(bon["n"], bon["kl"], bon["reward"], strict=True)):
        offset = (4, -10) if i % 2 == 0 else (-8, 6)
        ax.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=offset, fontsize=7)
    ax.plot(*ppo_point, "*", ms=12, color=PALETTE[5], label=f"PPO, β = {ppo_beta:g}")
    ax.set(xlabel="KL(π ‖ π_ref), nats (mean over prompts)", ylabel="expected grade")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def ppo_figure(history: dict, labels, pi_ref, target, ppo_probs, prompt: str):
    """Left: KL from the closed-form optimum to the PPO policy, per iteration (log scale).
    Right: one prompt's distribution over its answers: reference, optimum, PPO."""
    fig, (ax, bx) = _wide(0.45)
    ax.plot(np.arange(1, len(history["kl_to_optimum"]) + 1), history["kl_to_optimum"],
            color=PALETTE[0])  # fmt: skip
    ax.set(yscale="log", xlabel="PPO iteration", ylabel="KL(π* ‖ π_PPO), nats")
    ax.set_title("Distance to the closed-form optimum")
    x = np.arange(len(labels))
    width = 0.27
    for i, (name, p) in enumerate((("π_ref", pi_ref), ("π*", target), ("PPO", ppo_probs))):
        bx.bar(x + (i - 1) * width, p, width, label=name, color=PALETTE[[7, 0, 5][i]])
    bx.set_xticks(x, labels, rotation=40, ha="right", fontsize=7)
    bx.set(ylabel="probability", title=prompt)
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def best_of_n_figure(n, bound, exact_uniform, exact_model, measured_model, k_uniform: int):
    """KL of best-of-n from the base policy against n: the analytic formula, the exact value
    for many equally likely distinct responses, and the exact and sampled values for the
    small model's answer sets."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_INCHES * 0.7, FIGURE_WIDTH_INCHES * 0.45))
    ax.plot(n, bound, "-", color=PALETTE[7], label="log n − (n−1)/n")
    ax.plot(n, exact_uniform, "o", color=PALETTE[0], label=f"exact, {k_uniform:,} equal responses")
    ax.plot(n, exact_model, "s-", color=PALETTE[1], label="exact, SmolLM2 answer sets")
    ax.plot(n, measured_model, "x", ms=8, color=PALETTE[5], label="sampled, SmolLM2 answer sets")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="n (samples per prompt)", ylabel="KL(best-of-n ‖ π_ref), nats")
    ax.set_xticks(n, [str(v) for v in n])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def hacking_figure(frontier: dict):
    """Proxy and true reward of the optimum against its KL from the reference (log scale)."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_INCHES * 0.7, FIGURE_WIDTH_INCHES * 0.45))
    keep = frontier["kl"] > 1e-4
    ax.plot(frontier["kl"][keep], frontier["reward"][keep], "o-", ms=3, color=PALETTE[1],
            label="proxy reward (grade + length bonus)")  # fmt: skip
    ax.plot(frontier["kl"][keep], frontier["true_reward"][keep], "o-", ms=3, color=PALETTE[0],
            label="true reward (grade)")  # fmt: skip
    ax.set(xscale="log", xlabel="KL(π* ‖ π_ref), nats (mean over prompts)", ylabel="reward")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def memory_stack_figure(parts, capacities: dict[str, float], gpus: int):
    """Horizontal stacked bars of per-GPU GB by part (columns of ``parts``), one bar per row,
    with dashed vertical lines at each capacity (GB)."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_INCHES, 0.8 + 0.32 * len(parts)))
    left = np.zeros(len(parts))
    y = np.arange(len(parts))
    for column, color in zip(parts.columns, PALETTE, strict=False):
        values = parts[column].to_numpy(dtype=float)
        ax.barh(y, values, left=left, color=color, label=column, height=0.7)
        left += values
    for (name, gb), ls in zip(capacities.items(), ("--", ":"), strict=False):
        ax.axvline(gb, color=PALETTE[7], lw=1, ls=ls)
        ax.annotate(name, (gb, -0.6), xytext=(3, 0), textcoords="offset points", fontsize=7,
                    va="bottom")  # fmt: skip
    ax.set_yticks(y, parts.index, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"GB per GPU ({gpus} GPUs)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    fig.tight_layout()
    return fig


def critic_free_figure(histories: dict[str, np.ndarray], variances: dict[str, float]):
    """Left: KL(π* ‖ π) per iteration for each trainer (log scale). Right: total variance of a
    one-group gradient estimate per advantage method (log scale)."""
    fig, (ax, bx) = _wide()
    for i, (name, kl) in enumerate(histories.items()):
        ax.plot(
            np.arange(1, kl.size + 1), np.maximum(kl, 1e-6), color=PALETTE[i], lw=1.2, label=name
        )
    ax.set(
        xlabel="iteration",
        ylabel="KL(π* ‖ π), nats",
        yscale="log",
        title="Distance to the closed-form optimum",
    )
    ax.legend(fontsize=8)
    names = list(variances)
    bx.bar(names, [variances[n] for n in names], color=[PALETTE[i] for i in range(len(names))])
    bx.set(ylabel="gradient variance (trace)", yscale="log", title="Noise of one group's step")
    fig.tight_layout()
    return fig
