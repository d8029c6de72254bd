"""Every HTML page the suite rendered is valid HTML, by the Nu HTML Checker (one JVM run, at the end)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RENDERED_DIR, ROOT, _need

VNU_JAR = Path(os.environ.get("VNU_JAR") or ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar")


def test_every_rendered_page_is_valid_html():
    java = shutil.which("java")
    _need(java is not None, "java is not installed: run `make system-deps`")
    _need(VNU_JAR.is_file(), f"the Nu HTML Checker is missing at {VNU_JAR}: run `make system-deps`")

    pages = sorted(RENDERED_DIR.glob("*.html"))
    assert pages, f"no rendered pages in {RENDERED_DIR}: the hook in conftest.py kept nothing"

    # The checker reports on stderr; given the folder it checks every .html file in it.
    result = subprocess.run(
        [java, "-Xss4m", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", "--skip-non-html",
         str(RENDERED_DIR)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    try:
        messages = json.loads(result.stderr or "{}").get("messages", [])
    except json.JSONDecodeError:
        pytest.fail(f"the checker did not answer in JSON (exit {result.returncode}):\n{result.stderr[:4000]}")

    errors = [m for m in messages if m.get("type") in ("error", "non-document-error")
              or m.get("subType") == "fatal"]
    report = []
    for m in errors:
        name = Path(m.get("url", "?").removeprefix("file:")).name
        line = m.get("lastLine", m.get("firstLine", "?"))
        extract = (m.get("extract") or "").replace("\n", " ").strip()
        report.append(f"{name}:{line}: {m.get('message')}" + (f"\n    {extract}" if extract else ""))
    if errors:
        pytest.fail(f"{len(errors)} HTML errors in {len(pages)} pages ({RENDERED_DIR}):\n" + "\n".join(report))
    assert result.returncode == 0, f"the checker failed (exit {result.returncode}):\n{result.stderr[:4000]}"
