"""``fastdet serve MODEL_OR_DIR``: a model (or a registry model line) on MLServer, REST and gRPC."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HELP = "serve a model on MLServer (V2 inference protocol over REST and gRPC), with a policy file's rules"

#: MLServer 1.7 supports Python 3.9-3.12.
MAX_PYTHON = (3, 13)

#: The options that make the settings of a served model file or registry line, and their
#: defaults. A settings folder (MODEL_OR_DIR holding settings.json) is served as its files say, so
#: any of them given with one is refused (even at its default value: see _Noted).
SETTINGS: dict[str, object] = {
    "name": None, "host": "127.0.0.1", "port": 8080, "grpc_port": 8081, "metrics_port": 8082, "workers": 1,
    "batch_size": 8, "batch_time_ms": 5.0, "registry": None, "policy": None, "backend": "auto", "conf": None,
    "iou": None, "max_det": None, "classes": None, "threads": None, "max_pixels": None, "decision_log": None,
    "dir": None,
}


class _Noted(argparse.Action):
    """Stores the value, as argparse's default action does, and notes the option as given (in
    ``args.given_settings``), so that one given at its default value is seen too."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given_settings = (*getattr(namespace, "given_settings", ()), self.dest)


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = SETTINGS

    def setting(*flags: str, **kwargs: object) -> None:
        dest = flags[0].lstrip("-").replace("-", "_")
        p.add_argument(*flags, action=_Noted, default=d[dest], **kwargs)  # type: ignore[arg-type]

    p.add_argument("model", nargs="?", metavar="MODEL_OR_DIR",
                   help="an ONNX file or OpenVINO export folder, a registry model line's name, or a folder "
                        "already holding MLServer settings (settings.json; served as its files say, so the "
                        "options below do not apply to it)")
    setting("--name", help="the model's name in the URLs (default: the line's name or the file's stem)")
    setting("--host", help="address to listen on (0.0.0.0: every interface)")
    setting("--port", type=int, help="REST port (default 8080)")
    setting("--grpc-port", type=int, help="gRPC port (default 8081)")
    setting("--metrics-port", type=int, help="Prometheus /metrics port (default 8082)")
    setting("--workers", type=int, help="MLServer inference worker processes (0: inference in the server process)")
    setting("--batch-size", type=int, help="adaptive batching: most images per call (1: off)")
    setting("--batch-time-ms", type=float, help="adaptive batching: longest wait for a batch to fill, in ms (0: off)")
    setting("--registry", metavar="ROOT", help="registry folder (default $FASTDET_REGISTRY)")
    setting("--policy", metavar="FILE", help="the policy file (TOML): clients, keys, limits, routing")
    setting("--backend", help="as fastdet detect (default auto)")
    setting("--conf", type=float, help="score threshold (default 0.25)")
    setting("--iou", type=float, help="NMS IoU threshold (default 0.7)")
    setting("--max-det", type=int, help="boxes per image (default 300)")
    setting("--classes", help="comma-separated class names or ids the model returns")
    setting("--threads", type=int, help="CPU threads per worker (default: the CPUs shared among workers)")
    setting("--max-pixels", type=int, help="largest image accepted, in pixels (default 40 million)")
    setting("--decision-log", metavar="FILE", help="append the router's decision lines here (default: stdout)")
    setting("--dir", metavar="RUN_DIR", help="write the settings here and keep them (default: a temporary "
                                             "folder, removed at exit)")
    p.add_argument("--dry-run", action="store_true", help="print the settings it would use, start nothing")
    p.add_argument("--new-key", action="store_true", help="print a new API key and the hash a policy file stores")


def _classes(text: str | None) -> list[int | str] | None:
    from ..errors import InputError

    if text is None:
        return None
    classes = [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",") if c.strip()]
    if not classes:
        raise InputError(f"serve: --classes: expected comma-separated class names or ids, got {text!r} (leave "
                         f"--classes out to keep every class)")
    return classes


#: The port flags: (attribute, flag).
PORTS = (("port", "--port"), ("grpc_port", "--grpc-port"), ("metrics_port", "--metrics-port"))


