"""The ``llmbook`` command line: what does it cost? (a contract: other tools call it).

    llmbook budget  --params P --tokens D [--chip NAME --chips N --mfu U] [--json]
    llmbook budget  --model NAME [--chip NAME --chips N --mfu U] [--json]
    llmbook memory  --params P --precision FMT [--json]
    llmbook memory  --model NAME --precision FMT [--context T --batch B] [--json]
    llmbook peft lora --model NAME --rank R --targets q,v [--json]
    llmbook sft     --model NAME --examples N --tokens-per-example L [--epochs E]
                    [--method full|lora|qlora --chip NAME --chips N --mfu U] [--json]
    llmbook rlhf-memory --actor NAME --critic NAME [--gpus N --zero S --lora-rank R
                        --batch B --chip NAME --method ppo|grpo|rloo|dpo --group G] [--json]
    llmbook optimal --flops C [--law chinchilla|epoch|approach1] [--json]
    llmbook generate --prompt TEXT [--max-tokens N] [--raw] [--json]
    llmbook validate [--data DIR]
    llmbook models [--stage STAGE] [--data DIR]

Models and chips are looked up in the catalog by name, ignoring case. An unknown name or an
impossible value exits with status 2 and a one-line message (no traceback); with ``--json``
each command prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd

from llmbook import catalog, compute, cost_views, memory, peft, scaling, sft
from llmbook.architecture import Shape, active_params, param_counts


class UsageError(Exception):
    """A bad name or value: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and no abbreviated options."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 7e9, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = positive_number(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    return int(value)


def utilisation(text: str) -> float:
    value = positive_number(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], a fraction of peak, got {text!r}")
    return value


def _data(args) -> Path | None:
    return getattr(args, "data", None)


def _model_params_tokens(name: str, data: Path | None) -> tuple[str, float, float, float]:
    """(name, total params, active params, training tokens) of a catalog model; a mixture of
    experts without an active-parameter count is refused (its total would overstate 6ND)."""
    row = catalog.lookup("models", name, data)
    missing = [c for c in ("params", "train_tokens") if pd.isna(row[c])]
    if missing:
        raise UsageError(f"{row['model']}: the catalog has no {' or '.join(missing)} (unsourced)")
    active, why = cost_views.active_params(row)
    if active is None:
        raise UsageError(f"{row['model']}: {why}; give --params (active) and --tokens instead")
    return row["model"], float(row["params"]), active, float(row["train_tokens"])


def _shape(name: str, data: Path | None) -> tuple[str, Shape]:
    row = catalog.lookup("architectures", name, data)
    try:
        return row["model"], Shape.from_row(row)
    except (ValueError, NotImplementedError) as error:
        raise UsageError(str(error)) from None


def _chip_peak(name: str, data: Path | None) -> tuple[str, float, str]:
    row = catalog.lookup("hardware", name, data)
    for column in ("bf16_tflops_dense", "fp16_tflops_dense"):
        if not pd.isna(row[column]):
            return row["chip"], float(row[column]) * compute.TERA, column
    raise UsageError(f"{row['chip']}: the catalog has no 16-bit peak throughput for this chip")


def _lora_targets(text: str, shape: Shape, rank: int, experts: str | None = None) -> list[str]:
    """LoRA targets from "q,v": each once, at least one, ``rank`` within every matrix adapted.

    A rank above min(d_in, d_out) of a matrix adds parameters without adding rank (B·A cannot
    exceed the smaller dimension), so it is refused rather than counted. ``experts`` says which
    experts of a mixture-of-experts model carry the feed-forward targets (--experts).
    """
    targets = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not targets:
        raise UsageError(f"--targets names no matrix (got {text!r}); e.g. q,v")
    for target in targets:
        try:
            matrices = peft.adapted_matrices(shape, [target], experts)
        except NotImplementedError as error:
            raise UsageError(f"{error} (--experts all|shared|none)") from None
        except ValueError as error:
            raise UsageError(str(error)) from None
        for _, d_in, d_out, _ in matrices:
            if rank > min(d_in, d_out):
                raise UsageError(
                    f"--rank {rank} exceeds the '{target}' matrix ({d_in} x {d_out}): "
                    f"at most {min(d_in, d_out)}"
                )
    return targets


