"""`fastdet bench` and `fastdet serve` argument handling: a bad value is one `fastdet: error:` line
and exit status 2, found before anything is measured, written or started; never a traceback, a
silently ignored option or a leaked temporary folder."""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path

import pytest

from fastdet.bench import regression, runner
from fastdet.cli import main
from fastdet.errors import InputError


def one_error_line(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    """The captured stderr: exactly one `fastdet: error:` line, holding every ``expected`` text."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastdet: error: "), err
    for text in expected:
        assert text in lines[0], (text, err)
    return lines[0]


# -- fastdet bench --baseline/--current ------------------------------------------------------------


def _bench_json(path: Path, medians: dict[str, float]) -> Path:
    path.write_text(json.dumps({"benchmarks": [
        {"name": n, "fullname": f"bench/test_x.py::{n}", "stats": {"median": m}} for n, m in medians.items()]}))
    return path


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    """(baseline, current): one benchmark, twice as slow in current."""
    return _bench_json(tmp_path / "base.json", {"a": 1e-3}), _bench_json(tmp_path / "cur.json", {"a": 2e-3})


BAD_FILES = {
    "entry is a number": ('{"benchmarks": [1]}', "benchmarks[0]"),
    "median is null": ('{"benchmarks": [{"name": "a", "stats": {"median": null}}]}', "benchmarks[0] ('a')"),
    "median is a string": ('{"benchmarks": [{"name": "a", "stats": {"median": "fast"}}]}', "'median'"),
    "median is NaN": ('{"benchmarks": [{"name": "a", "stats": {"median": NaN}}]}', "finite"),
    "median is infinite": ('{"benchmarks": [{"name": "a", "stats": {"median": Infinity}}]}', "finite"),
    "median is negative": ('{"benchmarks": [{"name": "a", "stats": {"median": -1}}]}', "non-negative"),
    "median is a bool": ('{"benchmarks": [{"name": "a", "stats": {"median": true}}]}', "'median'"),
    "no name": ('{"benchmarks": [{"stats": {"median": 1}}]}', "name"),
    "name is a number": ('{"benchmarks": [{"name": 3, "stats": {"median": 1}}]}', "name"),
    "stats is a list": ('{"benchmarks": [{"name": "a", "stats": [1]}]}', "stats"),
    "no stats": ('{"benchmarks": [{"name": "a"}]}', "stats"),
    "no median": ('{"benchmarks": [{"name": "a", "stats": {"mean": 1}}]}', "no statistic 'median'"),
    "top level is a list": ("[1, 2]", "not a pytest-benchmark JSON file"),
    "benchmarks is an object": ('{"benchmarks": {"a": 1}}', "not a pytest-benchmark JSON file"),
    "not JSON": ("{", "not a pytest-benchmark JSON file"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_malformed_benchmark_files_are_one_line_naming_file_and_entry(
        case: str, saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = BAD_FILES[case]
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["bench", "--baseline", str(bad), "--current", str(saved[1])]) == 2
    one_error_line(capsys, "--baseline", "bad.json", expected)
    assert main(["bench", "--baseline", str(saved[0]), "--current", str(bad)]) == 2
    one_error_line(capsys, "--current", "bad.json", expected)
    with pytest.raises(InputError, match="bad.json"):
        regression.load_stats(bad)


@pytest.mark.parametrize("value", ["nan", "NaN%", "inf", "=-inf", "=-5%", "=-0.5"])
def test_max_regression_refuses_non_finite_and_negative(value: str, saved: tuple[Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    flag = ["--max-regression" + value] if value.startswith("=") else ["--max-regression", value]
    assert main(["bench", "--baseline", str(saved[0]), "--current", str(saved[1]), *flag]) == 2
    one_error_line(capsys, "--max-regression", "finite, non-negative")
    assert "ok" not in capsys.readouterr().out


def test_parse_percent_refuses_nan_and_infinity() -> None:
    for bad in ("nan", "inf", float("nan"), float("inf"), -0.1, "-5%"):
        with pytest.raises(InputError, match="--max-regression"):
            regression.parse_percent(bad)
    assert regression.parse_percent("0%") == 0.0
    assert regression.parse_percent(0.25) == pytest.approx(0.25)


MEASURING = [["--json", "x.json"], ["--plot", "x.png"], ["--min-fps", "3"], ["--max-p99-ms", "5"],
             ["--clients", "1,2"], ["--modes", "shared"], ["--requests", "4"], ["--rounds", "2"], ["--frames", "64x64"],
             ["--batch", "1,8"], ["--iters", "3"], ["--warmup", "0"], ["--device", "cuda"],
             ["--backend", "onnxruntime-cpu"]]


@pytest.mark.parametrize("option", MEASURING, ids=[o[0] for o in MEASURING])
def test_comparing_refuses_measuring_options(option: list[str], saved: tuple[Path, Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--baseline", str(saved[0]), "--current", str(saved[1]), *option]) == 2
    one_error_line(capsys, option[0], "does not apply", "--baseline")
    assert not (tmp_path / "x.json").exists()


def test_comparing_names_every_ignored_option_and_allows_no_progress(
        saved: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base, cur = map(str, saved)
    assert main(["bench", "--baseline", base, "--current", cur, "--json", "x.json", "--min-fps", "3"]) == 2
    one_error_line(capsys, "--json, --min-fps", "do not apply")
    assert main(["bench", "model.onnx", "--baseline", base, "--current", cur]) == 2
    one_error_line(capsys, "MODEL")
    # --no-progress changes nothing a comparison computes; the comparison runs (and finds the slowdown)
    assert main(["bench", "--baseline", base, "--current", cur, "--no-progress"]) == 1
    assert "REGRESSED" in capsys.readouterr().out


@pytest.mark.parametrize("option", [["--max-regression", "5%"], ["--stat", "mean"]])
def test_comparison_options_without_baseline_are_refused(option: list[str], monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run", _never_measures)
    assert main(["bench", "model.onnx", *option]) == 2
    one_error_line(capsys, option[0], "--baseline")


# -- fastdet bench MODEL: checks before measuring --------------------------------------------------


def _never_measures(*args: object, **kwargs: object) -> None:
    pytest.fail("the benchmark ran although an argument was bad")


@pytest.mark.parametrize("flag", ["--json", "--plot"])
def test_output_paths_are_checked_before_measuring(flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from fastdet.bench import clients

    monkeypatch.setattr(runner, "run", _never_measures)
    monkeypatch.setattr(clients, "run", _never_measures)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = {str(tmp_path / "nodir" / "r.out"): "no such folder", str(tmp_path): "is a folder",
             str(a_file / "r.out"): "is not a folder"}
    for path, why in cases.items():
        for extra in ([], ["--clients", "1"]):
            assert main(["bench", "model.onnx", flag, path, "--no-progress", *extra]) == 2
            one_error_line(capsys, flag, why)


def test_json_and_plot_must_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run", _never_measures)
    out = str(tmp_path / "r.out")
    assert main(["bench", "model.onnx", "--json", out, "--plot", out]) == 2
    one_error_line(capsys, "--json and --plot")


@pytest.mark.parametrize(("frames", "why"), [("nonexist.jpg", "no such file"), ("0x480", "positive"),
                                             (".", "folder")])
def test_frames_says_both_forms_and_what_is_wrong(frames: str, why: str, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run", _never_measures)
    assert main(["bench", "model.onnx", "--frames", frames]) == 2
    one_error_line(capsys, "--frames", "WIDTHxHEIGHT", "image file", why)


def test_check_frames(tmp_path: Path) -> None:
    assert runner.check_frames("640x480") == (640, 480)
    image = tmp_path / "a.jpg"
    image.write_bytes(b"\xff\xd8")
    assert runner.check_frames(str(image)) == image
    with pytest.raises(InputError, match="no such file"):
        runner.check_frames(str(tmp_path / "missing.jpg"))


@pytest.mark.parametrize("gate", [["--min-fps", "inf"], ["--max-p99-ms", "nan"], ["--min-fps", "0"]])
def test_gate_thresholds_must_be_finite_and_positive(gate: list[str], monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run", _never_measures)
    assert main(["bench", "model.onnx", *gate]) == 2
    one_error_line(capsys, gate[0], "finite, positive")


# -- fastdet serve -------------------------------------------------------------------------------


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's folder for this test, so a leaked fastdet-serve-* folder shows up here."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting MLServer fails the test: these arguments must be refused before."""
    from fastdet.serving import serve_cli

    def start(*args: object, **kwargs: object) -> int:
        pytest.fail("the server was started although an argument was bad")

    monkeypatch.setattr(serve_cli, "_start", start)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


BAD_PORTS = [["--port", "99999"], ["--port", "-1"], ["--port", "0"], ["--grpc-port", "65536"],
             ["--metrics-port", "-5"]]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("option", BAD_PORTS, ids=[" ".join(o) for o in BAD_PORTS])
def test_serve_refuses_ports_outside_1_to_65535(option: list[str], dry_run: bool, two_class_model: Path,
                                                temp_root: Path, no_server: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(two_class_model), *option, *(["--dry-run"] if dry_run else [])]) == 2
    one_error_line(capsys, option[0], "1 to 65535")
    assert list(temp_root.iterdir()) == []


