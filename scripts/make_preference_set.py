"""Write the book's synthetic preference set: items with a known true reward, and pairwise labels.

    .venv/bin/python scripts/make_preference_set.py

Run once; its output (data/preference_items.csv, data/preference_pairs.csv) is committed, and
the chapters read those files, not this script. The true rewards are drawn from N(0, 1); each
pair compares two distinct items drawn uniformly, and its label is drawn from the Bradley-Terry
model, P(a chosen) = sigmoid(r_a - r_b) (llmbook.preference.simulate_comparisons). A fixed seed
makes the files reproducible.
"""

from __future__ import annotations

import csv

import numpy as np

from llmbook import paths
from llmbook.preference import simulate_comparisons

SEED = 20230301
ITEMS = 24
PAIRS = 2000
SOURCE = "bradley1952rank: §2 (labels drawn from the model for this book)"


def main() -> None:
    rng = np.random.default_rng(SEED)
    rewards = np.round(rng.normal(0.0, 1.0, ITEMS), 3)
    winners, losers = simulate_comparisons(rewards, PAIRS, rng)
    first_shown = rng.random(PAIRS) < 0.5  # the order the pair is shown in carries no signal
    data = paths.data_dir()
    with open(data / "preference_items.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["item", "true_reward", "source"])
        for i, r in enumerate(rewards):
            out.writerow([f"y{i:02d}", f"{r:.3f}", SOURCE])
    with open(data / "preference_pairs.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["pair", "item_a", "item_b", "chosen", "source"])
        for k, (w, ell, a_first) in enumerate(zip(winners, losers, first_shown, strict=True)):
            a, b = (w, ell) if a_first else (ell, w)
            out.writerow([k, f"y{a:02d}", f"y{b:02d}", "a" if a_first else "b", SOURCE])


if __name__ == "__main__":
    main()
