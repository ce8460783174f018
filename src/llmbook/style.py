"""The house figure style: one call, :func:`use`, before a chapter draws anything.

Chinese labels need a font with CJK glyphs. The book takes Noto Sans CJK SC from the pinned
``mplfonts`` wheel (no root, no download) and registers it as a per-glyph fallback behind
DejaVu Sans, so Latin text keeps matplotlib's default face and every Han character still has a
glyph (matplotlib >= 3.6 falls back glyph by glyph through ``font.family``).

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), chosen to stay
distinguishable under the common forms of colour blindness.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib import font_manager

#: Noto Sans CJK SC (SIL Open Font License), shipped inside the mplfonts wheel.
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
CJK_FONT_NAME = "Noto Sans CJK SC"
LATIN_FONT_NAME = "DejaVu Sans"

#: Okabe-Ito colour-blind-safe palette, black last (it is for reference lines).
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Width of a figure that fills the book's text column, in inches (at FIGURE_DPI).
FIGURE_WIDTH_INCHES = 7.5
FIGURE_DPI = 110


def cjk_font_path() -> Path:
    """Path of the CJK font file inside the installed ``mplfonts`` package."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the CJK font comes from the 'mplfonts' package: pip install -r requirements.txt"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / CJK_FONT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall mplfonts (pip install -r requirements.txt)"
        )
    return path


def register_cjk_font() -> str:
    """Make the CJK font known to matplotlib (idempotent); return its family name."""
    path = cjk_font_path()
    if not any(Path(f.fname) == path for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(path))
    return CJK_FONT_NAME


def rc_params() -> dict:
    """The house rcParams, as a dict (applied by :func:`use`)."""
    return {
        "font.family": [LATIN_FONT_NAME, CJK_FONT_NAME],
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.unicode_minus": False,
        "figure.figsize": (FIGURE_WIDTH_INCHES, FIGURE_WIDTH_INCHES * 0.55),
        "figure.dpi": FIGURE_DPI,
        "savefig.dpi": FIGURE_DPI,
        "savefig.bbox": "tight",
        "legend.frameon": False,
        "svg.hashsalt": "llmbook",
        "path.simplify": True,
    }


def plain_log_axis(axis) -> None:
    """Label a log-scaled axis with plain numbers (20, 50, 100, 1,000) instead of matplotlib's
    mixed "2 x 10^1" minor labels: major ticks at 1-2-5 steps, no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
    axis.set_minor_formatter(NullFormatter())


def literal(text: object) -> str:
    """``text`` as matplotlib shows it literally: every ``$`` escaped, so a name such as
    "$x$-7B" from the data is not typeset as mathtext (matplotlib drops the backslash of ``\\$``
    when the text holds no unescaped ``$``). Use it for every data value drawn as a label."""
    return str(text).replace("$", "\\$")


#: Offsets (points) tried, in order, when placing a point's label: right, left, above, below...
LABEL_OFFSETS = ((5, 2), (5, -9), (-5, 2), (-5, -9), (0, 7), (0, -12), (9, 9), (-9, -14))


def label_points(ax, xs, ys, labels, fontsize: float = 6.5) -> None:
    """Label scatter points, moving each label to the first offset where it overlaps nothing.

    A greedy search over LABEL_OFFSETS in display space: each label is placed where its box
    overlaps no label placed before it and no other point's marker; if every offset collides,
    the one with the least overlap is kept. Deterministic for the same input order. Labels are
    data (model names): they are drawn literally (:func:`literal`), never as mathtext.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    xs = [ax.xaxis.convert_units(x) for x in xs]  # dates and categories to axis numbers
    ys = [ax.yaxis.convert_units(y) for y in ys]
    points = ax.transData.transform(list(zip(xs, ys, strict=True)))
    marker_radius = 4.0
    placed = []  # boxes as (x0, y0, x1, y1) in display pixels

    def overlap(box) -> float:
        total = 0.0
        for other in placed:
            w = min(box[2], other[2]) - max(box[0], other[0])
            h = min(box[3], other[3]) - max(box[1], other[1])
            if w > 0 and h > 0:
                total += w * h
        for px, py in points:
            w = min(box[2], px + marker_radius) - max(box[0], px - marker_radius)
            h = min(box[3], py + marker_radius) - max(box[1], py - marker_radius)
            if w > 0 and h > 0:
                total += w * h
        return total

    for x, y, label in zip(xs, ys, labels, strict=True):
        best = None
        for dx, dy in LABEL_OFFSETS:
            text = ax.annotate(
                literal(label),
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=fontsize,
                color="#333333",
                ha="left" if dx >= 0 else "right",
            )
            extent = text.get_window_extent(renderer)
            box = (extent.x0, extent.y0, extent.x1, extent.y1)
            cost = overlap(box)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text, box)
            else:
                text.remove()
            if cost == 0:
                break
        placed.append(best[2])


#: Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color
#: vision deficiency", severity 1.0 matrices, applied to linear RGB.
CVD_MATRICES = {
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
         [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
         [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
         [0.004733, 0.691367, 0.303900]]
    ),
}  # fmt: skip
#: Smallest CIE76 colour difference (ΔE*ab) the house palette keeps between any two of its
#: categorical colours, for normal vision and under each simulated deficiency. A ΔE of about
#: 10 is clearly distinguishable side by side; the check is in the tests.
MIN_DELTA_E = 10.0


def _linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB values, shape (..., 3)."""
    xyz = (
        np.clip(linear_rgb, 0, 1)
        @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    )
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def palette_min_delta_e(colours=PALETTE, vision: str | None = None) -> float:
    """Smallest pairwise ΔE*ab between ``colours``, as seen with ``vision`` (None: normal)."""
    from matplotlib.colors import to_rgb

    linear = _linear(np.array([to_rgb(c) for c in colours]))
    if vision is not None:
        linear = linear @ CVD_MATRICES[vision].T
    lab = _lab(linear)
    diffs = np.linalg.norm(lab[:, None, :] - lab[None, :, :], axis=-1)
    return float(diffs[np.triu_indices(len(colours), 1)].min())


def glue_figure(name: str, fig) -> None:
    """Store ``fig`` under ``name`` for a ``{glue:figure}`` directive, then close it.

    Closing is the point: the notebook's inline backend draws every figure still open when a
    cell ends, so a glued figure left open is rendered a second time, as a hidden output that
    costs a kernel about 0.7 s per figure and puts a second PNG in the cached notebook."""
    from matplotlib import pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def use() -> None:
    """Apply the house style: CJK-capable fonts, palette, sizes."""
    register_cjk_font()
    mpl.rcParams.update(rc_params())
