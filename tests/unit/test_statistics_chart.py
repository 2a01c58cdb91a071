from portal.statistics.chart import LABEL_CHAR_WIDTH, bar_chart


def test_shown_axis_labels_never_overlap():
    for days in (7, 12, 30, 31, 90, 366):
        points = [(f"2026-01-{n:04d}"[:10], n) for n in range(days)]
        shown = [bar for bar in bar_chart(points).bars if bar.show_label]
        assert shown, days
        for left, right in zip(shown, shown[1:], strict=False):
            assert right.x - left.x >= len(left.label) * LABEL_CHAR_WIDTH, days


def test_few_short_labels_are_all_shown():
    chart = bar_chart([(f"{month:02d}", month) for month in range(1, 13)])
    assert all(bar.show_label for bar in chart.bars)
