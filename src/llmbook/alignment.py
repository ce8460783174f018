"""What chat-model projects disclosed about their alignment stages (``alignment_disclosures``).

Helpers that turn the table into the views of the recipe chapter; the facts live in the data.
"""

from __future__ import annotations

import pandas as pd

STAGES = ("sft", "reward model", "rl")
#: The quantities a replication needs per stage, in the table's column names.
FIELDS = ("data_count", "rm_params", "algorithm", "kl_coef")


def comparisons_per_ranking(k: int) -> int:
    """Pairwise comparisons in a ranking of ``k`` responses: k(k−1)/2 (InstructGPT trains on
    all of them, Ouyang et al. 2022, §3.5)."""
    if k < 2:
        raise ValueError("a ranking needs at least two responses")
    return k * (k - 1) // 2


def disclosure_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per project, one column per (stage, field) that matters for that stage:
    True where the project disclosed the value. The fields per stage: the data size for SFT;
    the data size and reward-model size for the reward model; the algorithm and KL coefficient
    for RL."""
    wanted = {
        "sft": ("data_count",),
        "reward model": ("data_count", "rm_params"),
        "rl": ("algorithm", "kl_coef"),
    }
    rows = {}
    for project, group in frame.groupby("project", sort=False):
        by_stage = group.set_index("stage")
        row = {}
        for stage, fields in wanted.items():
            for field in fields:
                value = by_stage[field].get(stage) if stage in by_stage.index else None
                row[(stage, field)] = value is not None and not pd.isna(value)
        rows[project] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["stage", "field"])
    return out


def instructgpt_models(policy_params: float, rm_params: float) -> list[dict]:
    """The models of InstructGPT's RLHF and the checkpoint each starts from (``init``; None for
    a pre-trained model). Ouyang et al. 2022, §3.5: the SFT models are GPT-3 fine-tuned on
    demonstrations; the reward model starts "from the SFT model with the final unembedding
    layer removed" (a 6B one, so from the 6B SFT model); PPO fine-tunes "the SFT model", with a
    per-token KL penalty "from the SFT model" (the frozen reference); "the value function is
    initialized from the RM". Llama 2 (Touvron et al. 2023, §3.2.2) differs in one edge: its
    reward models start from the pretrained chat model checkpoints of the policy's size.

    ``role`` says how the model is used: trained (its weights change in that stage) or frozen.
    """
    return [
        {"name": "GPT-3", "params": policy_params, "init": None, "role": "pre-trained"},
        {"name": "SFT model", "params": policy_params, "init": "GPT-3", "role": "trained"},
        {"name": "GPT-3 (RM size)", "params": rm_params, "init": None, "role": "pre-trained"},
        {
            "name": "SFT model (RM size)",
            "params": rm_params,
            "init": "GPT-3 (RM size)",
            "role": "trained",
        },
        {
            "name": "reward model",
            "params": rm_params,
            "init": "SFT model (RM size)",
            "role": "trained, then frozen",
        },
        {"name": "policy", "params": policy_params, "init": "SFT model", "role": "trained by PPO"},
        {"name": "reference", "params": policy_params, "init": "SFT model", "role": "frozen"},
        {
            "name": "value function",
            "params": rm_params,
            "init": "reward model",
            "role": "trained by PPO",
        },
    ]


def initialisation_depths(models: list[dict]) -> dict[str, int]:
    """How many initialisations separate each model from a pre-trained one (0 for a model
    with ``init`` None): the column each model takes in a left-to-right pipeline figure.
    Raises ValueError for an unknown parent or a cycle."""
    parents = {m["name"]: m["init"] for m in models}
    depths: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...]) -> int:
        if name in seen:
            raise ValueError(f"initialisation cycle: {' -> '.join((*seen, name))}")
        if name not in parents:
            raise ValueError(f"{seen[-1]!r} is initialised from unknown model {name!r}")
        if name not in depths:
            parent = parents[name]
            depths[name] = 0 if parent is None else depth(parent, (*seen, name)) + 1
        return depths[name]

    for name in parents:
        depth(name, ())
    return depths
