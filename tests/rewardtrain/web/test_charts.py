"""Server-rendered SVG charts: labelled, escaped, and honest about missing data."""
import xml.etree.ElementTree as ET

from rewardtrain.web.charts import bar_chart, histogram_chart, line_chart, nice_ticks, reliability_chart


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(0.37, 0.93)
    assert ticks[0] <= 0.37 and ticks[-1] >= 0.93
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]


def test_line_chart_has_title_axis_labels_legend_and_one_line_per_series():
    svg = line_chart(series=[{"name": "train loss", "points": [(1, 0.7), (2, 0.6), (3, 0.5)]},
                             {"name": "validation loss", "points": [(3, 0.55)]}],
                     title="Loss", x_label="step", y_label="loss")
    texts = _texts(svg)
    assert {"Loss", "step", "loss", "train loss", "validation loss"} <= set(texts)
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # one point is drawn as a dot


def test_labels_are_escaped_never_live_markup():
    svg = line_chart(series=[{"name": "<script>alert(1)</script>", "points": [(0, 1), (1, 2)]}],
                     title="a & b", x_label="x", y_label="y")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed XML


def test_no_data_says_so():
    svg = line_chart(series=[{"name": "loss", "points": [(1, float("nan"))]}], title="Loss", x_label="step",
                     y_label="loss", empty="Waiting for the first step…")
    assert "Waiting for the first step…" in _texts(svg)


def test_histogram_and_reliability_charts_render():
    svg = histogram_chart(series=[{"name": "chosen", "counts": [1, 4, 2]}, {"name": "rejected", "counts": [3, 2, 0]}],
                          edges=[-1.0, 0.0, 1.0, 2.0], title="Rewards", x_label="reward")
    assert svg.count("<path") == 2 and "chosen" in _texts(svg)
    rel = reliability_chart(bins=[{"confidence": 0.6, "accuracy": 0.58, "n": 40},
                                  {"confidence": 0.9, "accuracy": 0.7, "n": 10}, {"confidence": 0.75, "accuracy": 0, "n": 0}])
    assert rel.count("<circle") == 2


def test_close_ticks_get_enough_digits_to_read_differently():
    from rewardtrain.web.charts import _tick_labels

    assert _tick_labels([-0.009, -0.00895, -0.0089, -0.00885, -0.0088]) == [
        "-0.009", "-0.00895", "-0.0089", "-0.00885", "-0.0088"]
    assert _tick_labels([0.0, 0.5, 1.0]) == ["0", "0.5", "1"]


def test_long_bar_labels_stay_distinguishable():
    svg = bar_chart(bars=[("demo-annotator", 0.6), ("demo-annotator2", 0.3), ("a-very-long-user-name-17", 0.5)],
                    title="Position bias", y_label="share")
    texts = _texts(svg)
    assert "demo-annotator" in texts and "demo-an…tator2" in texts and "a-very-…ame-17" in texts