def _check_arguments(args: argparse.Namespace) -> None:
    """The server's options, checked before anything is written or started (InputError naming
    the flag): ports, worker and batching counts, and the detector's options as fastdet checks them."""
    from ..call_options import make_options
    from ..cli_arguments import finite
    from ..errors import InputError
    from .settings_files import MAX_DET, model_name

    for attr, flag in PORTS:
        port = getattr(args, attr)
        if not 1 <= port <= 65535:
            raise InputError(f"serve: {flag}: expected a port number from 1 to 65535, got {port}")
    for i, (attr, flag) in enumerate(PORTS):
        for other_attr, other_flag in PORTS[i + 1:]:
            if getattr(args, attr) == getattr(args, other_attr):
                raise InputError(f"serve: {flag} and {other_flag} are both {getattr(args, attr)}; each server "
                                 f"(REST, gRPC, metrics) needs a port of its own")
    if args.workers < 0:
        raise InputError(f"serve: --workers: expected 0 (inference in the server process) or more worker processes, "
                         f"got {args.workers}")
    if args.batch_size < 1:
        raise InputError(f"serve: --batch-size: expected 1 (no batching) or more images per call, "
                         f"got {args.batch_size}")
    finite(args.batch_time_ms, "serve: --batch-time-ms", 0)
    for attr, flag, what in (("threads", "--threads", "CPU threads"), ("max_pixels", "--max-pixels", "pixels")):
        value = getattr(args, attr)
        if value is not None and value < 1:
            raise InputError(f"serve: {flag}: expected a positive number of {what}, got {value}")
    if args.max_det is not None and not 1 <= args.max_det <= MAX_DET:
        raise InputError(f"serve: --max-det: expected 1 to {MAX_DET} boxes per image, got {args.max_det}")
    # The thresholds as a Detector checks them (conf and iou in [0, 1], NaN refused).
    try:
        make_options(0.25 if args.conf is None else args.conf, 0.7 if args.iou is None else args.iou,
                     300 if args.max_det is None else args.max_det, 30000, False)
    except InputError as e:
        name, _, why = str(e).partition(": ")
        raise InputError(f"serve: --{name.replace('_', '-')}: {why}") from None
    if args.name is not None and model_name(args.name) != args.name:
        raise InputError(f"serve: --name {args.name!r}: expected 1-64 letters, digits, '.', '_' or '-' (not "
                         f"starting or ending with '.' or '-'), e.g. {model_name(args.name)!r}")


def _check_settings_folder(args: argparse.Namespace, folder: Path) -> None:
    """A settings folder is served as its files say: an InputError naming every option of SETTINGS
    that was given (it would be ignored)."""
    from ..errors import InputError

    noted = getattr(args, "given_settings", ())
    given = ["--" + name.replace("_", "-") for name, default in SETTINGS.items()
             if name in noted or getattr(args, name, default) != default]
    if given:
        raise InputError(f"serve: {', '.join(given)}: {'does' if len(given) == 1 else 'do'} not apply to a settings "
                         f"folder ({str(folder)!r} holds settings.json): its files decide the ports, the models and "
                         f"their options; edit them, or serve the model file or registry line with these options")


def _check_classes(classes: list[int | str] | None, model: Path) -> None:
    """``--classes`` against the model's class names and class count, as a Detector resolves them
    (reads the model's description on the CPU; skipped when no runtime here can read it)."""
    if classes is None:
        return
    from .. import backends
    from ..call_options import resolve_classes
    from ..errors import BackendUnavailable, InputError

    try:
        info = backends.describe(model)
    except (ImportError, BackendUnavailable):
        return  # no runtime to read it with here; the server checks --classes when it loads the model
    try:
        resolve_classes(classes, info.names, info.head.num_classes)
    except InputError as e:
        raise InputError(f"serve: --{e} (model {model.name})") from None


def _config(args: argparse.Namespace) -> object:
    from ..errors import InputError
    from .settings_files import ServeConfig, model_name

    if not args.model:
        raise InputError("serve: name a model file, a registry model line or a settings folder")
    _check_arguments(args)
    path = Path(args.model).expanduser()
    workers = args.workers
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, workers))
    classes = _classes(args.classes)
    detector = {"backend": args.backend, "conf": args.conf, "iou": args.iou, "max_det": args.max_det,
                "classes": classes, "threads": threads}
    common = dict(host=args.host, http_port=args.port, grpc_port=args.grpc_port, metrics_port=args.metrics_port,
                  workers=workers, batch_size=args.batch_size, batch_time_ms=args.batch_time_ms,
                  detector=detector, policy=Path(args.policy).resolve() if args.policy else None,
                  max_pixels=args.max_pixels,
                  decision_log=Path(args.decision_log).resolve() if args.decision_log else None)
    if path.exists():
        from ..model import check_model_path

        resolved = check_model_path(path).resolve()
        _check_classes(classes, resolved)
        return ServeConfig(name=args.name or model_name(path.stem), model=resolved, **common)
    from ..quality.registry import Registry

    registry = Registry(args.registry)
    if registry.champion(args.model) is None:
        raise InputError(f"serve: {args.model!r} is neither a model file nor a model line of the registry at "
                         f"{registry.root} (fastdet registry list shows them)")
    if classes is not None:
        _check_classes(classes, registry.model_path(args.model))  # the champion: what answers by default
    return ServeConfig(name=args.name or args.model, registry=args.model, registry_root=registry.root.resolve(),
                       **common)


