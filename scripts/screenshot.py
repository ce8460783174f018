"""Screenshot pages of the built book with headless Chromium (Debian package ``chromium``).

    python scripts/screenshot.py OUT.png [PAGE] [--width 1280] [--height 1100]

Serves ``_build/html`` on a free loopback port, so ES-module scripts (the interactive tables)
load as they do on the published site. PAGE is a path inside the site, with an optional
#anchor (default ``book/intro.html``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("page", nargs="?", default="book/intro.html")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found: install the Debian package (apt-get install chromium)")
    site = ROOT / "_build" / "html"
    if not (site / "index.html").is_file():
        sys.exit(f"{site} has no index.html: build the book first")
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/{args.page}"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={args.width},{args.height}",
                f"--screenshot={args.out.resolve()}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    server.shutdown()
    print(f"{url} -> {args.out}")


if __name__ == "__main__":
    main()
