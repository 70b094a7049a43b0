"""The HTML report: every image it shows is there, every table has its header, every
directed column says its direction and marks its best value."""

from html.parser import HTMLParser

import pytest
from matplotlib.figure import Figure

from captum_explainer.report import COLUMNS, FigureText, markdown_table, write_report


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.best, self.captions = [], [], [], 0
        self._in = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._in.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "table":
            self.tables.append({"head": [], "rows": 0})
        elif tag == "tr" and "tbody" in self._in:
            self.tables[-1]["rows"] += 1
        elif tag == "td" and attrs.get("class") == "best":
            self.best.append(len(self.tables) - 1)
        elif tag == "figcaption":
            self.captions += 1

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        if self._in and self._in[-1] == "th":
            self.tables[-1]["head"].append(data)


ROWS = [
    {"method": "Explainer", "seconds_per_image": 0.01, "mean_f1": 0.8, "deletion_auc": 0.3},
    {"method": "RISE", "seconds_per_image": 3.0, "mean_f1": 0.6, "deletion_auc": 0.2},
]


def _figure():
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [0, 1])
    return figure


@pytest.mark.parametrize("self_contained", [False, True], ids=["folder", "single-file"])
def test_report_images_tables_directions_and_captions(tmp_path, self_contained):
    out = tmp_path / "report"
    report = write_report(
        out,
        ROWS,
        {"grid": _figure(), "curves": _figure()},
        extra_tables={
            "Class specificity": [{"method": "RISE", "diagonal": 0.7, "off_diagonal": 0.4}]
        },
        captions={"grid": FigureText("Every map", "What the grid shows.")},
        self_contained=self_contained,
        time_reference="Explainer",
    )
    page = _Page()
    page.feed(report.read_text())
    assert len(page.images) == 2 and page.captions == 2
    for source in page.images:
        if self_contained:
            assert source.startswith("data:image/png;base64,")
        else:
            assert (out / source).is_file()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.html", "results.csv", "results.json"]
        + ([] if self_contained else ["grid.png", "curves.png"])
    )
    main, specificity = page.tables
    for table in page.tables:
        assert table["head"] and table["rows"] >= 1
    # Directions and the cost relative to the Explainer beside the quality.
    assert main["head"] == [
        "method",
        "s / image ↓",
        "× reference time ↓",
        "mean F1 ↑",
        "deletion AUC ↓",
    ]
    assert "<td class='best'>300.000</td>" not in report.read_text()
    assert "<td class='best'>0.800</td>" in report.read_text()  # best mean F1
    assert "<td class='best'>0.200</td>" in report.read_text()  # best deletion (lower)
    assert "<td class='best'>1.000</td>" in report.read_text()  # the Explainer's own time
    assert specificity["head"] == ["method", "diagonal ↑", "off-diagonal ↓"]


def test_every_reported_metric_has_a_known_direction_or_none_on_purpose():
    for key, column in COLUMNS.items():
        assert column.better in ("higher", "lower", None), key
    assert COLUMNS["deletion_auc"].better == "lower" and COLUMNS["insertion_auc"].better == "higher"
    assert COLUMNS["background_coverage"].better == "lower"
    assert COLUMNS["saliency_metric"].better == "lower"
    # The ground truth's games are the same in every row: a reference, nothing to rank.
    assert COLUMNS["deletion_auc_truth"].better is None and COLUMNS["deletion_auc_truth"].caveat


def test_each_faithfulness_column_says_what_it_can_and_cannot_show(tmp_path):
    rows = [
        {"method": "Explainer", "deletion_auc": 0.2, "insertion_auc": 0.9, "mean_f1": 0.7},
        {"method": "Grad-CAM", "deletion_auc": 0.1, "insertion_auc": 0.8, "mean_f1": 0.4},
    ]
    page = write_report(tmp_path / "report", rows, {}).read_text()
    caveats = page[page.index("<ul class='caveats'>") :]
    for column in ("deletion_auc", "insertion_auc"):
        text = COLUMNS[column].caveat
        assert "Can show" in text and "Cannot show" in text, column
        assert f"<b>{COLUMNS[column].header}</b>" in caveats
    assert "mean F1</b>" not in caveats  # localisation columns carry no caveat
    for column in ("road_combined", "saliency_metric", "mask_only_accuracy"):
        assert COLUMNS[column].caveat, column


def test_markdown_table_formats():
    text = markdown_table(ROWS, formats={"seconds_per_image": ".1g"}, headers={"mean_f1": "F1"})
    assert text.splitlines()[0] == "| method | seconds_per_image | F1 | deletion_auc |"
    assert "| RISE | 3 | 0.600 | 0.200 |" in text