def _check_ports(host: str, ports: list[int]) -> None:
    import errno

    from ..errors import InputError

    address = host if host not in ("", "0.0.0.0") else "0.0.0.0"
    for port in ports:
        try:
            family = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0][0]
        except socket.gaierror as e:
            raise InputError(f"serve: --host {host!r}: cannot resolve it ({e.strerror or e})") from None
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise InputError(f"serve: port {port} on {host} is in use; choose others with --port, "
                                     f"--grpc-port, --metrics-port") from None
                raise InputError(f"serve: cannot listen on {host} port {port}: {e.strerror or e}") from None


def mlserver_command(folder: Path) -> list[str]:
    """``mlserver start FOLDER`` with this interpreter (the venv fastdet runs in)."""
    return [sys.executable, "-c", "import sys; from mlserver.cli import main; sys.argv[0] = 'mlserver'; main()",
            "start", str(folder)]


def check_mlserver() -> None:
    """MLServer importable here, or an ImportError saying what to install."""
    if sys.version_info >= MAX_PYTHON:
        raise ImportError(f"fastdet serve runs on MLServer, which supports Python 3.9-3.12; this is Python "
                          f"{sys.version_info.major}.{sys.version_info.minor}")
    import importlib.util

    if importlib.util.find_spec("mlserver") is None:
        raise ImportError("fastdet serve needs MLServer: pip install 'fastdet[serve]'")


def run(args: argparse.Namespace) -> int:
    if args.new_key:
        from .keys import key_sha256, new_key

        key = new_key()
        print(f"key:        {key}\nkey_sha256: {key_sha256(key)}   (for the policy file; give the key to the client)")
        return 0
    folder = Path(args.model).expanduser() if args.model else None
    if folder is not None and folder.is_dir() and (folder / "settings.json").is_file():
        _check_settings_folder(args, folder)
        if args.dry_run:
            files = {str(p.relative_to(folder)): json.loads(p.read_text())
                     for p in sorted(folder.rglob("*settings.json"))}
            print(json.dumps(files, indent=1))
            return 0
        check_mlserver()
        return _start(folder.resolve(), None)
    if args.policy:
        from .policy import load

        load(Path(args.policy))  # a bad policy is one line now, not a failed server later
    config = _config(args)
    from .settings_files import build, write

    if args.dry_run:
        run_dir = Path(args.dir).resolve() if args.dir else Path("<temporary folder>")
        print(json.dumps(build(config, run_dir), indent=1))  # type: ignore[arg-type]
        return 0
    check_mlserver()
    _check_ports(args.host, [args.port, args.grpc_port, args.metrics_port])
    # Every check has passed: only now a temporary folder, removed whatever happens next.
    temporary = not args.dir
    run_dir = Path(tempfile.mkdtemp(prefix="fastdet-serve-")) if temporary else Path(args.dir).resolve()
    try:
        files = build(config, run_dir)  # type: ignore[arg-type]
        write(files, run_dir, with_key=args.policy is not None)
        print(f"fastdet serve: {config.name} on http://{args.host}:{args.port}/v2/models/{config.name}/infer "  # type: ignore[attr-defined]
              f"(gRPC {args.host}:{args.grpc_port}, metrics :{args.metrics_port}/metrics); settings in {run_dir}",
              file=sys.stderr, flush=True)
        return _start(run_dir, None)
    finally:
        if temporary:
            shutil.rmtree(run_dir, ignore_errors=True)


def _start(folder: Path, remove: Path | None = None) -> int:
    """Runs ``mlserver start`` until it exits; SIGINT/SIGTERM are passed on so it stops cleanly."""
    proc = subprocess.Popen(mlserver_command(folder), cwd=folder)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)
