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
    one_error_line(capsys, gate[0], "expected a finite number above 0")


# -- fastdet bench MODEL: options of the other mode ------------------------------------------------

# Given at their default value too: the clients mode has no batch sizes and no timed-call count,
# a plain run no modes, requests or rounds.
PLAIN_ONLY = [["--batch", "4"], ["--batch", "1"], ["--iters", "50"], ["--iters", "3"]]
CLIENTS_ONLY = [["--modes", "shared"], ["--modes", "shared,per-thread,batching"], ["--requests", "0"],
                ["--requests", "8"], ["--rounds", "3"], ["--rounds", "1"]]


class Reached(Exception):
    """Raised instead of measuring: the arguments were accepted."""


def _reached(seen: dict[str, object]):
    def run(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise Reached

    return run


@pytest.mark.parametrize("option", PLAIN_ONLY, ids=[" ".join(o) for o in PLAIN_ONLY])
def test_clients_mode_refuses_plain_run_options(option: list[str], monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from fastdet.bench import clients

    monkeypatch.setattr(clients, "run", _never_measures)
    assert main(["bench", "model.onnx", "--clients", "1,2", *option]) == 2
    one_error_line(capsys, option[0], "does not apply with --clients", "--requests")


@pytest.mark.parametrize("option", CLIENTS_ONLY, ids=[" ".join(o) for o in CLIENTS_ONLY])
def test_plain_run_refuses_clients_mode_options(option: list[str], monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "run", _never_measures)
    assert main(["bench", "model.onnx", *option]) == 2
    one_error_line(capsys, option[0], "only applies with --clients")


def test_other_mode_options_are_all_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from fastdet.bench import clients

    monkeypatch.setattr(runner, "run", _never_measures)
    monkeypatch.setattr(clients, "run", _never_measures)
    assert main(["bench", "model.onnx", "--clients", "1,2", "--batch", "4", "--iters", "50"]) == 2
    one_error_line(capsys, "--batch, --iters: do not apply with --clients")
    assert main(["bench", "model.onnx", "--modes", "shared", "--requests", "4", "--rounds", "2"]) == 2
    one_error_line(capsys, "--modes, --requests, --rounds: only apply with --clients")


def test_comparing_refuses_mode_options_at_their_default(saved: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for option in (["--batch", "1"], ["--iters", "50"], ["--rounds", "3"], ["--requests", "0"]):
        assert main(["bench", "--baseline", str(saved[0]), "--current", str(saved[1]), *option]) == 2
        one_error_line(capsys, option[0], "does not apply", "--baseline")


@pytest.mark.parametrize(("option", "why"), [(["--iters", "0"], "--iters: expected 1 or more"),
                                             (["--warmup", "-1"], "--warmup: expected 0 or more"),
                                             (["--clients", "1", "--rounds", "0"], "--rounds: expected 1 or more"),
                                             (["--clients", "1", "--requests", "-1"], "--requests: expected 0"),
                                             (["--clients", "1", "--warmup", "-1"], "--warmup: expected 0 or more"),
                                             (["--clients="], "--clients: expected positive counts")])
def test_counts_are_checked_before_measuring(option: list[str], why: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from fastdet.bench import clients

    monkeypatch.setattr(runner, "run", _never_measures)
    monkeypatch.setattr(clients, "run", _never_measures)
    assert main(["bench", "model.onnx", *option]) == 2
    one_error_line(capsys, why)


def test_each_mode_gets_its_options_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastdet.bench import clients

    seen: dict[str, object] = {}
    monkeypatch.setattr(runner, "run", _reached(seen))
    monkeypatch.setattr(clients, "run", _reached(seen))
    with pytest.raises(Reached):
        main(["bench", "model.onnx", "--no-progress"])
    assert (seen["batches"], seen["iters"]) == ([1], 50)
    with pytest.raises(Reached):
        main(["bench", "model.onnx", "--batch", "1,4", "--iters", "7", "--no-progress"])
    assert (seen["batches"], seen["iters"]) == ([1, 4], 7)
    seen.clear()
    with pytest.raises(Reached):
        main(["bench", "model.onnx", "--clients", "1,2", "--no-progress"])
    assert (seen["modes"], seen["requests"], seen["rounds"]) == (["shared", "per-thread", "batching"], 0, 3)
    with pytest.raises(Reached):
        main(["bench", "model.onnx", "--clients", "2", "--modes", "batching", "--requests", "4", "--rounds", "1",
              "--warmup", "0", "--no-progress"])
    assert (seen["clients"], seen["modes"], seen["requests"], seen["rounds"], seen["warmup"]) == (
        [2], ["batching"], 4, 1, 0)


# -- fastdet bench MODEL --frames: bounded synthetic frames ----------------------------------------


@pytest.mark.parametrize("frames", ["100000x100000", "65537x1", "1x65537", "10001x10000", "20000x20000"])
@pytest.mark.parametrize("mode", [[], ["--clients", "1"]], ids=["plain", "clients"])
def test_frames_too_large_is_refused_before_anything_is_allocated(
        frames: str, mode: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from fastdet.bench import clients

    monkeypatch.setattr(runner, "run", _never_measures)
    monkeypatch.setattr(clients, "run", _never_measures)
    assert main(["bench", "model.onnx", "--frames", frames, *mode]) == 2
    one_error_line(capsys, f"--frames {frames!r}", "65536 pixels per side", "100 megapixels")


def test_check_frames_bounds() -> None:
    assert runner.check_frames("65536x1") == (65536, 1)
    assert runner.check_frames("10000x10000") == (10000, 10000)  # 100 megapixels exactly
    for too_large in ("65537x1", "10000x10001", "100000x100000"):
        with pytest.raises(InputError, match="at most 65536 pixels per side"):
            runner.check_frames(too_large)
    # the library path (runner.run / clients.run load their frames through it) refuses it too
    with pytest.raises(InputError, match="--frames"):
        runner.load_frames("100000x100000", 1)


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


# -- fastdet serve SETTINGS_DIR: served as its files say ------------------------------------------


@pytest.fixture
def settings_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    (folder / "m").mkdir(parents=True)
    (folder / "settings.json").write_text(json.dumps({"http_port": 9000, "grpc_port": 9001}))
    (folder / "m" / "model-settings.json").write_text(json.dumps({"name": "m"}))
    return folder


# Given at their default value too (--port 8080, --host 127.0.0.1, --backend auto): the folder's
# settings.json may say otherwise, and it is what decides.
SETTINGS_OPTIONS = [["--name", "x"], ["--host", "0.0.0.0"], ["--host", "127.0.0.1"], ["--port", "9100"],
                    ["--port", "8080"], ["--grpc-port", "9101"], ["--metrics-port", "9102"], ["--workers", "0"],
                    ["--batch-size", "1"], ["--batch-time-ms", "0"], ["--registry", "reg"], ["--policy", "p.toml"],
                    ["--backend", "auto"], ["--backend", "onnxruntime-cpu"], ["--conf", "0.5"], ["--iou", "0.5"],
                    ["--max-det", "10"], ["--classes", "car"], ["--threads", "2"], ["--max-pixels", "100"],
                    ["--decision-log", "d.log"], ["--dir", "run"]]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("option", SETTINGS_OPTIONS, ids=[" ".join(o) for o in SETTINGS_OPTIONS])
def test_serve_settings_folder_refuses_options_it_would_ignore(
        option: list[str], dry_run: bool, settings_folder: Path, temp_root: Path, no_server: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.relative_to(settings_folder) for p in settings_folder.rglob("*"))
    assert main(["serve", str(settings_folder), *option, *(["--dry-run"] if dry_run else [])]) == 2
    one_error_line(capsys, f"serve: {option[0]}: does not apply to a settings folder", "settings.json",
                   "its files decide")
    assert capsys.readouterr().out == ""
    assert sorted(p.relative_to(settings_folder) for p in settings_folder.rglob("*")) == before
    assert list(temp_root.iterdir()) == []


def test_serve_settings_folder_names_every_ignored_option(settings_folder: Path, no_server: None,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(settings_folder), "--port", "9100", "--conf", "0.5", "--workers", "2"]) == 2
    one_error_line(capsys, "--port, --workers, --conf: do not apply")


def test_serve_settings_folder_alone_is_served_as_its_files_say(settings_folder: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from fastdet.serving import serve_cli

    assert main(["serve", str(settings_folder), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["settings.json"]["http_port"] == 9000
    started: list[Path] = []
    monkeypatch.setattr(serve_cli, "check_mlserver", lambda: None)
    monkeypatch.setattr(serve_cli, "_start", lambda folder, remove=None: started.append(folder) or 0)
    assert main(["serve", str(settings_folder)]) == 0
    assert started == [settings_folder.resolve()]


def test_serve_settings_table_covers_every_option() -> None:
    """An option added to `fastdet serve` is either in SETTINGS (refused with a settings folder)
    or deliberately left out here: none is silently ignored by a settings folder."""
    import argparse

    from fastdet.serving import serve_cli

    p = argparse.ArgumentParser()
    serve_cli.add_arguments(p)
    dests = {a.dest for a in p._actions} - {"help", "model", "dry_run", "new_key"}
    assert dests == set(serve_cli.SETTINGS)