def cmd_budget(args) -> dict:
    if args.model:
        model, params, active, tokens = _model_params_tokens(args.model, _data(args))
    elif args.params and args.tokens:
        model, params, active, tokens = None, args.params, args.params, args.tokens
    else:
        raise UsageError("give --model NAME, or both --params and --tokens")
    flops = compute.training_flops(active, tokens)
    out = {"model": model, "params": params, "active_params": active, "tokens": tokens}
    out["flops"] = flops
    out["pflop_s_days"] = compute.pflop_s_days(flops)
    if args.chip:
        chip, peak, column = _chip_peak(args.chip, _data(args))
        secs = compute.seconds(flops, args.chips, peak, args.mfu)
        out |= {
            "chip": chip,
            "chips": args.chips,
            "mfu": args.mfu,
            "peak_flops_per_s": peak,
            "peak_column": column,
            "seconds": secs,
            "days": secs / compute.SECONDS_PER_DAY,
            "chip_hours": compute.chip_hours(args.chips, secs),
        }
    return out


def cmd_memory(args) -> dict:
    try:
        bits = memory.bits_per_weight(args.precision)
    except ValueError as error:
        raise UsageError(str(error)) from None
    out: dict = {"precision": args.precision, "bits_per_weight": bits}
    if args.model:
        name, shape = _shape(args.model, _data(args))
        row = catalog.lookup("models", name, _data(args))
        params = float(row["params"]) if not pd.isna(row["params"]) else None
        if params is None:
            params = float(param_counts(shape)["total"])
            out["params_from_shape"] = True
        out |= {"model": name, "params": params}
        is_moe = bool(shape.n_experts) or ("moe" in row and bool(row["moe"]))
        if "active_params" in row and not pd.isna(row["active_params"]):
            out["active_params"] = float(row["active_params"])
        elif not is_moe:
            out["active_params"] = params
        elif shape.n_experts:
            out["active_params"] = float(active_params(shape))
            out["active_params_from_shape"] = True
        else:
            out["active_params"] = None  # a mixture of experts whose experts the catalog lacks
        out["weight_bytes"] = memory.weight_bytes(params, args.precision)
        if not is_moe or shape.n_experts:
            # decoding reads the active weights once per token (plus the KV cache)
            out["decode_weight_bytes_per_token"] = memory.decode_bytes_per_token(
                shape, args.precision, params
            )
        context = args.context or shape.context_length
        if context:
            out |= {"context": int(context), "batch": args.batch}
            out["kv_cache_bytes"] = memory.kv_cache_bytes(
                shape, int(context), args.batch, args.kv_precision
            )
    elif args.params:
        out |= {
            "params": args.params,
            "active_params": args.params,
            "weight_bytes": memory.weight_bytes(args.params, args.precision),
        }
    else:
        raise UsageError("give --params P or --model NAME")
    return out


def cmd_peft(args) -> dict:
    name, shape = _shape(args.model, _data(args))
    targets = _lora_targets(args.targets, shape, args.rank, args.experts)
    try:
        trainable = peft.variant_params(shape, args.rank, targets, args.variant, args.experts)
    except (ValueError, NotImplementedError) as error:
        raise UsageError(str(error)) from None
    out = {
        "method": "lora",
        "model": name,
        "rank": args.rank,
        "targets": targets,
        "trainable_params": trainable,
    }
    if args.variant != "lora":
        out["variant"] = args.variant
    if args.experts is not None:
        out["experts"] = args.experts
    if shape.vocab_size:  # the total needs the embedding size
        total = param_counts(shape)["total"]
        out |= {"total_params_from_shape": total, "trainable_fraction": trainable / total}
    return out


