"""The report's charts as inline SVG, drawn from :mod:`.chartdata`.

Each chart is one ``<svg>`` whose element count is bounded by the chart data (a few
hundred bars or bins at most), styled by the page's CSS classes, with a ``<title>`` on
every mark for hover. Every string from the log goes through :func:`esc`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._format import duration_text, plural
from .chartdata import DurationDistribution, StageTimeline, TimelineBar, Utilisation

WIDTH = 960
_AXIS_H = 22
_PAD = 12
_LABEL_CHARS = 32
# Ticks of a time axis: 1 ms ... 48 h, each a round length of time.
_TIME_STEPS = tuple(
    [m * 10**e for e in range(0, 4) for m in (1, 2, 5)]
    + [s * 1000 for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800)]
    + [h * 3_600_000 for h in (6, 12, 24, 48)]
)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(x: float) -> str:
    """A coordinate, short."""
    return f"{x:.1f}".removesuffix(".0")


def _svg(height: float, body: Sequence[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_n(height)}" '
        f'width="100%" role="img" aria-label="{esc(label)}">' + "".join(body) + "</svg>"
    )


def no_data(message: str) -> str:
    return f'<p class="no-data">no data: {esc(message)}</p>'


def _clock(ms: float, step: float, span: float) -> str:
    """A tick label: seconds on a short axis, ``m:ss`` or ``h:mm:ss`` on a long one."""
    if step < 1000:
        return f"{ms / 1000:g} s"
    seconds = round(ms / 1000)
    if span < 60_000:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@dataclass(frozen=True, slots=True)
class _Box:
    """A chart's plot area in SVG units; values grow upwards from ``bottom``."""

    left: float
    right: float
    top: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


def _time_axis(span_ms: int, box: _Box, label_y: float) -> list[str]:
    """Tick lines down the plot, labelled at ``label_y`` above it."""
    step = next((s for s in _TIME_STEPS if span_ms / s <= 10), _TIME_STEPS[-1])
    out = []
    tick = 0
    while tick <= span_ms:
        x = box.left + box.width * tick / max(span_ms, 1)
        out.append(
            f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(box.top)}" '
            f'y2="{_n(box.bottom)}"/>'
            f'<text class="tick" x="{_n(x)}" y="{_n(label_y)}" text-anchor="middle">'
            f"{esc(_clock(tick, step, span_ms))}</text>"
        )
        tick += step
    return out


def _value_ticks(highest: float, *, whole: bool) -> tuple[float, int]:
    """A round tick step (1, 2 or 5 × a power of ten; at least 1 for ``whole`` counts)
    and how many steps reach ``highest``: at most five."""
    if highest <= 0:
        return 1.0, 1
    power = 10.0 ** math.floor(math.log10(highest / 5))
    step = next(m * power for m in (1, 2, 5, 10) if m * power * 5 >= highest)
    if whole:
        step = max(step, 1.0)
    return step, max(math.ceil(highest / step - 1e-9), 1)


def _value_axis(box: _Box, step: float, steps: int) -> list[str]:
    """Grid lines and labels for 0, step, ... up the plot."""
    out = []
    for i in range(steps + 1):
        value = step * i
        y = box.bottom - box.height * i / steps
        label = f"{value:g}" if value < 10_000 else f"{value:,.0f}"
        out.append(
            f'<line class="grid" x1="{_n(box.left)}" x2="{_n(box.right)}" y1="{_n(y)}" '
            f'y2="{_n(y)}"/><text class="tick" x="{_n(box.left - 4)}" y="{_n(y + 4)}" '
            f'text-anchor="end">{label}</text>'
        )
    return out


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- stage timeline -------------------------------------------------------------------

_ROW_H = 16
_BAR_H = 11
_JOB_W = 100
_STAGE_W = 190


