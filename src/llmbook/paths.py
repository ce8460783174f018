"""Where the project's files are.

The data directory is found, in order, from the ``LLMBOOK_DATA`` environment variable, or by
walking up from the current directory (a chapter executes in its own folder) until a folder
holding ``data/datapackage.json`` is found, or next to the source checkout of this package.
"""

from __future__ import annotations

import os
from pathlib import Path

DATAPACKAGE = "datapackage.json"


def data_dir(start: Path | None = None) -> Path:
    """Return the folder that holds ``datapackage.json``.

    Raises FileNotFoundError with what was searched when no data package is found.
    """
    env = os.environ.get("LLMBOOK_DATA")
    if env:
        path = Path(env)
        if not (path / DATAPACKAGE).is_file():
            raise FileNotFoundError(f"LLMBOOK_DATA={env} has no {DATAPACKAGE}")
        return path.resolve()
    searched = []
    here = (start or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parents[2]
    for folder in [here, *here.parents, package_checkout]:
        candidate = folder / "data"
        searched.append(str(candidate))
        if (candidate / DATAPACKAGE).is_file():
            return candidate
    raise FileNotFoundError(
        f"No data/{DATAPACKAGE} found above {here} nor in the package checkout; "
        "run from inside the book's repository or set LLMBOOK_DATA to the data folder."
    )


def project_root(start: Path | None = None) -> Path:
    """The repository root: the parent of the data folder."""
    return data_dir(start).parent
