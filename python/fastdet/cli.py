"""The `fastdet` command line: one table of subcommands, each in a module of its own.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``, and
imports nothing heavy at module level; none of them imports this module (no cycles).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

#: name -> module implementing it, in the order `fastdet --help` lists them.
COMMANDS: dict[str, str] = {
    "detect": "fastdet.detect_cli",
    "info": "fastdet.info_cli",
    "models": "fastdet.models_cli",
    "bench": "fastdet.bench.cli",
    "build": "fastdet.build_cli",
    "quantize": "fastdet.quantize_cli",
    "eval": "fastdet.quality.eval_cli",
    "split": "fastdet.quality.split_cli",
    "compare": "fastdet.quality.compare_cli",
    "profile": "fastdet.quality.profile_cli",
    "registry": "fastdet.quality.registry_cli",
    "promote": "fastdet.quality.promote_cli",
    "serve": "fastdet.serving.serve_cli",
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="fastdet", description="Fast, exact YOLO-family detection.")
    parser.add_argument("--version", action="version", version=f"fastdet {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; a fastdet error, an OS error or a missing optional package is one line
    on stderr and exit status 2, never a traceback."""
    from .errors import Error

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader of stdout left (`fastdet detect ... --jsonl | head -1`): not an error of
        # this run. Stop quietly, as a process killed by SIGPIPE would, with nothing more printed
        # (stdout goes to /dev/null so the interpreter's final flush cannot fail again).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (Error, ValueError, OSError, ImportError) as e:
        message = f"{e.strerror}: {e.filename!r}" if isinstance(e, OSError) and e.strerror and e.filename else str(e)
        print(f"fastdet: error: {message}", file=sys.stderr)
        return 2
    except MemoryError as e:  # most often a size asked for that cannot fit: say so in one line
        print(f"fastdet: error: out of memory{f' ({e})' if str(e) else ''}: ask for fewer or smaller images, "
              "batches or outputs", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastdet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