def test_serve_refuses_one_port_for_two_servers(two_class_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(two_class_model), "--dry-run", "--port", "9100", "--metrics-port", "9100"]) == 2
    one_error_line(capsys, "--port and --metrics-port")


def test_serve_port_in_use_leaks_no_folder(two_class_model: Path, temp_root: Path, no_server: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mlserver")
    grpc_port, metrics_port = _free_ports(2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(two_class_model), "--port", str(port), "--grpc-port", str(grpc_port),
                     "--metrics-port", str(metrics_port)]) == 2
    one_error_line(capsys, f"port {port}", "in use")
    assert list(temp_root.iterdir()) == []


def test_serve_removes_its_folder_when_setup_fails(two_class_model: Path, temp_root: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mlserver")
    from fastdet.serving import serve_cli, settings_files

    ports = [str(p) for p in _free_ports(3)]
    args = ["serve", str(two_class_model), "--port", ports[0], "--grpc-port", ports[1], "--metrics-port", ports[2]]

    def refuse(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device", "settings.json")

    monkeypatch.setattr(settings_files, "write", refuse)
    assert main(args) == 2
    one_error_line(capsys, "No space left on device")
    assert list(temp_root.iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    # the server command itself cannot start (Popen fails): the folder goes too
    monkeypatch.setattr(serve_cli, "mlserver_command", lambda folder: [str(temp_root / "no-such-mlserver")])
    assert main(args) == 2
    err = capsys.readouterr().err  # the "fastdet serve: ... on http://..." line came first
    assert err.strip().splitlines()[-1].startswith("fastdet: error: ") and "no-such-mlserver" in err, err
    assert "Traceback" not in err
    assert list(temp_root.iterdir()) == []


BAD_SERVE_OPTIONS = {
    "conf above 1": (["--conf", "5"], "--conf"),
    "conf NaN": (["--conf", "nan"], "--conf"),
    "iou negative": (["--iou", "-0.5"], "--iou"),
    "max-det negative": (["--max-det", "-1"], "--max-det"),
    "max-det zero": (["--max-det", "0"], "--max-det"),
    "max-det above the server's bound": (["--max-det", "10001"], "--max-det"),
    "max-pixels negative": (["--max-pixels", "-5"], "--max-pixels"),
    "max-pixels zero": (["--max-pixels", "0"], "--max-pixels"),
    "threads negative": (["--threads", "-1"], "--threads"),
    "threads zero": (["--threads", "0"], "--threads"),
    "unknown class name": (["--classes", "bogus"], "--classes"),
    "class id out of range": (["--classes", "7"], "--classes"),
    "empty class list": (["--classes", ","], "--classes"),
    "workers negative": (["--workers", "-1"], "--workers"),
    "batch size negative": (["--batch-size", "-1"], "--batch-size"),
    "batch size zero": (["--batch-size", "0"], "--batch-size"),
    "batch time negative": (["--batch-time-ms", "-1"], "--batch-time-ms"),
    "batch time infinite": (["--batch-time-ms", "inf"], "--batch-time-ms"),
    "name with a slash": (["--name", "../x"], "--name"),
}


@pytest.mark.parametrize("case", list(BAD_SERVE_OPTIONS))
def test_serve_dry_run_refuses_bad_options(case: str, two_class_model: Path, temp_root: Path, no_server: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    option, flag = BAD_SERVE_OPTIONS[case]
    assert main(["serve", str(two_class_model), "--dry-run", *option]) == 2
    one_error_line(capsys, flag)
    assert capsys.readouterr().out == ""
    assert list(temp_root.iterdir()) == []


def test_serve_dry_run_keeps_good_options(two_class_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(two_class_model), "--dry-run", "--workers", "0", "--batch-size", "1", "--conf", "0",
                 "--iou", "1", "--max-det", "10000", "--classes", "car, 0", "--threads", "2", "--max-pixels", "100",
                 "--port", "1", "--grpc-port", "65535", "--batch-time-ms", "0", "--name", "my-model.v2"]) == 0
    files = json.loads(capsys.readouterr().out)
    assert files["settings.json"]["parallel_workers"] == 0
    assert (files["settings.json"]["http_port"], files["settings.json"]["grpc_port"]) == (1, 65535)
    extra = files["my-model.v2-detector/model-settings.json"]["parameters"]["extra"]
    assert (extra["classes"], extra["max_det"], extra["threads"], extra["max_pixels"]) == (["car", 0], 10000, 2, 100)
