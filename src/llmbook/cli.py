"""The ``llmbook`` command line.

llmbook validate [--data DIR]            check the data package; exit 1 with located errors
llmbook models [--stage STAGE] [--data DIR]   list the catalog's models as a table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmbook import catalog


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmbook", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in [
        ("validate", "validate data/ against data/datapackage.json"),
        ("models", "list the model catalog"),
    ]:
        sub = commands.add_parser(name, help=help_)
        sub.add_argument("--data", type=Path, default=None, help="the data folder (default: found)")
        if name == "models":
            sub.add_argument(
                "--stage", choices=["pretrained", "instruction-tuned", "chat"], default=None
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            catalog.validate(args.data)
            tables = catalog.table_names(args.data)
            print(f"data package valid: {len(tables)} table(s): {', '.join(tables)}")
        elif args.command == "models":
            models = catalog.load("models", args.data)
            if args.stage:
                models = models[models["stage"] == args.stage]
            columns = ["model", "organization", "released", "params", "train_tokens", "stage"]
            shown = models[columns].assign(released=models["released"].dt.strftime("%Y-%m"))
            print(shown.to_string(index=False, na_rep=""))
    except (catalog.DataError, FileNotFoundError, KeyError) as error:
        print(f"llmbook: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