def stage_timeline_svg(timeline: StageTimeline) -> str:
    bars = timeline.bars
    if not bars:
        return no_data("the log has no stage with a submission time")
    box = _Box(_JOB_W + _STAGE_W, WIDTH - _PAD, _AXIS_H, _AXIS_H + len(bars) * _ROW_H)
    height = box.bottom + 8
    span = max(timeline.window.span_ms, 1)
    body = _time_axis(span, box, 14)
    previous: str | None = None
    band = 0
    for row, bar in enumerate(bars):
        y = box.top + row * _ROW_H
        job = _jobs_text(bar.jobs)
        if job != previous:
            band += 1
        if band % 2 == 0:
            body.append(f'<rect class="band" x="0" y="{_n(y)}" width="100%" height="{_ROW_H}"/>')
        if job != previous:
            previous = job
            body.append(f'<text class="job-label" x="4" y="{_n(y + _BAR_H)}">{esc(job)}</text>')
        body.append(_timeline_row(bar, y, box, span))
    if timeline.unplaced:
        height += 16
        body.append(
            f'<text class="note" x="{_n(box.left)}" y="{_n(height - 6)}">'
            f"{plural(timeline.unplaced, 'stage attempt')} without a submission time not drawn"
            "</text>"
        )
    return _svg(height, body, "stage timeline")


def _jobs_text(jobs: tuple[int, int] | None) -> str:
    if jobs is None:
        return "no job"
    first, last = jobs
    return f"job {first}" if first == last else f"jobs {first}–{last}"


def _timeline_row(bar: TimelineBar, y: float, box: _Box, span: int) -> str:
    if bar.stage is None:
        label = hover = plural(bar.attempts, "stage attempt")
    else:
        stage_id, attempt = bar.stage
        label = f"stage {stage_id}{f'.{attempt}' if attempt else ''} {bar.name}"
        hover = f"stage {stage_id}{f' (attempt {attempt})' if attempt else ''}: {bar.name}"
    x = box.left + box.width * bar.start_ms / span
    w = max(box.width * (bar.end_ms - bar.start_ms) / span, 1.5)
    classes = " ".join(c for c in ("bar", bar.status, "flagged" if bar.flagged else "") if c)
    hover += (
        f"\n{_jobs_text(bar.jobs)} · {bar.tasks_ended:,} of {plural(bar.num_tasks, 'task')} "
        f"ended · {duration_text(bar.end_ms - bar.start_ms)} · {bar.status}"
        + (" · named in a finding" if bar.flagged else "")
    )
    mark = ""
    if bar.status == "failed":
        mark = f'<text class="fail-mark" x="{_n(x + w + 2)}" y="{_n(y + _BAR_H)}">✕</text>'
    return (
        f'<g class="stage{" flagged" if bar.flagged else ""}"><title>{esc(hover)}</title>'
        f'<text class="stage-label" x="{_JOB_W}" y="{_n(y + _BAR_H)}">{esc(_short(label))}</text>'
        f'<rect class="{classes}" x="{_n(x)}" y="{_n(y + 2)}" width="{_n(w)}" '
        f'height="{_BAR_H}" rx="2"/>{mark}</g>'
    )


# --- task-duration histograms -----------------------------------------------------------

_HIST_H = 150


