"""The llmbook command line: its JSON contract; every bad input exits 2 without a traceback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from llmbook import cli

from conftest import edit_cell


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_budget_params_tokens(capsys):
    result = run_json(capsys, "budget", "--params", "175e9", "--tokens", "300e9")
    assert result["flops"] == pytest.approx(3.15e23)


def test_budget_model_and_chip_case_insensitive(capsys):
    result = run_json(
        capsys, "budget", "--model", "llama-65b", "--chip", "a100 80gb", "--chips", "2048",
        "--mfu", "0.476",
    )  # fmt: skip
    assert result["model"] == "LLaMA-65B" and result["chip"] == "A100 80GB"
    assert {"flops", "seconds", "days", "chip_hours"} <= set(result)
    assert result["days"] == pytest.approx(21, rel=0.03)


def test_memory_weights_and_kv_cache(capsys):
    result = run_json(capsys, "memory", "--params", "7e9", "--precision", "int4")
    assert result["weight_bytes"] == 3.5e9
    result = run_json(
        capsys, "memory", "--model", "Meta-Llama-3-8B", "--precision", "bf16", "--context",
        "1000", "--batch", "2",
    )  # fmt: skip
    assert result["kv_cache_bytes"] == 2 * 1000 * 128 * 1024


def test_peft_lora_contract(capsys):
    result = run_json(
        capsys, "peft", "lora", "--model", "GPT-3 175B", "--rank", "1", "--targets", "q,v"
    )
    assert result["trainable_params"] == 4_718_592


def test_optimal_contract(capsys):
    result = run_json(capsys, "optimal", "--flops", "1.21e20", "--law", "approach1")
    assert result["params"] == pytest.approx(1e9, rel=0.02)
    assert result["tokens"] == pytest.approx(20.2e9, rel=0.02)
    assert {"params", "tokens"} <= set(run_json(capsys, "optimal", "--flops", "1e22"))


def test_readable_table_without_json(capsys):
    code, out, _ = run(capsys, "budget", "--params", "1e9", "--tokens", "2e10")
    assert code == 0 and "flops" in out and "1.2e+20" in out


BAD = {
    "unknown model": (["budget", "--model", "gpt3"], "nearest: "),
    "unknown chip": (["budget", "--params", "1", "--tokens", "1", "--chip", "a1000"], "nearest"),
    "negative params": (["budget", "--params", "-5", "--tokens", "1e9"], "positive"),
    "zero tokens": (["budget", "--params", "1e9", "--tokens", "0"], "positive"),
    "not a number": (["memory", "--params", "seven", "--precision", "bf16"], "number"),
    "mfu above one": (["budget", "--params", "1e9", "--tokens", "1e9", "--chip", "H100 SXM",
                       "--mfu", "1.5"], "(0, 1]"),
    "mfu zero": (["budget", "--params", "1e9", "--tokens", "1e9", "--mfu", "0"], "positive"),
    "unknown precision": (["memory", "--params", "1e9", "--precision", "fp5"], "unknown weight"),
    "unknown lora target": (["peft", "lora", "--model", "LLaMA-7B", "--targets", "qkv"], "target"),
    "fractional rank": (["peft", "lora", "--model", "LLaMA-7B", "--rank", "2.5"], "whole"),
    "nothing to budget": (["budget"], "--model"),
    "unsourced tokens": (["budget", "--model", "GPT-4"], "no params"),
    "shape not countable": (["peft", "lora", "--model", "DeepSeek-V3"], "latent"),
    "lora on experts": (["peft", "lora", "--model", "Mixtral-8x7B", "--targets", "up"], "expert"),
    "sft on latent attention": (
        ["sft", "--model", "DeepSeek-V3", "--examples", "10", "--tokens-per-example", "8",
         "--method", "lora"], "latent",
    ),
    "moe without active count": (["budget", "--model", "CPM-2 198B MoE"], "unsourced"),
    "zero max tokens": (["generate", "--prompt", "hi", "--max-tokens", "0"], "positive"),
    "chip without peak": (["budget", "--params", "1", "--tokens", "1", "--chip", "H800"], "peak"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_a_clear_message(capsys, case):
    argv, expected = BAD[case]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and out == ""


def test_console_script_prints_no_traceback(root):
    result = subprocess.run(
        [sys.executable, "-m", "llmbook", "budget", "--model", "no such model"],
        capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "nearest" in result.stderr


def test_the_command_line_does_not_load_the_plotting_library(root):
    """The answers are numbers and tables: starting the command must not pay for matplotlib
    (about 0.5 s of the 1.0 s it took when two modules imported pyplot at the top)."""
    code = "import sys, llmbook.cli; print(sorted(m for m in sys.modules if 'matplotlib' in m))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_validate_ok(root, capsys):
    code, out, _ = run(capsys, "validate", "--data", str(root / "data"))
    assert code == 0 and "data package valid" in out


def test_validate_reports_the_cell_and_fails(data_copy, capsys):
    edit_cell(data_copy / "models.csv", 3, "released", "March 2021")
    code, _, err = run(capsys, "validate", "--data", str(data_copy))
    assert code == 1
    assert "data/models.csv, row 3, column 'released'" in err


def test_models_lists_a_stage(root, capsys):
    code, out, _ = run(capsys, "models", "--stage", "chat", "--data", str(root / "data"))
    assert code == 0 and "ChatGPT" in out and "GPT-3 175B" not in out


def test_generate_contract(capsys):
    result = run_json(capsys, "generate", "--prompt", "What is the capital of France?")
    assert {"text", "tokens", "seconds"} <= set(result)
    assert "Paris" in result["text"]
    assert isinstance(result["tokens"], list) and all(isinstance(t, int) for t in result["tokens"])
    assert 0 < result["prefill_seconds"] < result["seconds"]
    assert result["prompt_tokens"] > 7  # the chat template's system turn and the question


def test_generate_announces_a_long_prompt_and_states_its_prefill_time(capsys):
    code, _, err = run(capsys, "generate", "--prompt", "word " * 300, "--max-tokens", "2")
    assert code == 0
    assert "reading the prompt (" in err  # announced before the long pass
    assert re.search(r"prefill \d+\.\d\d s for \d+ prompt tokens", err), err


def test_sft_full_and_lora(capsys):
    # LLaMA-7B (6.7e9 reported parameters), Alpaca's data at its 512-token maximum, 3 epochs:
    # 52,000 × 512 × 3 = 79,872,000 tokens; full fine-tuning 6ND, LoRA 4ND.
    full = run_json(
        capsys, "sft", "--model", "LLaMA-7B", "--examples", "52000",
        "--tokens-per-example", "512", "--epochs", "3", "--chips", "8",
    )  # fmt: skip
    assert full["tokens"] == 79_872_000
    assert full["flops"] == pytest.approx(6 * 6.7e9 * 79_872_000)
    assert full["min_chips_for_memory"] == 2  # 16 bytes × 6.7e9 = 107 GB over 72 GB usable
    assert full["chips"] == 8
    lora = run_json(
        capsys, "sft", "--model", "LLaMA-7B", "--examples", "52000",
        "--tokens-per-example", "512", "--epochs", "3", "--method", "lora",
    )  # fmt: skip
    assert lora["flops"] == pytest.approx(full["flops"] * 2 / 3)
    assert lora["min_chips_for_memory"] == 1 and lora["trainable_params"] > 0


def test_sft_unknown_model_exits_2(capsys):
    code, _, err = run(
        capsys, "sft", "--model", "no such model", "--examples", "10", "--tokens-per-example", "5"
    )
    assert code == 2 and "Traceback" not in err


def test_rlhf_memory_reproduces_deepspeed_chat_single_gpu_limit(root, capsys):
    # DeepSpeed-Chat blog, Table 3: OPT-6.7B is the largest actor on one A100 40G (with a
    # LoRA actor, as its single-GPU script sets); OPT-13B does not fit there.
    args = ["--critic", "OPT-350M", "--lora-rank", "128", "--chip", "A100 40GB"]
    fits = run_json(capsys, "rlhf-memory", "--actor", "OPT-6.7B", *args)
    too_big = run_json(capsys, "rlhf-memory", "--actor", "OPT-13B", *args)
    assert fits["fits"] and not too_big["fits"]
    assert fits["reference_bytes"] == 2 * 6.7e9
    parts = [k for k in fits if k.endswith("_bytes")]
    assert fits["total_bytes_per_gpu"] == pytest.approx(sum(fits[k] for k in parts))


def test_rlhf_memory_bad_stage(capsys):
    code, _, err = run(capsys, "rlhf-memory", "--actor", "OPT-1.3B", "--critic", "OPT-350M",
                       "--zero", "4")  # fmt: skip
    assert code == 2 and "--zero" in err


def test_budget_of_a_mixture_of_experts_uses_its_active_parameters(capsys):
    """DeepSeek-V3: 6 x 37B active x 14.8T tokens = 3.29e24 FLOPs, not 6 x 671B x 14.8T (18x
    more). At the 2.664M H800 GPU-hours DeepSeek reports for pre-training (report §1, Table 1),
    that is 343 TFLOP/s of model FLOPs per GPU; with the total it would be 6.2 PFLOP/s per GPU,
    more than the dense 16-bit peak of any chip in hardware.csv."""
    from llmbook import catalog

    assert cli.main(["budget", "--model", "DeepSeek-V3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == 671e9 and out["active_params"] == 37e9
    assert out["flops"] == pytest.approx(6 * 37e9 * 14.8e12)
    per_gpu = out["flops"] / (2.664e6 * 3600)
    assert per_gpu == pytest.approx(342.6e12, rel=1e-3)
    peak = catalog.load("hardware")["bf16_tflops_dense"].max() * 1e12
    assert per_gpu < peak < 6 * 671e9 * 14.8e12 / (2.664e6 * 3600)


def test_budget_of_a_dense_model_is_unchanged(capsys):
    assert cli.main(["budget", "--model", "LLaMA-65B", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["active_params"] == out["params"]
    assert out["flops"] == pytest.approx(6 * out["params"] * out["tokens"])


def test_rlhf_memory_methods(root, capsys):
    args = ["--actor", "OPT-1.3B", "--critic", "OPT-350M"]
    ppo = run_json(capsys, "rlhf-memory", *args)
    grpo = run_json(capsys, "rlhf-memory", *args, "--method", "grpo", "--group", "8")
    dpo = run_json(capsys, "rlhf-memory", *args, "--method", "dpo")
    assert grpo["critic_bytes"] == 0 and ppo["critic_bytes"] > 0
    assert dpo["reward_model_bytes"] == 0 and dpo["kv_cache_bytes"] == 0
    assert dpo["total_bytes_per_gpu"] < ppo["total_bytes_per_gpu"]
    code, _, err = run(capsys, "rlhf-memory", *args, "--group", "4")
    assert code == 2 and "--group" in err


@pytest.fixture
def moe_data(data_copy):
    """A copy of data/, whose DeepSeek-V3 rows carry the active count (report abstract: 37B)
    and the MoE and MLA widths of config_671B.json."""
    return data_copy


def test_budget_costs_a_mixture_of_experts_by_its_active_parameters(moe_data, capsys):
    result = run_json(capsys, "budget", "--model", "deepseek v3", "--data", str(moe_data))
    assert result["params"] == 671e9 and result["active_params"] == 37e9
    assert result["flops"] == pytest.approx(6 * 37e9 * 14.8e12)


def test_budget_refuses_a_mixture_of_experts_without_active_parameters(data_copy, capsys):
    row = 1 + next(
        i for i, line in enumerate((data_copy / "models.csv").read_text().splitlines())
        if line.startswith("DeepSeek-V3,")
    )  # fmt: skip
    edit_cell(data_copy / "models.csv", row, "active_params", "")
    edit_cell(data_copy / "models.csv", row, "active_params_basis", "")
    code, _, err = run(capsys, "budget", "--model", "DeepSeek-V3", "--data", str(data_copy))
    assert code == 2 and "mixture of experts" in err and "active" in err
    assert "Traceback" not in err


def test_memory_serves_a_mixture_of_experts(moe_data, capsys):
    result = run_json(
        capsys,
        "memory",
        "--model",
        "DeepSeek-V3",
        "--precision",
        "fp8",
        "--context",
        "1000",
        "--data",
        str(moe_data),
    )
    assert result["weight_bytes"] == 671e9  # all experts must be held
    assert result["active_params"] == 37e9
    # MLA: (512 + 64) values per layer per token, 61 layers, fp16 cache by default
    assert result["kv_cache_bytes"] == 1000 * 61 * 576 * 2
    # one token reads its routed experts only: about 37/671 of the weights
    assert result["decode_weight_bytes_per_token"] < 0.06 * result["weight_bytes"]


@pytest.mark.parametrize("name", ["A100-80GB", "a100 80gb", "a100_80GB"])
def test_chip_names_ignore_case_spaces_and_hyphens(name, capsys):
    result = run_json(capsys, "budget", "--params", "7e9", "--tokens", "1e12", "--chip", name)
    assert result["chip"] == "A100 80GB"


@pytest.mark.parametrize(
    "folder, expected",
    [("missing", "no datapackage.json at"), ("malformed", "is not valid JSON")],
)
def test_validate_a_bad_folder_is_one_line_and_exit_2(tmp_path, capsys, folder, expected):
    target = tmp_path / folder
    target.mkdir()
    if folder == "malformed":
        (target / "datapackage.json").write_text("{not json", encoding="utf-8")
    code, _, err = run(capsys, "validate", "--data", str(target))
    assert code == 2 and expected in err and str(target) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_validate_accepts_a_relative_data_path(root, capsys, monkeypatch):
    monkeypatch.chdir(root)
    code, out, _ = run(capsys, "validate", "--data", "data")
    assert code == 0 and "valid" in out


def test_usage_errors_are_one_line_and_options_are_not_abbreviated(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["budget", "--par", "7e9", "--tokens", "1e12"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and "--par" in err


def test_json_never_carries_infinity(capsys):
    code, out, err = run(capsys, "budget", "--params", "1e308", "--tokens", "1e308", "--json")
    assert code == 2 and out == "" and "overflows" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("llmbook ")


def version_line(capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    return capsys.readouterr().out.strip()


def test_version_names_the_data_packages_version_and_date(capsys, root, monkeypatch):
    from llmbook import __version__

    monkeypatch.setenv("LLMBOOK_DATA", str(root / "data"))
    descriptor = json.loads((root / "data" / "datapackage.json").read_text(encoding="utf-8"))
    line = version_line(capsys)
    assert line.startswith(f"llmbook {__version__}; data replicating-chatgpt-data ")
    assert f" {descriptor['version']} (created {descriptor['created'][:10]}) sha256:" in line
    assert line.endswith(f"({(root / 'data').resolve()})")
    # A wheel ships the data package of its release: the two versions move together.
    assert descriptor["version"] == __version__


def test_version_without_a_data_version_says_so(capsys, root, tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(root / "data", copy)
    descriptor = json.loads((copy / "datapackage.json").read_text(encoding="utf-8"))
    del descriptor["version"], descriptor["created"]
    (copy / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    monkeypatch.setenv("LLMBOOK_DATA", str(copy))
    line = version_line(capsys)
    assert "replicating-chatgpt-data (no version) sha256:" in line and "created" not in line


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["budget", "--model", "LLaMA-7B", "--params", "7e9"], "exclude each other"),
        (["budget", "--params", "7e9", "--tokens", "1e12", "--chips", "8"], "needs --chip"),
        (["budget", "--params", "7e9", "--tokens", "1e12", "--mfu", "0.5"], "needs --chip"),
    ],
)
def test_conflicting_or_ignored_flags_are_refused(capsys, argv, expected):
    code, _, err = run(capsys, *argv)
    assert code == 2 and expected in err


def test_peft_counts_dora_and_the_adapted_experts_of_a_mixture(capsys):
    plain = run_json(capsys, "peft", "lora", "--model", "LLaMA-7B", "--rank", "8",
                     "--targets", "q,v")  # fmt: skip
    dora = run_json(capsys, "peft", "lora", "--model", "LLaMA-7B", "--rank", "8",
                    "--targets", "q,v", "--variant", "dora")  # fmt: skip
    assert dora["trainable_params"] - plain["trainable_params"] == 32 * (4096 + 4096)
    assert dora["variant"] == "dora" and "variant" not in plain
    # Hunyuan-A13B: 64 routed + 1 shared expert of width 3072 in each of 32 layers
    code, _, err = run(capsys, "peft", "lora", "--model", "Hunyuan-A13B", "--targets", "up")
    assert code == 2 and "--experts" in err and "Traceback" not in err
    shared = run_json(capsys, "peft", "lora", "--model", "Hunyuan-A13B", "--targets", "up",
                      "--experts", "shared")  # fmt: skip
    every = run_json(capsys, "peft", "lora", "--model", "Hunyuan-A13B", "--targets", "up",
                     "--experts", "all")  # fmt: skip
    assert shared["trainable_params"] == 32 * 1 * 8 * (4096 + 3072)
    assert every["trainable_params"] == 65 * shared["trainable_params"]
    qlora = run_json(capsys, "sft", "--model", "Hunyuan-A13B", "--examples", "1000",
                     "--tokens-per-example", "512", "--method", "qlora", "--targets", "q,v,up",
                     "--experts", "all", "--chip", "H100 SXM")  # fmt: skip
    assert qlora["trainable_params"] > every["trainable_params"]
    code, _, err = run(capsys, "sft", "--model", "LLaMA-7B", "--examples", "10",
                       "--tokens-per-example", "10", "--experts", "all")  # fmt: skip
    assert code == 2 and "ignored with --method full" in err


def test_sft_of_a_mixture_computes_with_its_active_parameters(capsys):
    # Hunyuan-A13B: 80e9 parameters held, 13e9 used per token (models.csv, reported)
    out = run_json(capsys, "sft", "--model", "Hunyuan-A13B", "--examples", "1000",
                   "--tokens-per-example", "512", "--method", "qlora", "--targets", "q,v",
                   "--chip", "H100 SXM")  # fmt: skip
    assert out["active_params"] == 13e9 and out["params"] == 80e9
    assert out["flops"] == pytest.approx(4 * 13e9 * 512_000)
    dense = run_json(capsys, "sft", "--model", "LLaMA-7B", "--examples", "10",
                     "--tokens-per-example", "10")  # fmt: skip
    assert "active_params" not in dense
