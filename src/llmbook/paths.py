"""Where the project's files are.

The data directory is found, in order, from the ``LLMBOOK_DATA`` environment variable; by
walking up from the current directory (a chapter executes in its own folder) until a
``data/datapackage.json`` whose package is the book's (:data:`PACKAGE_NAME`) is found, so that
an unrelated project's ``data/`` folder is never adopted; next to the source checkout of this
package; and last, the copy of the data package shipped inside the installed package
(``llmbook/_data``, read through :mod:`importlib.resources`), so that ``pip install llmbook``
gives a working command line anywhere. A checkout and ``LLMBOOK_DATA`` win over the shipped
copy, so an editor always sees their own edits.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

DATAPACKAGE = "datapackage.json"
#: The ``name`` of the book's data package (``data/datapackage.json``).
PACKAGE_NAME = "replicating-chatgpt-data"


def _is_book_data(folder: Path) -> bool:
    """Whether ``folder`` holds the book's data package (not another project's)."""
    try:
        name = json.loads((folder / DATAPACKAGE).read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return (folder / DATAPACKAGE).is_file()  # malformed: let the validator say why
    return name == PACKAGE_NAME


def shipped_data() -> Path | None:
    """The data package installed with the library (a wheel's ``llmbook/_data``), if any."""
    try:
        folder = Path(str(resources.files("llmbook") / "_data"))
    except (ModuleNotFoundError, TypeError):
        return None
    return folder.resolve() if (folder / DATAPACKAGE).is_file() else None


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
    here = (start or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parents[2]
    for folder in [here, *here.parents, package_checkout]:
        candidate = folder / "data"
        if (candidate / DATAPACKAGE).is_file() and _is_book_data(candidate):
            return candidate
    shipped = shipped_data()
    if shipped is not None:
        return shipped
    raise FileNotFoundError(
        f"No data/{DATAPACKAGE} of {PACKAGE_NAME} found above {here}, in the package checkout "
        "or installed with the package; run from inside the book's repository or set "
        "LLMBOOK_DATA to the data folder."
    )


def project_root(start: Path | None = None) -> Path:
    """The repository root: the parent of the data folder."""
    return data_dir(start).parent


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder renamed into
    place, so a reader (another build, another process) sees the old file or the new one, never
    half of one. The temporary name carries the process id, so two writers do not share it.
    Creates the folder; raises :class:`OSError` as writing does."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def package_digest(folder: Path) -> str:
    """One sha256 over the names and contents of the files directly inside ``folder``."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


#: Files of the itables package that the site serves from ``_static``.
ITABLES_ASSETS = ("dt_bundle.js", "dt_bundle.css")
STATIC_DIR = "_static"


def itables_asset_paths() -> list[Path]:
    """Paths of the itables bundle files inside the installed itables package (found without
    importing it, so the build does not load pandas just to copy two files)."""
    from importlib.util import find_spec

    spec = find_spec("itables")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the itables package is not installed")
    folder = Path(spec.origin).parent / "html"
    return [folder / name for name in ITABLES_ASSETS]
