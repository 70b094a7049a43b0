"""The output layer: rows and tensors in, files out.

- :mod:`.tables`: markdown and CSV tables of plain rows;
- :mod:`.html`: the HTML report (figures, tables, CSV/JSON), written atomically;
- :mod:`.figures`: every figure (maps side by side, class views, curves, randomization).
"""

from captum_explainer.report.figures import (
    causal_curves_figure,
    class_specific_view,
    class_view,
    comparison_grid,
    dataset_samples_figure,
    randomization_figure,
    specificity_heatmap,
    visualize_attribution,
)
from captum_explainer.report.html import (
    COLUMNS,
    Column,
    FigureText,
    with_relative_time,
    write_report,
)
from captum_explainer.report.tables import csv_table, format_value, markdown_table, uniform_rows

__all__ = [
    "COLUMNS",
    "Column",
    "FigureText",
    "causal_curves_figure",
    "class_specific_view",
    "class_view",
    "comparison_grid",
    "dataset_samples_figure",
    "csv_table",
    "format_value",
    "markdown_table",
    "randomization_figure",
    "specificity_heatmap",
    "uniform_rows",
    "visualize_attribution",
    "with_relative_time",
    "write_report",
]