def task_durations_svg(distribution: DurationDistribution) -> str:
    # Room on the right for the "max" label.
    box = _Box(52, WIDTH - _PAD - 60, 16, _HIST_H - _AXIS_H)
    counts = distribution.counts
    step, steps = _value_ticks(max(counts), whole=True)
    top = step * steps
    body = _value_axis(box, step, steps)
    low, high = distribution.edges_ms[0], distribution.edges_ms[-1]
    width = max(high - low, 1.0)
    bar_w = box.width / len(counts)
    for i, count in enumerate(counts):
        if not count:
            continue
        # An outlier bin is one task among thousands: keep it visible.
        h = max(box.height * count / top, 2.0)
        lo, hi = distribution.edges_ms[i], distribution.edges_ms[i + 1]
        body.append(
            f'<rect class="hist" x="{_n(box.left + i * bar_w + 0.5)}" y="{_n(box.bottom - h)}" '
            f'width="{_n(max(bar_w - 1, 1))}" height="{_n(h)}">'
            f"<title>{esc(duration_text(lo))} – {esc(duration_text(hi))}: "
            f"{esc(plural(count, 'task'))}</title></rect>"
        )
    label_y = box.top - 6
    for cls, ms in (("median", distribution.median_ms), ("max", distribution.max_ms)):
        x = box.left + box.width * (ms - low) / width
        text = esc(f"{cls} {duration_text(ms)}")
        body.append(
            f'<g class="{cls}"><title>{text}</title><line x1="{_n(x)}" x2="{_n(x)}" '
            f'y1="{_n(label_y)}" y2="{_n(box.bottom)}"/>'
            f'<text x="{_n(x + 3)}" y="{_n(label_y)}">{text}</text></g>'
        )
    axis_y = box.bottom + 16
    body.append(
        f'<text class="tick" x="{_n(box.left)}" y="{_n(axis_y)}">{esc(duration_text(low))}</text>'
        f'<text class="tick" x="{_n(box.right)}" y="{_n(axis_y)}" text-anchor="end">'
        f"{esc(duration_text(high))}</text>"
        f'<text class="axis-label" x="{_n(box.left + box.width / 2)}" y="{_n(axis_y)}" '
        'text-anchor="middle">task wall time (launch → finish)</text>'
        f'<text class="axis-label" x="4" y="{_n(label_y)}">tasks</text>'
    )
    return _svg(_HIST_H, body, f"task durations of stage {distribution.stage_id}")


# --- executor utilisation ---------------------------------------------------------------

_UTIL_H = 230


def utilisation_svg(utilisation: Utilisation) -> str:
    box = _Box(52, WIDTH - _PAD, _AXIS_H + 8, _UTIL_H - 26)
    edges = utilisation.edges_ms
    span = max(edges[-1], 1)
    running = utilisation.running_tasks()
    cores = utilisation.cores()
    step, steps = _value_ticks(max([*running, *(cores or ()), 1.0]), whole=False)
    top = step * steps

    def x_at(ms: float) -> float:
        return box.left + box.width * ms / span

    def y_at(value: float) -> float:
        return box.bottom - box.height * value / top

    body = _value_axis(box, step, steps)
    body += _time_axis(span, box, 14)
    bin_width = duration_text(span / len(running))
    body.append(
        f'<path class="running" d="{_steps(edges, running, x_at, y_at, area=True)}">'
        f"<title>running tasks (mean over each {esc(bin_width)})</title></path>"
    )
    if cores is not None:
        body.append(
            f'<path class="cores" d="{_steps(edges, cores, x_at, y_at, area=False)}">'
            "<title>cores of the executors alive</title></path>"
        )
    for change in utilisation.changes:
        parts = []
        if change.added:
            parts.append(f"executors added: {', '.join(change.added)}")
        if change.removed:
            parts.append(f"executors removed: {', '.join(change.removed)}")
        cls = {(True, False): "exec-added", (False, True): "exec-removed"}.get(
            (bool(change.added), bool(change.removed)), "exec-both"
        )
        body.append(
            f'<path class="{cls}" d="M{_n(x_at(change.at_ms))},{_n(box.bottom + 4)} l-5,9 h10 z">'
            f"<title>{esc(' · '.join(parts))}</title></path>"
        )
    return _svg(_UTIL_H, body, "executor utilisation")


def _steps(
    edges: Sequence[int],
    values: Sequence[float],
    x_at: Callable[[float], float],
    y_at: Callable[[float], float],
    *,
    area: bool,
) -> str:
    """A step line (or the area under it) through one value per bin."""
    points = []
    for i, value in enumerate(values):
        y = _n(y_at(value))
        points.append(f"{_n(x_at(edges[i]))},{y}")
        points.append(f"{_n(x_at(edges[i + 1]))},{y}")
    line = " L".join(points)
    if not area:
        return f"M{line}"
    base = _n(y_at(0))
    return f"M{_n(x_at(edges[0]))},{base} L{line} L{_n(x_at(edges[-1]))},{base} Z"
