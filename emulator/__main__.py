"""``python -m emulator up [--state-file F]``: the whole topology in the foreground on
free loopback ports; Ctrl-C (or SIGTERM) stops everything it started."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from emulator.topology import EmulatorMissingError, Topology

DEFAULT_STATE = Path(__file__).resolve().parent / ".run" / "state.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the pipeline on local emulators until Ctrl-C")
    up.add_argument("--state-file", type=Path, default=DEFAULT_STATE)
    args = parser.parse_args(argv)
    stopping = threading.Event()
    # Both stop it the same way (a shell starts background jobs with SIGINT ignored, so
    # the handler is installed rather than relying on KeyboardInterrupt).
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopping.set())
    with tempfile.TemporaryDirectory(prefix="spark-copilot-emulator-") as run_dir:
        topology = Topology(Path(run_dir))
        try:
            topology.start()
        except EmulatorMissingError as exc:
            print(f"emulator: {exc}", file=sys.stderr)
            return 3
        try:
            topology.write_state(args.state_file)
            print(f"emulator: up; state in {args.state_file} (Ctrl-C stops)", flush=True)
            stopping.wait()
        finally:
            topology.stop()
            args.state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
