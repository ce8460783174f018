"""Write data/battles.csv and data/battle_players.csv: a battle log with known strengths.

Eight fictional chat models get true ratings on the Elo scale, evenly spaced; battles pair two
distinct models uniformly at random, and model_a wins with the Bradley-Terry probability
1 / (1 + 10 ** ((r_b - r_a) / 400)) (llmbook.ratings.simulate_battles). Run once; the CSV files
are committed, so the book never depends on this script's randomness. Usage:

    python scripts/make_battles.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbook import paths, ratings

SEED = 20230503  # fixed: the log is reproducible
N_PLAYERS = 8
N_BATTLES = 3000
TOP, BOTTOM = 1200.0, 850.0
SOURCE = f"chiang2024chatbot: Abstract (Bradley-Terry ranking; simulated, seed {SEED})"


def main() -> None:
    names = [f"model-{chr(ord('A') + i)}" for i in range(N_PLAYERS)]
    rng = np.random.default_rng(SEED)
    true = pd.Series(np.linspace(TOP, BOTTOM, N_PLAYERS), index=rng.permutation(names))
    true = true.sort_index()
    log = ratings.simulate_battles(true, N_BATTLES, seed=SEED)
    log["source"] = SOURCE
    players = pd.DataFrame({"player": true.index, "true_rating": true.to_numpy(), "source": SOURCE})
    data = paths.data_dir()
    players.to_csv(data / "battle_players.csv", index=False)
    log.to_csv(data / "battles.csv", index=False)
    print(f"wrote {len(players)} players and {len(log)} battles to {data}")


if __name__ == "__main__":
    main()
