"""`fastdet detect`: images, folders, globs, videos, cameras and streams in; detections out as
text, JSON, JSONL, CSV, YOLO label files, annotated images or an annotated video.

A user's mistake costs one line and a non-zero exit, never a traceback. One bad image in a folder
is reported and skipped, the rest still processed; a video that fails part-way (or a stream that
closes for good) is reported after every frame before it was written; the exit status says how
many inputs failed. JSONL and CSV lines are flushed frame by frame, so an interrupted run keeps
everything it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .errors import InputError

HELP = "detect objects in images, videos, cameras and streams"


def add_detector_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", help="ONNX detector, OpenVINO IR or export folder (default: $FASTDET_MODEL, "
                                         "else the embedded YOLOX-Nano; see `fastdet models`)")
    p.add_argument("--backend", default="auto", help="auto (default) or a backend name from `fastdet info`")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: any)")
    p.add_argument("--conf", type=float, default=0.25, help="score threshold (default 0.25)")
    p.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (default 0.7)")
    p.add_argument("--max-det", type=int, default=300, help="boxes per image (default 300)")
    p.add_argument("--classes", default=None, help="comma-separated class ids or names to keep")
    p.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")


def parse_classes(text: str | None) -> list[int | str] | None:
    """``"0,car, 2"`` -> [0, "car", 2]; None or empty -> None (every class)."""
    if not text:
        return None
    return [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",") if c.strip()]


def detector_from_args(args: argparse.Namespace):  # -> Detector
    from .detector import Detector

    return Detector(args.model, backend=args.backend, device=args.device, conf=args.conf, iou=args.iou,
                    max_det=args.max_det, classes=parse_classes(args.classes), agnostic=args.agnostic)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+",
                   help="image or video files, folders, glob patterns, camera indices (0) or stream URLs (rtsp://...)")
    add_detector_options(p)
    p.add_argument("--save", metavar="PATH",
                   help="annotated output: a folder (images by name, videos as <stem>.mp4), or a video file "
                        "(out.mp4) for one video, camera or stream")
    p.add_argument("--json", action="store_true", help="print all detections as one JSON list at the end")
    p.add_argument("--jsonl", nargs="?", const="-", metavar="FILE",
                   help="one JSON object per frame as it goes (stdout, or FILE)")
    p.add_argument("--csv", nargs="?", const="-", metavar="FILE", help="one CSV row per box (stdout, or FILE)")
    p.add_argument("--txt", metavar="DIR", help="YOLO label files: <stem>.txt per image, <stem>_<frame:06d>.txt "
                                                "per video frame")
    p.add_argument("--txt-conf", action="store_true", help="with --txt: append each box's score")
    p.add_argument("--live", choices=["auto", "yes", "no"], default="auto",
                   help="latest-frame policy (drop frames to keep up): auto = for cameras and URLs only")
    p.add_argument("--reconnect", type=float, default=30.0, metavar="S",
                   help="keep trying to reopen a camera or stream that dropped for S seconds (default 30; 0: never)")
    ray = p.add_argument_group("Ray Data (pip install 'fastdet[ray]'): SOURCES are files, folders or globs")
    ray.add_argument("--ray", action="store_true", help="run on Ray Data: one Detector per actor")
    ray.add_argument("--out", metavar="OUT", help="with --ray: OUT.parquet (one file, rows by path) or a folder")
    ray.add_argument("--address", default=None, help="with --ray: an existing cluster (default: start one here)")
    ray.add_argument("--actors", type=int, default=1, help="with --ray: Detectors at once (default 1)")
    ray.add_argument("--cpus-per-actor", type=float, default=1.0, help="with --ray: CPUs per actor (default 1)")
    ray.add_argument("--gpus-per-actor", type=float, default=0.0, help="with --ray: 1 for a GPU backend")
    ray.add_argument("--batch-size", type=int, default=16, help="with --ray: images per batch (default 16)")


#: What each output folder holds, for its error messages.
FOLDER_HOLDS = {"--save": "the annotated images", "--txt": "the label files"}


def save_folder(path: str, flag: str = "--save") -> Path:
    """An output folder, created if missing; a clear error when it is a file or not writable."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag} {path!r}: is a file; give a folder for {FOLDER_HOLDS.get(flag, 'the output')}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{flag} {path!r}: cannot create the folder ({e.strerror or e})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path!r}: the folder is not writable")
    return folder


