"""axe-core in the browser tests: the serious and critical accessibility violations of a page.

axe-core comes from npm (pinned in tests/a11y/package.json + package-lock.json) and is installed
with `npm ci` into tests/a11y/node_modules the first time a test needs it; no CDN, nothing vendored.
Pages are opened with bypass_csp=True so the script can be evaluated under our own strict CSP.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

A11Y_DIR = Path(__file__).resolve().parent / "a11y"
AXE_JS = A11Y_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def axe_source() -> str:
    if not AXE_JS.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core needs npm (apt-get install npm) to be installed once")
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=A11Y_DIR, check=True)
    return AXE_JS.read_text(encoding="utf-8")


async def blocking_violations(page: Any) -> list[dict[str, Any]]:
    """Serious/critical WCAG 2 A/AA violations on the page as it is now (shadow roots included)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source())
    result = await page.evaluate(
        """async () => {
            const found = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}});
            return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return [violation for violation in result if violation["impact"] in BLOCKING]
