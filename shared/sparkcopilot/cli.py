"""The ``spark-copilot`` command: a thin shell over the core.

Exit codes (DESIGN.md §7): 0 success, 2 bad usage, 3 bad input. Errors are one line on
stderr. Output files are written to a temporary name and renamed, never half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, render
from .analysis import analyze
from .analysis.report import analysis_report
from .config import load_settings
from .errors import EXIT_BAD_INPUT, EXIT_OK, BadInputError, SparkCopilotError, UsageError
from .eventlog import read_application
from .model import Application
from .render.progress import reading_progress
from .summary import render_text, summarize


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cmd_summary(args: argparse.Namespace) -> str:
    settings = load_settings()
    with reading_progress(args.log) as progress:
        application = read_application(args.log, settings.reader, progress=progress)
    summary = summarize(application)
    if args.format == "json":
        return json.dumps(summary.to_json_dict(), indent=2) + "\n"
    return render_text(summary)


def _cmd_analyze(args: argparse.Namespace) -> str:
    settings = load_settings()
    with reading_progress(args.log) as progress:
        application = read_application(args.log, settings.reader, progress=progress)
    analysis = analyze(application, settings.analysis, knowledge=settings.knowledge)
    report = analysis_report(application, analysis)
    if settings.history.record and not args.no_history:
        _record_history(application, settings.history.path)
    if args.format == "json":
        return json.dumps(report, indent=2) + "\n"
    if args.format == "markdown":
        return render.render_markdown(application, report)
    if args.format == "html":
        return render.render_html(application, report)
    # Colour and the terminal's width only when the text goes straight to a terminal.
    to_terminal = args.output in (None, "-") and sys.stdout.isatty()
    return render.render_text(
        application,
        report,
        color=to_terminal,
        width=shutil.get_terminal_size().columns if to_terminal else 100,
    )


def _record_history(application: Application, path: Path) -> None:
    """Append the run to the history train learns from. The report is what the user
    asked for: a history that cannot be written is a warning, not a failure."""
    from .prediction.history import SqliteHistoryStore, record_history  # noqa: PLC0415

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        record_history(application, SqliteHistoryStore(path))
    except (OSError, sqlite3.Error, SparkCopilotError) as exc:
        print(f"spark-copilot: warning: run not recorded in {path}: {exc}", file=sys.stderr)


def _cmd_predict(args: argparse.Namespace) -> str:
    # Deferred: scikit-learn is only needed by predict and train.
    from .prediction.registry import LocalModelRegistry  # noqa: PLC0415
    from .prediction.report import prediction_report, render_prediction_text  # noqa: PLC0415
    from .prediction.simulator import WhatIf  # noqa: PLC0415

    settings = load_settings()
    what_if = WhatIf(args.executors, args.cores, args.shuffle_partitions)
    application = read_application(args.log, settings.reader)
    registry = LocalModelRegistry(settings.history.models_dir)
    report = prediction_report(application, what_if, args.method, registry)
    if args.format == "json":
        return json.dumps(report, indent=2) + "\n"
    return render_prediction_text(report)


def _cmd_train(args: argparse.Namespace) -> str:
    from .prediction.history import SqliteHistoryStore  # noqa: PLC0415
    from .prediction.registry import LocalModelRegistry  # noqa: PLC0415
    from .prediction.report import history_path, render_training_text  # noqa: PLC0415
    from .prediction.training import train  # noqa: PLC0415

    settings = load_settings()
    history = history_path(args.history) if args.history else settings.history.path
    if not history.is_file():
        raise UsageError(f"{history}: no history yet (analyze some logs first)")
    models = Path(args.models) if args.models else settings.history.models_dir
    try:
        result = train(SqliteHistoryStore(history), LocalModelRegistry(models))
    except (OSError, sqlite3.Error) as exc:  # main() reports OSError against a LOG
        raise BadInputError(str(history), f"cannot train: {exc}") from exc
    if args.format == "json":
        return json.dumps(result.to_json_dict(), indent=2) + "\n"
    return render_training_text(result)


def _cmd_tune(args: argparse.Namespace) -> str:
    from .tuning import render_tuning_text, tune  # noqa: PLC0415

    settings = load_settings()
    application = read_application(args.log, settings.reader)
    analysis = analyze(application, settings.analysis, explained=False)
    tuning = tune(application, analysis, args.target, args.goal, settings.analysis)
    if args.format == "json":
        return json.dumps(tuning.to_json_dict(), indent=2) + "\n"
    return render_tuning_text(tuning, analysis.findings)


def _cmd_compare(args: argparse.Namespace) -> str:
    from .comparison import compare, render_comparison_text  # noqa: PLC0415
    from .render.compare import render_comparison_html  # noqa: PLC0415

    settings = load_settings()
    baseline = read_application(args.baseline, settings.reader)
    new = read_application(args.new, settings.reader)
    comparison = compare(baseline, new)
    if args.format == "json":
        return json.dumps(comparison.to_json_dict(), indent=2) + "\n"
    if args.format == "html":
        return render_comparison_html(comparison)
    return render_comparison_text(comparison)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spark-copilot",
        description="Why a Spark application was slow or expensive, and what to change.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    summary = commands.add_parser(
        "summary", help="facts of one application: counts, totals, source and completeness"
    )
    summary.add_argument(
        "log",
        metavar="LOG",
        help="event log: a file, a rolling/Databricks/Spark 1.x directory, or - for stdin",
    )
    summary.add_argument("--format", choices=("json", "text"), default="text")
    summary.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    summary.set_defaults(run=_cmd_summary)

    analyze_ = commands.add_parser(
        "analyze", help="what made the application slow or expensive, and what to change"
    )
    analyze_.add_argument("log", metavar="LOG", help="event log, as for summary")
    analyze_.add_argument("--format", choices=("text", "json", "markdown", "html"), default="text")
    analyze_.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    analyze_.add_argument(
        "--no-history",
        action="store_true",
        help="do not record this run in the history that train learns from",
    )
    analyze_.set_defaults(run=_cmd_analyze)

    predict = commands.add_parser(
        "predict", help="wall time under other executors, cores or shuffle partitions"
    )
    predict.add_argument("log", metavar="LOG", help="event log, as for summary")
    predict.add_argument("--executors", type=int, metavar="N", help="executor count")
    predict.add_argument("--cores", type=int, metavar="N", help="cores per executor")
    predict.add_argument(
        "--shuffle-partitions", type=int, metavar="N", help="spark.sql.shuffle.partitions"
    )
    predict.add_argument(
        "--method",
        choices=("simulator", "model"),
        default="simulator",
        help="replay the tasks (default) or ask the trained model",
    )
    predict.add_argument("--format", choices=("json", "text"), default="text")
    predict.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    predict.set_defaults(run=_cmd_predict)

    train_ = commands.add_parser("train", help="train the runtime model on recorded history")
    train_.add_argument(
        "--history", metavar="URI", help="SQLite history file (default: the history.path setting)"
    )
    train_.add_argument(
        "--models", metavar="DIR", help="model registry (default: the history.models_dir setting)"
    )
    train_.add_argument("--format", choices=("json", "text"), default="text")
    train_.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    train_.set_defaults(run=_cmd_train)

    tune_ = commands.add_parser(
        "tune", help="one apply-ready configuration from all findings, with its prediction"
    )
    tune_.add_argument("log", metavar="LOG", help="event log, as for summary")
    tune_.add_argument(
        "--target",
        choices=("spark-submit", "dataproc", "dataproc-serverless", "databricks"),
        default="spark-submit",
        help="where the job runs: spark-defaults.conf, gcloud --properties, or cluster JSON",
    )
    tune_.add_argument(
        "--goal",
        choices=("time", "cost"),
        default="time",
        help="cost: also fewer executors where the simulator says time barely grows",
    )
    tune_.add_argument("--format", choices=("text", "json"), default="text")
    tune_.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    tune_.set_defaults(run=_cmd_tune)

    compare_ = commands.add_parser(
        "compare", help="why one run was slower or faster than another, stage by stage"
    )
    compare_.add_argument("baseline", metavar="BASELINE", help="event log of the reference run")
    compare_.add_argument("new", metavar="NEW", help="event log of the run to explain")
    compare_.add_argument("--format", choices=("text", "json", "html"), default="text")
    compare_.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    compare_.set_defaults(run=_cmd_compare, log=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], str] = args.run
    try:
        _write_output(run(args), args.output)
    except SparkCopilotError as exc:
        print(f"spark-copilot: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"spark-copilot: {exc.filename or args.log}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
