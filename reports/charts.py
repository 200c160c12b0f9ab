"""Geometry of the usage page's daily-cost bar chart, drawn server-side as inline SVG.

Pure arithmetic on numbers: the view formats the labels and the template draws the shapes, so
the chart needs no JavaScript and scales with its viewBox.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# The viewBox, in SVG user units; the CSS scales it to the page's width.
WIDTH = 640
HEIGHT = 240
TOP = 24  # room for the highest gridline's label
BOTTOM = 32  # room for the day labels
GAP_RATIO = Decimal("0.25")  # share of each day's slot left empty between bars
MAX_LABELS = 8  # day labels shown at most, so they never overlap


@dataclass(frozen=True)
class Bar:
    index: int
    x: float
    y: float
    width: float
    height: float
    label_x: float  # the bar's centre, where its day label goes
    labelled: bool
    minor: bool  # a label that narrow screens hide


@dataclass(frozen=True)
class Gridline:
    value: Decimal
    y: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    gridlines: list[Gridline]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> float:
        return self.height - BOTTOM

    @property
    def label_y(self) -> float:
        return self.height - 8


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 * 10^k at or above `value`: round numbers for the axis."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        ceiling = Decimal(step).scaleb(exponent)
        if ceiling >= value:
            return ceiling.normalize()
    raise AssertionError("unreachable: 10 * 10^k always exceeds value")


def bar_chart(values: Sequence[Decimal], *, gridlines: int = 2) -> BarChart:
    """One bar per value, left to right, on a scale from 0 to a round maximum."""
    top = nice_ceiling(max(values, default=Decimal(0)))
    plot_height = Decimal(HEIGHT - TOP - BOTTOM)
    slot = Decimal(WIDTH) / max(len(values), 1)
    bar_width = slot * (1 - GAP_RATIO)
    label_every = -(-len(values) // MAX_LABELS)  # ceil: at most MAX_LABELS labels
    last = len(values) - 1
    bars = []
    for index, value in enumerate(values):
        height = plot_height * value / top
        # Label every n-th day counting back from today, which is always labelled.
        labelled = (last - index) % label_every == 0
        bars.append(
            Bar(
                index=index,
                x=round(float(slot * index + (slot - bar_width) / 2), 2),
                y=round(float(TOP + plot_height - height), 2),
                width=round(float(bar_width), 2),
                height=round(float(height), 2),
                label_x=round(float(slot * index + slot / 2), 2),
                labelled=labelled,
                minor=labelled and index != last and (last - index) % (2 * label_every) != 0,
            )
        )
    lines = [
        Gridline(
            value=(top * step / gridlines).normalize(),
            y=round(float(TOP + plot_height - plot_height * step / gridlines), 2),
        )
        for step in range(gridlines + 1)
    ]
    return BarChart(bars=bars, gridlines=lines)