def cmd_sft(args) -> dict:
    name, shape = _shape(args.model, _data(args))
    row = catalog.lookup("models", name, _data(args))
    params = float(row["params"]) if not pd.isna(row["params"]) else None
    if params is None:
        params = float(param_counts(shape)["total"])
    tokens = sft.sft_tokens(args.examples, args.tokens_per_example, args.epochs)
    # compute follows the parameters each token uses (a mixture of experts' active ones);
    # memory below holds them all
    active = row.get("active_params")
    active = params if active is None or pd.isna(active) else float(active)
    flops = sft.sft_flops(active, tokens, args.method)
    out: dict = {"model": name, "params": params, "method": args.method, "tokens": tokens}
    if active != params:
        out["active_params"] = active
    out["flops"] = flops
    chip = catalog.lookup("hardware", args.chip, _data(args))
    chip_name, peak, _ = _chip_peak(args.chip, _data(args))
    if pd.isna(chip["memory_gb"]):
        raise UsageError(f"{chip_name}: the catalog has no memory size for this chip")
    memory_gb = float(chip["memory_gb"])
    if args.method == "full":
        state = memory.training_state_bytes(params)
        gpus = sft.gpus_for_full_finetune(params, memory_gb)
    else:
        targets = _lora_targets(args.targets, shape, args.rank, args.experts)
        try:
            trainable = peft.variant_params(shape, args.rank, targets, args.variant, args.experts)
        except (ValueError, NotImplementedError) as error:
            raise UsageError(str(error)) from None
        state = memory.finetune_bytes(params, args.method, trainable=trainable)["total"]
        gpus = sft.gpus_to_hold(state, memory_gb)
        out["trainable_params"] = trainable
    chips = max(args.chips, gpus)
    if args.mfu is None:
        args.mfu = reported_sft_mfu(data=_data(args))
        out["mfu_from"] = f"sft_runs.csv: {DEFAULT_MFU_RUN}"
    hours = sft.hours(flops, chips, peak, args.mfu)
    out |= {
        "state_bytes_without_activations": state,
        "chip": chip_name,
        "min_chips_for_memory": gpus,
        "chips": chips,
        "mfu": args.mfu,
        "hours": hours,
        "chip_hours": hours * chips,
    }
    return out


#: The fine-tuning run whose reported time sets ``sft``'s default utilisation: the book's
#: sft-cost chapter derives the same figure from the same row.
DEFAULT_MFU_RUN = "Alpaca 7B fine-tuning"


def reported_sft_mfu(run: str = DEFAULT_MFU_RUN, data: Path | None = None) -> float:
    """The utilisation a reported SFT run implies: 6ND (or 4ND) FLOPs over its reported
    chip-seconds, D taken at the run's maximum tokens per example (so an upper bound).

    N is the base model's parameter count when the fine-tuned model names one (fine-tuning
    trains the base's weights), as in the sft-cost chapter.
    """
    row = catalog.lookup("sft_runs", run, data)
    model = catalog.lookup("models", row["model"], data)
    if not pd.isna(model["base_model"]):
        model = catalog.lookup("models", model["base_model"], data)
    missing = [c for c in ("hours", "examples", "max_tokens", "epochs") if pd.isna(row[c])]
    if pd.isna(model["params"]) or missing:
        raise UsageError(f"{run}: sft_runs.csv lacks {missing or ['params']}; give --mfu")
    tokens = sft.sft_tokens(row["examples"], row["max_tokens"], row["epochs"])
    flops = sft.sft_flops(float(model["params"]), tokens, row["method"])
    _, peak, _ = _chip_peak(row["chip"], data)
    return compute.implied_mfu(flops, int(row["chip_count"]), peak, float(row["hours"]) * 3600)


def _params_and_shape(name: str, data: Path | None) -> tuple[str, float, Shape]:
    name, shape = _shape(name, data)
    row = catalog.lookup("models", name, data)
    params = float(row["params"]) if not pd.isna(row["params"]) else param_counts(shape)["total"]
    return name, float(params), shape


