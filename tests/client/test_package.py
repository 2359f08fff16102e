"""`client/` is a distribution of its own: it imports nothing of the server, and it installs
and works alone in a fresh virtual environment."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.client.conftest import Live
from tests.client.live import ROOT

CLIENT = ROOT / "client"
SERVER_PACKAGES = {"core", "adapters", "bot", "tests", "bench"}


def imported_tops(source: Path) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def test_the_client_imports_nothing_of_the_server() -> None:
    sources = sorted(CLIENT.rglob("*.py"))
    assert len(sources) >= 8
    for source in sources:
        assert not imported_tops(source) & SERVER_PACKAGES, source
    runtime = {"httpx", "mcp", "pydantic", "sessionbot_client"}  # mcp: the [mcp] extra only
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    every = set().union(*(imported_tops(s) for s in sources))
    assert every - stdlib <= runtime


def _top_levels(distribution: str, seen: set[str]) -> set[Path]:
    """The installed folders and modules of a distribution and of what it requires."""
    if distribution.lower() in seen:
        return set()
    seen.add(distribution.lower())
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:  # required on other Pythons only
        return set()
    roots = {
        Path(str(dist.locate_file(f.parts[0])))
        for f in dist.files or ()
        if f.parts and f.parts[0] != ".."  # scripts in bin/
    }
    found = {r for r in roots if not r.name.endswith((".dist-info", "__pycache__", ".pth"))}
    for requirement in dist.requires or ():
        if "extra ==" not in requirement:
            name = re.match(r"[A-Za-z0-9._-]+", requirement)
            assert name is not None
            found |= _top_levels(name.group(0), seen)
    return found


def test_the_client_installs_alone_in_a_fresh_virtual_environment(
    tmp_path: Path, live: Live
) -> None:
    """Offline, as tests are: the wheel is built from a copy of `client/` without build isolation
    and installed with `--no-deps --no-index`; httpx and its own requirements (only those) are
    lent from this environment through a `.pth` line, so an import of slack_bolt, discord, a
    database driver or the server's packages fails in the fresh environment."""
    source = shutil.copytree(CLIENT, tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels)]
    subprocess.run([*pip, *build, str(source)], check=True, timeout=120)
    (wheel,) = wheels.glob("sessionbot_client-*.whl")

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=120,
    )
    lent = tmp_path / "lent"
    lent.mkdir()
    for path in _top_levels("httpx", set()):
        (lent / path.name).symlink_to(path)
    site = next((fresh / "lib").glob("python3*/site-packages"))
    (site / "lent.pth").write_text(f"{lent}\n")

    check = f"""
import importlib.util, sessionbot_client
assert sessionbot_client.__file__.startswith({str(fresh)!r}), sessionbot_client.__file__
for name in ("core", "adapters", "bot", "slack_bolt", "discord", "aiosqlite", "asyncpg"):
    assert importlib.util.find_spec(name) is None, name
bot = sessionbot_client.Sessionbot({live.server.url!r}, {live.agent_token!r})
print(bot.start_session("From a fresh environment")["ref"])
"""
    ran = subprocess.run(
        [str(python), "-I", "-c", check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "1"
