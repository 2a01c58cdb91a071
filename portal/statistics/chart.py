"""A bar chart's geometry, computed on the server and drawn as inline SVG by the template.

No chart library and no script: the page works with JavaScript off, prints, and passes the CSP.
Pure Python (integers only) so the geometry is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 960
HEIGHT = 280
#: Room for the axis labels.
LEFT = 80
BOTTOM = 40
TOP = 10
MAX_LABELS = 16
#: Width of one label character at the axis font size, in SVG units (a date is 10 characters).
LABEL_CHAR_WIDTH = 8


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    #: Text for the tooltip (<title>), already formatted.
    value_text: str
    #: Show the label under this bar (thinned out when there are many bars).
    show_label: bool
    negative: bool


@dataclass(frozen=True)
class Tick:
    y: int
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    baseline: int


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (value > 0)."""
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def bar_chart(points: list[tuple[str, int]], fmt=str, *, width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """Bars for (label, value) pairs; `fmt` formats values for the tooltips and the axis."""
    plot_height = height - TOP - BOTTOM
    top = _nice_ceiling(max([v for _, v in points if v > 0], default=0) or 1)
    baseline = TOP + plot_height
    slot = (width - LEFT) // max(len(points), 1)
    bar_width = max(slot * 3 // 4, 1)
    # Thin the labels so neighbours never overlap: at most MAX_LABELS, and each needs room for its text.
    longest = max((len(label) for label, _ in points), default=0)
    room = longest * LABEL_CHAR_WIDTH + LABEL_CHAR_WIDTH
    every = max(1, -(-len(points) // MAX_LABELS), -(-room // max(slot, 1)))
    bars = []
    for index, (label, value) in enumerate(points):
        size = min(abs(value), top) * plot_height // top
        bars.append(
            Bar(
                x=LEFT + index * slot + (slot - bar_width) // 2,
                y=baseline - size if value >= 0 else baseline,
                width=bar_width,
                height=size,
                label=label,
                value_text=f"{label}: {fmt(value)}",
                show_label=index % every == 0,
                negative=value < 0,
            )
        )
    ticks = [Tick(baseline - plot_height * i // 4, fmt(top * i // 4)) for i in range(5)]
    return Chart(width, height, bars, ticks, baseline)