class UniqueNames:
    """Output file names that never overwrite each other: a second ``a/img.jpg`` beside
    ``b/img.jpg`` becomes ``img-2.jpg``."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        stem, suffix = os.path.splitext(name)
        candidate, n = name, 1
        while candidate.lower() in self.used:
            n += 1
            candidate = f"{stem}-{n}{suffix}"
        self.used.add(candidate.lower())
        return candidate


def run_ray(args: argparse.Namespace) -> int:
    from .ray import run_detect

    if not args.out:
        raise InputError("--ray needs --out OUT.parquet (or a folder)")
    if args.save or args.json or args.jsonl or args.csv or args.txt:
        raise InputError("--ray writes parquet (--out); --save, --json, --jsonl, --csv and --txt are for local runs")
    options = {"conf": args.conf, "iou": args.iou, "max_det": args.max_det, "classes": parse_classes(args.classes),
               "agnostic": args.agnostic, "backend": args.backend}
    if args.device:
        options["device"] = args.device
    counts = run_detect(args.sources, args.out, model=args.model, address=args.address, actors=args.actors,
                        cpus_per_actor=args.cpus_per_actor, gpus_per_actor=args.gpus_per_actor,
                        batch_size=args.batch_size, **options)
    print(f"{counts['images']} images, {counts['errors']} errors: {args.out}", file=sys.stderr)
    return 1 if counts["errors"] else 0


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _open_output(spec: str | None, flag: str) -> TextIO | None:
    if spec is None:
        return None
    if spec == "-":
        return sys.stdout
    try:
        return open(spec, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise InputError(f"{flag} {spec!r}: cannot write it ({e.strerror or e})") from None


def plan(specs: list[str]) -> list[tuple[str, Any]]:
    """The inputs ``specs`` name, in order: ("images", [paths]) for each run of image files (one
    pipelined stream), ("video", path) for each video file, ("live", spec) for cameras and URLs.
    A path that names nothing is an InputError here, before anything runs."""
    from .io.images import expand, is_image
    from .io.live import is_url

    inputs: list[tuple[str, Any]] = []
    for spec in specs:
        if is_url(spec) or (spec.isdigit() and not Path(spec).exists()):
            inputs.append(("live", spec))
            continue
        for path in expand(spec):
            if is_image(path):
                if inputs and inputs[-1][0] == "images":
                    inputs[-1][1].append(path)
                else:
                    inputs.append(("images", [path]))
            else:
                inputs.append(("video", path))
    return inputs


class _Run:
    """One `fastdet detect` run: its outputs, counts and failures. Made in two steps: the
    arguments are checked first (nothing is written), and the outputs are opened only once the
    model has loaded, so a mistake anywhere leaves every existing file as it was."""

    def __init__(self, args: argparse.Namespace, inputs: list[tuple[str, Any]]) -> None:
        from .cli_arguments import finite
        from .io.images import is_image, is_video
        from .io.sinks import VideoSink

        self.args = args
        self.closing: list[Any] = []
        self.jsonl: Any = None
        self.csv: Any = None
        self.txt: Any = None
        stdout = [flag for flag, spec in (("--jsonl", args.jsonl), ("--csv", args.csv)) if spec == "-"]
        if len(stdout) == 2:
            raise InputError("--jsonl and --csv both print to stdout: give one of them a FILE")
        if args.json and stdout:
            raise InputError(f"--json and {stdout[0]} both print to stdout: give {stdout[0]} a FILE")
        self.quiet = bool(stdout) or args.json  # stdout carries data: summaries go to stderr
        if args.txt_conf and not args.txt:
            raise InputError("--txt-conf goes with --txt DIR")
        finite(args.reconnect, "--reconnect", 0)  # NaN would be a deadline that never runs out
        sources = {_real(path) for kind, spec in inputs if kind != "live"
                   for path in (spec if kind == "images" else [spec])}
        outputs: dict[str, str] = {}
        for flag, spec in (("--jsonl", args.jsonl), ("--csv", args.csv)):
            if spec in (None, "-"):
                continue
            if is_image(Path(spec)) or is_video(Path(spec)):
                # `--jsonl a.jpg b.jpg` takes a.jpg as the FILE: writing it would destroy an input.
                raise InputError(f"{flag} {spec!r}: an image or video name is not an output file; put {flag} "
                                 f"after the sources, or write {flag}=FILE")
            self._claim(outputs, sources, flag, spec)
        self.save_video_file: Path | None = None
        self.save_dir: Path | None = None
        if args.save:
            save = Path(args.save)
            if is_video(save):
                if len(inputs) != 1 or inputs[0][0] == "images":
                    raise InputError(f"--save {args.save!r}: a video file holds one video, camera or stream; "
                                     "give a folder for images or several sources")
                if save.suffix.lower() not in VideoSink.FOURCC:
                    raise InputError(f"--save {args.save!r}: fastdet writes annotated videos as "
                                     f"{', '.join(sorted(VideoSink.FOURCC))}")
                self._claim(outputs, sources, "--save", args.save)
                self.save_video_file = save
            else:
                if save.exists() and not save.is_dir():
                    raise InputError(f"--save {args.save!r}: is a file; give a folder for the annotated images")
                if is_image(save) and not save.exists():
                    raise InputError(f"--save {args.save!r}: give a folder; annotated images keep their own names "
                                     "in it")
                holds = [p for p in sources if Path(p).parent == Path(_real(save))]
                if holds:
                    raise InputError(f"--save {args.save!r}: the folder holds inputs ({Path(holds[0]).name}); "
                                     "their annotated copies would overwrite them: give another folder")
        self.unique = UniqueNames()
        self.records: list[dict[str, Any]] = []
        self.failed = 0
        self.total = 0

    @staticmethod
    def _claim(outputs: dict[str, str], sources: set[str], flag: str, spec: str) -> None:
        """Refuses an output file that is an input or another output of this run."""
        real = _real(Path(spec))
        if real in sources:
            raise InputError(f"{flag} {spec!r}: is one of the inputs; writing it would destroy it")
        if real in outputs:
            raise InputError(f"{flag} {spec!r}: {outputs[real]} writes the same file")
        outputs[real] = flag

    def open(self) -> None:
        """Opens the outputs (files truncated, folders made): after every check and the model load."""
        from .io.sinks import CsvSink, JsonlSink, YoloTxtSink

        args = self.args
        self.jsonl = self._sink(JsonlSink, _open_output(args.jsonl, "--jsonl"))
        self.csv = self._sink(CsvSink, _open_output(args.csv, "--csv"))
        if args.txt:
            self.txt = YoloTxtSink(save_folder(args.txt, "--txt"), with_conf=args.txt_conf)
        if args.save and self.save_video_file is None:
            self.save_dir = save_folder(args.save, "--save")

    def _sink(self, kind: Any, out: TextIO | None) -> Any:
        if out is None:
            return None
        sink = kind(out)
        self.closing.append(sink)
        if out is not sys.stdout:
            self.closing.append(out)
        return sink

    def fail(self, where: str, error: BaseException) -> None:
        from tqdm import tqdm

        self.failed += 1
        message = getattr(error, "strerror", None) or str(error)
        if where and where not in message:
            message = f"{where}: {message}"
        tqdm.write(f"fastdet: error: {message}", file=sys.stderr)
        if self.args.json:
            self.records.append({"image": where, "error": message})

    def write(self, item: Any, video: bool) -> None:
        """Every output of one frame's result."""
        dets = item.detections
        if self.jsonl:
            self.jsonl.write(item)
        if self.csv:
            self.csv.write(item)
        if self.txt:
            self.txt.write(item)
        if self.args.json:
            record: dict[str, Any] = {"image": item.source, "height": dets.image_shape[0], "width": dets.image_shape[1]}
            if video:
                record.update(frame=item.source_frame, timestamp_ms=item.timestamp_ms)
            record["detections"] = dets.to_list()
            self.records.append(record)

    def close(self) -> None:
        for c in self.closing:
            c.close()


