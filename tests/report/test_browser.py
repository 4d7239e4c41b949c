"""report.html of a small real run, opened in headless Chromium (Debian's ``chromium``).

Chromium's own command line is enough: ``--dump-dom`` gives the page after its scripts ran (the report
records whether every picture loaded and whether a script error happened on ``<body>``), and
``--screenshot`` gives the pixels. No driver or extra package is needed. Without a browser the test
skips on a workstation and fails in CI (``CI`` set), where ``.ci/run`` installs one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from theory_of_space.report.html import CHECK_SCRIPT, write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        message = "no headless Chromium found (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _dom(browser: str, page: Path) -> str:
    done = subprocess.run([browser, *FLAGS, "--dump-dom", page.resolve().as_uri()], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _checks(dom: str) -> tuple[int, int, int]:
    match = re.search(r'<body data-images="(\d+)/(\d+)" data-errors="(\d+)"', dom)
    assert match, "the page's load check did not run"
    loaded, images, errors = map(int, match.groups())
    return loaded, images, errors


@pytest.fixture(scope="module")
def report(small_run: Path) -> Path:
    return write_report([small_run], small_run).html_path


def test_the_report_renders_with_every_picture_and_no_script_error(browser, report):
    loaded, images, errors = _checks(_dom(browser, report))
    assert errors == 0 and images >= 1 and loaded == images


def test_every_episode_page_is_reachable_and_renders(browser, report):
    dom = _dom(browser, report)
    links = re.findall(r"href=\"(episodes/\d+\.html)\"", dom)
    assert len(links) == 4
    for link in links:
        page = report.parent / link
        assert page.is_file()
        loaded, images, errors = _checks(_dom(browser, page))
        assert errors == 0 and images >= 1 and loaded == images
        assert "back to the report" in page.read_text()


def test_the_check_sees_a_broken_picture_and_a_script_error(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(f"<html><head><script>{CHECK_SCRIPT}</script></head><body><img src='missing.png'>"
                    "<script>undefined_function();</script></body></html>")
    assert _checks(_dom(browser, page)) == (0, 1, 1)


def test_a_screenshot_of_the_report_is_not_blank(browser, report, tmp_path):
    shot = tmp_path / "shot.png"
    done = subprocess.run([browser, *FLAGS, f"--screenshot={shot}", "--window-size=1200,1600",
                           report.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.005
