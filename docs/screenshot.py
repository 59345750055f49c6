"""Screenshot a `truffle report` page with headless Chromium, the whole page at laptop width.

    .venv/bin/python docs/screenshot.py target/report.html docs/report-demo.png

Chromium's --screenshot captures the window, so the page's height is measured first (on a
copy of the page with one line of script that writes it into the DOM).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH = 1000
FLAGS = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"]


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    return found


def page_height(page: Path) -> int:
    probe = "<script>document.body.dataset.height=document.documentElement.scrollHeight</script>"
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "probe.html"
        copy.write_text(page.read_text().replace("</body>", probe + "</body>"))
        dom = subprocess.run(
            [browser(), *FLAGS, f"--window-size={WIDTH},800", "--dump-dom", copy.as_uri()],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    match = re.search(r'data-height="(\d+)"', dom)
    if not match:
        raise SystemExit("could not measure the page")
    return int(match.group(1))


def main(page: Path, output: Path) -> None:
    height = page_height(page)
    subprocess.run(
        [
            browser(),
            *FLAGS,
            f"--window-size={WIDTH},{height}",
            f"--screenshot={output.resolve()}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        check=True,
    )
    print(f"{output}: {WIDTH}x{height}, {output.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
