"""The README's first command, run as written on a fresh copy of the repository in a fresh virtual
environment: the README and what works can never drift apart.

This is the slowest test (a build of the C++ core and an install from PyPI, through pip's cache;
about a minute or two). It needs PyPI, as the command itself does; deselect it offline with
``pytest -m "not slow"``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The bash blocks of the README's "The two commands" section: [run, test]."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## The two commands\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def test_the_two_commands_section():
    run, test = readme_commands()
    assert "fastdet detect examples/astronaut.jpg" in run and "--model" not in run
    assert test in (REPO / ".ci" / "run").read_text()  # CI runs the README's test command


def _fresh_copy(dest: Path) -> Path:
    """The repository's files as a fresh clone (plus files not committed yet), without build outputs."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an unpacked sdist)
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "out", "__pycache__", ".pytest_cache", "*.so"))
        return dest
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file():  # a tracked file deleted in the work tree is not part of the copy
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.mark.slow
def test_readme_first_command_on_a_fresh_machine(tmp_path, capsys):
    import cv2

    command = readme_commands()[0]
    checkout = _fresh_copy(tmp_path / "fastdet")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # A fresh machine has no sanitizer runtime preloaded either (the sanitizer run's LD_PRELOAD
    # would reach the fresh, uninstrumented install, and OpenVINO cannot load under it).
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "FASTDET_MODEL", "LD_PRELOAD")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    # A fresh CPU machine has no CUDA compiler, so its build is CPU-only; a machine that has one
    # would spend minutes on CUDA code the GPU checks cover, so the build is told what that machine gets.
    env["SKBUILD_CMAKE_DEFINE"] = "FASTDET_CUDA=OFF"
    start = time.monotonic()
    done = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=1800)
    seconds = time.monotonic() - start
    with capsys.disabled():
        print(f"\nREADME first command in a fresh virtual environment: {seconds:.0f} s: {command}")
    assert done.returncode == 0, f"{command!r} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "examples/astronaut.jpg: 1 person" in done.stdout
    saved = cv2.imread(str(checkout / "out" / "astronaut.jpg"))
    original = cv2.imread(str(checkout / "examples" / "astronaut.jpg"))
    assert saved is not None and saved.shape == original.shape == (512, 512, 3)
    assert (cv2.absdiff(saved, original) > 60).any()  # the box and label were drawn