def cmd_rlhf_memory(args) -> dict:
    """Per-GPU memory of the RL stage of RLHF (llmbook.rlhf_cost.step3_memory_bytes)."""
    from llmbook import rlhf_cost

    actor_name, actor_params, actor = _params_and_shape(args.actor, _data(args))
    critic_name, critic_params, critic = _params_and_shape(args.critic, _data(args))
    if args.zero not in (0, 1, 2, 3):
        raise UsageError(f"--zero must be 0, 1, 2 or 3, got {args.zero}")
    smallest = min(actor_params, critic_params)
    if args.gpus > smallest:
        raise UsageError(
            f"--gpus {args.gpus} leaves less than one parameter per GPU "
            f"(the smaller model has {smallest:.4g}); at most {int(smallest)}"
        )
    lora = 0
    if args.lora_rank:
        targets = ("q", "k", "v", "o", "gate", "up", "down") if actor.gated else (
            "q", "k", "v", "o", "up", "down")  # fmt: skip
        lora = peft.lora_params(actor, args.lora_rank, targets)
    if args.method in ("ppo", "dpo") and args.group != 1:
        raise UsageError(f"--group applies to grpo and rloo only, not {args.method}")
    parts = rlhf_cost.step3_memory_bytes(
        actor, actor_params, critic, critic_params, args.gpus, args.zero, lora, args.batch,
        args.prompt_tokens, args.answer_tokens, method=args.method, group=args.group,
    )  # fmt: skip
    out = {
        "method": args.method,
        "group": args.group,
        "actor": actor_name,
        "actor_params": actor_params,
        "critic": critic_name,
        "critic_params": critic_params,
        "gpus": args.gpus,
        "zero_stage": args.zero,
        "actor_lora_params": lora,
    }
    keys = {
        "actor (trained)": "actor_bytes",
        "reference (frozen)": "reference_bytes",
        "critic (trained)": "critic_bytes",
        "reward model (frozen)": "reward_model_bytes",
        "KV cache (generation)": "kv_cache_bytes",
        "activations (training)": "activation_bytes",
        "total": "total_bytes_per_gpu",
    }
    out |= {keys[k]: v for k, v in parts.items()}
    if args.chip:
        row = catalog.lookup("hardware", args.chip, _data(args))
        if pd.isna(row["memory_gb"]):
            raise UsageError(f"{row['chip']}: the catalog has no memory size for this chip")
        out |= {"chip": row["chip"], "chip_memory_gb": float(row["memory_gb"])}
        out["fits"] = memory.fits(parts["total"], float(row["memory_gb"]))
    return out


def cmd_optimal(args) -> dict:
    if args.law == "approach1":
        params, tokens = scaling.approach1(args.flops)
        source = "hoffmann2022training: Table 3 (Approach 1)"
    else:
        law = scaling.LAWS[args.law]
        params, tokens = law.optimal(args.flops)
        source = law.source
    return {
        "flops": args.flops,
        "law": args.law,
        "params": params,
        "tokens": tokens,
        "tokens_per_param": tokens / params,
        "source": source,
    }


def cmd_generate(args) -> dict:
    """Greedy completion by SmolLM2-135M-Instruct running in numpy (llmbook.smollm)."""
    from llmbook import assets, smollm

    try:
        result = smollm.generate(
            args.prompt, max_tokens=args.max_tokens, chat=not args.raw, progress=_progress
        )
    except assets.AssetError as error:
        raise UsageError(str(error)) from None
    return {"prompt": args.prompt, **result}


#: A prompt at least this long gets a progress line: its prefill takes seconds in numpy.
LONG_PROMPT_TOKENS = 256


def _progress(stage: str, done: int, total: int) -> None:
    """Progress of ``generate`` on stderr: the prefill of a long prompt is announced (it is one
    long pass with no output), then generated tokens are counted on one line."""
    if stage == "prefill" and total >= LONG_PROMPT_TOKENS:
        print(f"llmbook generate: reading the prompt ({total} tokens)...", file=sys.stderr)
    elif stage == "decode" and sys.stderr.isatty():
        print(f"\rllmbook generate: {done}/{total} tokens", end="", file=sys.stderr, flush=True)