def _counts(dets: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for b in dets:
        counts[b.name] = counts.get(b.name, 0) + 1
    return counts


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing"


def detect_images(run: _Run, det: Any, paths: list[Path]) -> None:
    """A run of image files as one pipelined stream; a bad image is reported in its place."""
    from tqdm import tqdm

    from .io.images import ImageFiles

    run.total += len(paths)
    bar = tqdm(total=len(paths), unit="img", file=sys.stderr, disable=len(paths) < 2 or None, leave=False)
    with det.stream(ImageFiles(paths), on_error=lambda e, where, _: run.fail(where, e)) as stream:
        for item in stream:
            run.write(item, video=False)
            if run.save_dir is not None:
                item.detections.save(run.save_dir / run.unique(Path(item.source).name), item.frame, rgb=item.rgb)
            if not run.quiet:
                tqdm.write(f"{item.source}: {_summary(_counts(item.detections))}", file=sys.stdout)
            bar.update()
    bar.close()


def detect_video(run: _Run, det: Any, kind: str, spec: Any) -> None:
    """A video file, camera or stream, frame by frame into every output, with a progress bar
    (frames, frames/s); a failure part-way is reported after everything before it was written."""
    from .errors import Error
    from .io import open_source

    args = run.args
    run.total += 1
    live = {"auto": None, "yes": True, "no": False}[args.live]
    try:
        source = open_source(spec if kind == "live" else Path(spec), live=live, reconnect_s=args.reconnect)
    except (Error, OSError) as e:
        run.fail(str(spec), e)
        return
    with source:  # let the file or camera go even when nothing below gets to read it
        frames, peak, seconds, stream, video_sink = _run_video(run, det, kind, spec, source)
    line = f"{source.name}: {frames} frames, {frames / max(seconds, 1e-9):.1f} frames/s"
    if stream.dropped:
        line += f", {stream.dropped} dropped to keep up"
    line += f"; most in one frame: {_summary(peak)}"
    if video_sink is not None and video_sink.frames:
        line += f"; annotated video saved to {video_sink.path}"
    print(line, file=sys.stderr if run.quiet else sys.stdout)


def _run_video(run: _Run, det: Any, kind: str, spec: Any, source: Any) -> tuple[int, dict[str, int], float, Any, Any]:
    """Streams ``source`` into every output; returns (frames, most of each class in one frame,
    seconds, the stream, the video sink or None)."""
    from tqdm import tqdm

    from .errors import Error
    from .io.sinks import VideoSink, safe_stem

    args = run.args
    fps = getattr(source, "fps", 0.0)
    video_sink = None
    if run.save_video_file is not None:
        video_sink = VideoSink(run.save_video_file, fps)
    elif run.save_dir is not None:
        stem = Path(spec).stem if kind == "video" else safe_stem(source.name)
        video_sink = VideoSink(run.save_dir / run.unique(f"{stem}.mp4"), fps)
    frames = 0
    peak: dict[str, int] = {}
    started = time.perf_counter()
    stream = det.stream(source, reconnect_s=args.reconnect)
    bar = tqdm(total=source.length, unit="frame", file=sys.stderr, disable=None, desc=Path(source.name).name[:30])
    try:
        for item in stream:
            frames += 1
            run.write(item, video=True)
            if video_sink is not None:
                try:
                    video_sink.write(item)
                except (Error, OSError) as e:
                    raise _SaveFailed() from e
            for name, n in _counts(item.detections).items():
                peak[name] = max(peak.get(name, 0), n)
            if stream.dropped:
                bar.set_postfix(dropped=stream.dropped, refresh=False)
            bar.update()
    except BrokenPipeError:  # stdout's reader left: the whole run stops (cli.main), not this source
        raise
    except _SaveFailed as e:  # the annotated video cannot be written: the error is --save's, not the source's
        assert video_sink is not None
        run.fail(f"--save {str(video_sink.path)!r}", e.__cause__ or e)
    except (Error, OSError) as e:  # the source failed part-way: everything before it is written
        run.fail(source.name, e)
    finally:
        stream.close()
        bar.close()
        if video_sink is not None:
            video_sink.close()
    return frames, peak, time.perf_counter() - started, stream, video_sink


class _SaveFailed(Exception):
    """Writing the annotated video failed (the cause says why)."""


#: The Ray options and their defaults: any other value without --ray is a mistake to report.
RAY_DEFAULTS = {"out": None, "address": None, "actors": 1, "cpus_per_actor": 1.0, "gpus_per_actor": 0.0,
                "batch_size": 16}


def run(args: argparse.Namespace) -> int:
    if args.ray:
        return run_ray(args)
    given = [name for name, default in RAY_DEFAULTS.items() if getattr(args, name) != default]
    if given:
        raise InputError(f"--{given[0].replace('_', '-')} goes with --ray")
    inputs = plan(args.sources)  # a path that names nothing stops here: exit 2
    state = _Run(args, inputs)  # every check; nothing written yet
    try:
        det = detector_from_args(args)
        state.open()
        for kind, spec in inputs:
            if kind == "images":
                detect_images(state, det, spec)
            else:
                detect_video(state, det, kind, spec)
    finally:
        state.close()
    if args.json:
        json.dump(state.records, sys.stdout, indent=1)
        sys.stdout.write("\n")
    stills = all(kind == "images" for kind, _ in inputs)
    if state.save_dir is not None and stills:
        print(f"annotated images saved to {state.save_dir}/", file=sys.stderr)
    if state.failed:
        what = "images" if stills else "inputs"
        print(f"fastdet: {state.failed} of {state.total} {what} failed", file=sys.stderr)
        return 1
    return 0
