"""A real layout check of the campaign report: headless Chromium screenshots.

``python -m harness.screenshots OUT`` (``make report-shots``) runs four campaigns into
``OUT`` (the demo, a register run whose proxy serves stale reads, a monitor run whose
proxy drops updates, a list-append run whose proxy serves stale reads: the failing
ones are what a report must explain), takes a screenshot of each ``report.html`` (and
of a checker's own page: the failing register run's ``linear.html``, the list-append
run's ``elle.html``) into ``OUT/<name>.png``, and fails (exit 1) if a screenshot is blank.  Given report
folders after ``OUT`` it only takes their screenshots.  Exit 3 when it cannot run (no
browser: the message says what to install).

The pieces are small and apart: ``find_browser``, ``screenshot`` (one page to one PNG,
a subprocess with a timeout) and ``blank_reason`` (pure: PNG bytes in, a reason or None
out), so the test can take them one by one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BROWSERS = ("chromium", "chromium-headless-shell", "chrome-headless-shell", "google-chrome")
INSTALL = "apt-get install -y --no-install-recommends chromium-headless-shell"
EXIT_OK, EXIT_BLANK, EXIT_UNUSABLE = 0, 1, 3


class ScreenshotError(RuntimeError):
    """The browser could not take the screenshot (the message says why)."""


def find_browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 2400,
               browser: str | None = None, timeout_s: float = 90.0) -> Path:
    """``page`` rendered by headless Chromium at ``width`` x ``height`` into ``png``."""
    browser = browser or find_browser()
    if browser is None:
        raise ScreenshotError(f"no headless Chromium found; as root run: {INSTALL}")
    if not page.is_file():
        raise ScreenshotError(f"{page}: no such page")
    png.unlink(missing_ok=True)
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--allow-file-access-from-files", f"--window-size={width},{height}",
           f"--screenshot={png}", page.resolve().as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired as e:
        raise ScreenshotError(f"{browser} took more than {timeout_s:.0f} s on {page}") from e
    if not png.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ScreenshotError(f"{browser} wrote no screenshot of {page}: {tail[0]}")
    return png


def blank_reason(data: bytes, *, min_ink: float = 0.02, min_colors: int = 16) -> str | None:
    """Why a screenshot looks blank or broken (None: it does not): almost all of it one
    colour, or too few colours for a page with text and pictures."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        colors = rgb.getcolors(1 << 24) or []
        total = rgb.size[0] * rgb.size[1]
    if not colors:
        return "empty image"
    top = max(c for c, _ in colors)
    if 1 - top / total < min_ink:
        return f"{100 * top / total:.1f}% of it is one colour"
    if len(colors) < min_colors:
        return f"only {len(colors)} colours"
    return None


def _campaigns(out: Path) -> dict[str, Callable[[], int]]:
    from harness import demo
    from harness.campaign import main as campaign

    return {
        "demo": lambda: demo.main(["--out", str(out / "demo"), "--quiet"]),
        "register-stale-read": lambda: campaign([
            "--workload", "register", "--nodes", "1", "--workers", "4", "--keys", "2",
            "--time", "5", "--lie", "stale_read:10", "--seed", "1", "--quiet",
            "--out", str(out / "register-stale-read")]),
        "monitor-drop-update": lambda: campaign([
            "--workload", "monitor", "--time", "5", "--lie", "drop_update:3", "--seed",
            "2", "--quiet", "--out", str(out / "monitor-drop-update")]),
        "list-append-stale-read": lambda: campaign([
            "--workload", "list-append", "--workers", "4", "--keys", "3", "--time", "5",
            "--lie", "stale_read:10", "--seed", "1", "--quiet",
            "--out", str(out / "list-append-stale-read")]),
    }


def shoot_all(out: Path, folders: list[Path]) -> list[tuple[Path, str | None]]:
    """Each folder's report (and linear view, if any) as a PNG in ``out``, with why it
    looks blank (None when it does not)."""
    shots = []
    for folder in folders:
        pages = [(folder / "report.html", out / f"{folder.name}.png")]
        for extra in ("linear", "elle"):  # a checker's own page, when it wrote one
            if (folder / f"{extra}.html").is_file():
                pages.append((folder / f"{extra}.html", out / f"{folder.name}-{extra}.png"))
        for page, png in pages:
            screenshot(page, png, height=2400 if page.name == "report.html" else 900)
            shots.append((png, blank_reason(png.read_bytes())))
    return shots


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0].startswith("-"):
        print("usage: python -m harness.screenshots OUT [REPORT_DIR ...]", file=sys.stderr)
        return EXIT_UNUSABLE
    out = Path(args[0])
    if find_browser() is None:
        print(f"screenshots: no headless Chromium; as root run: {INSTALL}", file=sys.stderr)
        return EXIT_UNUSABLE
    out.mkdir(parents=True, exist_ok=True)
    folders = [Path(a) for a in args[1:]]
    if not folders:
        for name, run in _campaigns(out).items():
            code = run()
            print(f"screenshots: campaign {name} exited {code}", flush=True)
            folders.append(out / name)
    try:
        shots = shoot_all(out, folders)
    except ScreenshotError as e:
        print(f"screenshots: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    bad = 0
    for png, reason in shots:
        print(f"{png}: {'BLANK: ' + reason if reason else 'ok'}")
        bad += reason is not None
    return EXIT_BLANK if bad else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