def cmd_validate(args) -> dict:
    from llmbook import paths

    data = (args.data or paths.data_dir()).resolve()
    catalog.validate(data)
    bib = catalog.bibliography(data)
    return {
        "valid": True,
        "data": str(data),
        "tables": catalog.table_names(data),
        "bibliography": str(bib) if bib else None,
    }


def cmd_models(args) -> dict:
    models = catalog.load("models", args.data)
    if args.stage:
        models = models[models["stage"] == args.stage]
    columns = ["model", "organization", "released", "params", "train_tokens", "stage"]
    shown = models[columns].assign(released=models["released"].dt.strftime("%Y-%m"))
    return {"models": shown.astype(object).where(shown.notna(), None).to_dict("records")}


class _VersionAction(argparse.Action):
    """Print :func:`_version` on one line (argparse's own action wraps it) and exit 0."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit(0)


def _version() -> str:
    """The package version, and which data package the commands would read: its name, version
    and creation date (``datapackage.json``), a digest of its files (two copies with the same
    digest hold the same data) and where it is."""
    from llmbook import __version__, paths

    try:
        data = paths.data_dir()
    except FileNotFoundError:
        return f"llmbook {__version__}; no data package found"
    try:
        descriptor = json.loads((data / paths.DATAPACKAGE).read_text(encoding="utf-8"))
        name = descriptor.get("name")
    except (OSError, ValueError, AttributeError):
        descriptor, name = {}, "unreadable datapackage.json"
    version = str(descriptor.get("version") or "(no version)")
    created = str(descriptor.get("created") or "")[:10]
    created = f" (created {created})" if created else ""
    digest = catalog.package_digest(data)[:12]
    return f"llmbook {__version__}; data {name} {version}{created} sha256:{digest} ({data})"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llmbook", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version", action=_VersionAction, help="show the version and the data package used"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--data", type=Path, default=None, help="the data folder (default: found)")
        return p

    p = command("budget", "training FLOPs (6ND) and, with a chip, time")
    p.add_argument("--model", help="take params and train_tokens from the catalog")
    p.add_argument("--params", type=positive_number, help="parameters N")
    p.add_argument("--tokens", type=positive_number, help="training tokens D")
    p.add_argument("--chip", help="a chip of hardware.csv, e.g. 'A100 80GB'")
    p.add_argument("--chips", type=positive_int, default=1, help="number of chips (1)")
    p.add_argument("--mfu", type=utilisation, default=0.4, help="utilisation in (0, 1] (0.4)")
    p.set_defaults(run=cmd_budget)

    p = command("memory", "bytes of weights (and KV cache with --model)")
    p.add_argument("--model", help="a model of architectures.csv")
    p.add_argument("--params", type=positive_number, help="parameters N")
    p.add_argument(
        "--precision", default="bf16", help="fp32, bf16, fp16, int8, int4, nf4, Q4_0 ..."
    )
    p.add_argument("--context", type=positive_int, help="tokens per sequence for the KV cache")
    p.add_argument("--batch", type=positive_int, default=1, help="sequences (default 1)")
    p.add_argument("--kv-precision", default="fp16", help="format of cached keys/values (fp16)")
    p.set_defaults(run=cmd_memory)

    p = command("peft", "trainable parameters of a PEFT method")
    p.add_argument("method", choices=["lora"])
    p.add_argument("--model", required=True, help="a model of architectures.csv")
    p.add_argument("--rank", type=positive_int, default=8)
    p.add_argument("--targets", default="q,v", help="comma-separated: q,k,v,o,gate,up,down")
    p.add_argument("--variant", choices=peft.VARIANTS, default="lora", help="(lora)")
    p.add_argument(
        "--experts", choices=peft.EXPERT_CHOICES, default=None,
        help="mixture of experts: which experts carry gate/up/down adapters",
    )  # fmt: skip
    p.set_defaults(run=cmd_peft)

    p = command("sft", "supervised fine-tuning: FLOPs, GPUs to hold it, hours (no activations)")
    p.add_argument("--model", required=True, help="a model of architectures.csv")
    p.add_argument("--examples", type=positive_number, required=True, help="training examples")
    p.add_argument("--tokens-per-example", type=positive_number, required=True)
    p.add_argument("--epochs", type=positive_number, default=1, help="passes over the data (1)")
    p.add_argument("--method", choices=["full", "lora", "qlora"], default="full")
    p.add_argument("--rank", type=positive_int, default=8, help="LoRA rank (8)")
    p.add_argument("--targets", default="q,v", help="LoRA targets (q,v)")
    p.add_argument("--variant", choices=peft.VARIANTS, default="lora", help="LoRA variant (lora)")
    p.add_argument(
        "--experts", choices=peft.EXPERT_CHOICES, default=None,
        help="mixture of experts: which experts carry gate/up/down adapters",
    )  # fmt: skip
    p.add_argument("--chip", default="A100 80GB", help="a chip of hardware.csv (A100 80GB)")
    p.add_argument("--chips", type=positive_int, default=1, help="at least this many chips (1)")
    p.add_argument(
        "--mfu",
        type=utilisation,
        default=None,
        help="utilisation in (0, 1] (default: what Alpaca's reported run in sft_runs.csv "
        "implies, as in the sft-cost chapter)",
    )
    p.set_defaults(run=cmd_sft)
    p = command("rlhf-memory", "per-GPU memory of RLHF's RL stage (actor, reference, critic, RM)")
    p.add_argument("--actor", required=True, help="the policy, a model of architectures.csv")
    p.add_argument("--critic", required=True, help="critic and reward model (same size)")
    p.add_argument("--gpus", type=positive_int, default=1, help="GPUs (default 1)")
    p.add_argument("--zero", type=int, default=0, help="ZeRO stage 0-3 (default 0)")
    p.add_argument("--lora-rank", type=positive_int, default=None, help="train the actor by LoRA")
    p.add_argument("--batch", type=positive_int, default=1, help="sequences per GPU (default 1)")
    p.add_argument("--prompt-tokens", type=positive_int, default=256, help="(default 256)")
    p.add_argument("--answer-tokens", type=positive_int, default=256, help="(default 256)")
    p.add_argument("--chip", help="a chip of hardware.csv: say whether the total fits")
    p.add_argument(
        "--method",
        choices=["ppo", "grpo", "rloo", "dpo"],
        default="ppo",
        help="ppo (4 models), grpo/rloo (no critic), dpo (no critic, RM, generation)",
    )
    p.add_argument(
        "--group", type=positive_int, default=1, help="answers per prompt for grpo/rloo (default 1)"
    )
    p.set_defaults(run=cmd_rlhf_memory)

    p = command("optimal", "compute-optimal parameters and tokens for a FLOP budget")
    p.add_argument("--flops", type=positive_number, required=True)
    p.add_argument("--law", choices=["chinchilla", "epoch", "approach1"], default="chinchilla")
    p.set_defaults(run=cmd_optimal)

    p = command("generate", "greedy completion by SmolLM2-135M-Instruct in numpy")
    p.add_argument("--prompt", required=True, help="the user message (or raw text with --raw)")
    p.add_argument("--max-tokens", type=positive_int, default=32, help="tokens to generate (32)")
    p.add_argument("--raw", action="store_true", help="continue the text, no chat template")
    p.set_defaults(run=cmd_generate)

    p = command("validate", "validate data/ against data/datapackage.json")
    p.set_defaults(run=cmd_validate)

    p = command("models", "list the model catalog")
    p.add_argument("--stage", choices=["pretrained", "instruction-tuned", "chat"], default=None)
    p.set_defaults(run=cmd_models)
    return parser


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else str(value)


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, sort_keys=True, allow_nan=False))
    elif "models" in result:
        print(pd.DataFrame(result["models"]).to_string(index=False, na_rep=""))
    elif "text" in result and "tokens" in result:
        if sys.stderr.isatty():
            print(file=sys.stderr)  # ends the token counter's line
        print(result["text"])
        print(
            f"llmbook generate: prefill {result['prefill_seconds']:.2f} s for "
            f"{result['prompt_tokens']} prompt tokens; {len(result['tokens'])} tokens in "
            f"{result['seconds']:.2f} s in all",
            file=sys.stderr,
        )
    elif "valid" in result:
        print(
            f"data package valid: {len(result['tables'])} table(s): {', '.join(result['tables'])}"
        )
        if result["bibliography"] is None:
            print(f"(no {catalog.BIBLIOGRAPHY} next to {result['data']}: source keys unchecked)")
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f"{key:<{width}}  {_format(value)}")


#: Options that make no sense together, per command: (option, conflicting options, why).
CONFLICTS = {
    "budget": [
        ("--model", ("--params", "--tokens"), "--model takes params and tokens from the catalog"),
    ],
    "memory": [
        ("--model", ("--params",), "--model takes params from the catalog"),
    ],
}
#: Options that only act with another one given: (option, options it needs, why).
NEEDS = {
    "budget": [
        ("--chips", ("--chip",), "without --chip no time is computed"),
        ("--mfu", ("--chip",), "without --chip no time is computed"),
    ],
    "memory": [
        ("--context", ("--model",), "the KV cache needs a model's shape"),
        ("--batch", ("--model",), "the KV cache needs a model's shape"),
        ("--kv-precision", ("--model",), "the KV cache needs a model's shape"),
    ],
}
#: Options ignored for some value of another: (option, (other option, value), why).
IGNORED_WITH = {
    "sft": [
        ("--targets", ("--method", "full"), "full fine-tuning trains every matrix"),
        ("--rank", ("--method", "full"), "full fine-tuning has no adapter rank"),
        ("--variant", ("--method", "full"), "full fine-tuning has no adapter"),
        ("--experts", ("--method", "full"), "full fine-tuning trains every expert"),
    ],
}


def _given(argv: list[str]) -> set[str]:
    """The long options written on the command line (``--opt`` or ``--opt=value``)."""
    return {a.split("=", 1)[0] for a in argv if a.startswith("--")}


def _refuse_conflicts(args, argv: list[str]) -> None:
    """UsageError for options that conflict or would be silently ignored."""
    given = _given(argv)
    for option, others, why in CONFLICTS.get(args.command, []):
        clash = [o for o in others if o in given]
        if option in given and clash:
            raise UsageError(f"{option} and {'/'.join(clash)} exclude each other: {why}")
    for option, needed, why in NEEDS.get(args.command, []):
        if option in given and not any(n in given for n in needed):
            raise UsageError(f"{option} needs {' or '.join(needed)}: {why}")
    for option, (other, value), why in IGNORED_WITH.get(args.command, []):
        if option in given and getattr(args, other.lstrip("-").replace("-", "_")) == value:
            raise UsageError(f"{option} is ignored with {other} {value}: {why}")


def _non_finite(value, key: str = "") -> str | None:
    """The key of the first number in ``value`` that is inf or NaN, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return key or "result"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _non_finite(v, k)
            if found:
                return found
    if isinstance(value, list):
        for v in value:
            found = _non_finite(v, key)
            if found:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        _refuse_conflicts(args, argv)
        result = args.run(args)
        overflow = _non_finite(result)
        if overflow:
            raise UsageError(
                f"'{overflow}' overflows a floating-point number with these inputs; "
                "give smaller values"
            )
    except catalog.PackageError as error:
        print(f"llmbook {args.command}: {error}", file=sys.stderr)
        return 2
    except catalog.DataError as error:
        print(f"llmbook {args.command}: {error}", file=sys.stderr)
        return 1
    except (
        UsageError,
        catalog.NotFound,
        ValueError,
        NotImplementedError,
        FileNotFoundError,
    ) as error:
        message = error.args[0] if error.args else str(error)
        print(f"llmbook {args.command}: {message}", file=sys.stderr)
        return 2
    try:
        _print(result, args.json)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader closed the pipe (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
