"""The quality commands are in the command table, and their modules import nothing heavy (scipy,
matplotlib, pycocotools, OpenCV, onnx load on use) nor the command line module itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastdet.cli import COMMANDS, main

QUALITY = ("eval", "split", "compare", "profile", "registry", "promote")


def test_command_modules_are_light():
    modules = ", ".join(COMMANDS[c] for c in QUALITY)
    code = (f"import sys, {modules}; "
            "print(sorted(m for m in ('scipy', 'matplotlib', 'pycocotools', 'cv2', 'onnx', 'fastdet.cli', "
            "'prometheus_client', 'filelock') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("command", QUALITY)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: fastdet " + command in capsys.readouterr().out


def test_monitor_is_exported_lazily():
    code = "import sys, fastdet; a = 'scipy' in sys.modules; fastdet.Monitor; print(a, 'Monitor' in dir(fastdet))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False True"
