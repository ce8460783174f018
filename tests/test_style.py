"""llmbook.style: CJK labels render without missing glyphs; palette and labels behave."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from llmbook import style  # noqa: E402


def test_cjk_font_file_ships_with_the_pinned_package():
    path = style.cjk_font_path()
    assert path.is_file() and path.stat().st_size > 1_000_000


def test_chinese_labels_render_with_no_missing_glyph_warning(tmp_path):
    style.use()
    fig, ax = plt.subplots()
    ax.set_title("基座模型选取：参数规模与训练数据")
    ax.set_xlabel("发布时间 (release)")
    ax.plot([1, 2], [3, 4], label="中文模型")
    ax.legend()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(tmp_path / "zh.png")
    plt.close(fig)
    glyph = [w for w in caught if "Glyph" in str(w.message) or "missing from" in str(w.message)]
    assert glyph == []


def test_without_the_cjk_font_matplotlib_does_warn(tmp_path):
    """The previous test can fail: DejaVu Sans alone has no Han glyphs."""
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("基座模型")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(tmp_path / "tofu.png")
        plt.close(fig)
    assert any("missing from" in str(w.message) or "Glyph" in str(w.message) for w in caught)


def test_register_is_idempotent():
    style.register_cjk_font()
    before = len(matplotlib.font_manager.fontManager.ttflist)
    style.register_cjk_font()
    assert len(matplotlib.font_manager.fontManager.ttflist) == before


def test_palette_colours_are_distinct():
    rgb = [to_rgb(c) for c in style.PALETTE]
    assert len(set(rgb)) == len(rgb)


def test_label_points_avoids_overlap_when_there_is_room():
    style.use()
    fig, ax = plt.subplots(figsize=(6, 4))
    xs, ys = [1, 1.02, 1.04], [1, 1, 1]
    ax.scatter(xs, ys)
    ax.set_xlim(0, 2)
    ax.set_ylim(0, 2)
    fig.canvas.draw()
    style.label_points(ax, xs, ys, ["first label", "second label", "third label"])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    plt.close(fig)
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_palette_stays_distinguishable_with_colour_blindness():
    for vision in (None, *style.CVD_MATRICES):
        assert style.palette_min_delta_e(vision=vision) >= style.MIN_DELTA_E, vision


def test_the_colour_blindness_check_catches_red_versus_green():
    # Matplotlib's default red and green: distinct for normal vision, not for deuteranopes.
    red_green = ("#d62728", "#2ca02c")
    assert style.palette_min_delta_e(red_green) > 50
    assert style.palette_min_delta_e(red_green, "deuteranopia") < style.MIN_DELTA_E


def test_plain_log_axis_labels_read_as_numbers():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(15, 300)
    style.plain_log_axis(ax.xaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and all(label.replace(",", "").isdigit() for label in labels), labels
    assert "20" in labels and "100" in labels


def test_glue_figure_stores_the_figure_and_closes_it(capsys):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    style.glue_figure("fig-test", fig)
    assert not plt.fignum_exists(fig.number)  # the inline backend will not draw it again
