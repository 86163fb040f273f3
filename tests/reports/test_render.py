"""The code-free report renderer, output type by output type."""

from __future__ import annotations

import nbformat

from sreworkbook.reports.render import render_report
from sreworkbook.results import SUMMARY_MIME, RunSummary, Status


def _nb(*outputs: dict) -> nbformat.NotebookNode:  # type: ignore[type-arg]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title here\n\nIntro *text*."),
        nbformat.v4.new_code_cell("x = 1  # SECRET_CODE_MARKER", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('hi')  # SECRET_CODE_MARKER", outputs=list(outputs)),
        nbformat.v4.new_markdown_cell("## Section\n\n| a | b |\n|---|---|\n| 1 | 2 |"),
    ]
    return nb


def _render(nb: nbformat.NotebookNode) -> str:
    summary = RunSummary(Status.WARN, "Head <line>", {"p95_ms": 2100.0}, env="prod", run_id="r1")
    return render_report(nb, summary, assets_href="../../../assets")


def test_no_code_title_and_summary_first() -> None:
    page = _render(_nb(nbformat.v4.new_output("stream", name="stdout", text="printed\n")))
    assert "SECRET_CODE_MARKER" not in page
    assert "<h1>Title here</h1>" in page
    assert page.index("swb-summary") < page.index("Intro")
    assert "Head &lt;line&gt;" in page
    assert "<table>" in page  # markdown tables
    assert "printed" in page
    assert "plotly.min.js" not in page  # no chart, no script


def test_errors_are_plain_words_without_traceback() -> None:
    error = nbformat.v4.new_output(
        "error",
        ename="KeyError",
        evalue="'mongodb'",
        traceback=["Traceback (most recent call last)"],
    )
    page = _render(_nb(error))
    assert "This step failed:</b> KeyError: &#x27;mongodb&#x27;" in page
    assert "most recent call last" not in page


def test_plotly_widgets_summary_and_stderr() -> None:
    fig = {
        "data": [{"type": "bar", "x": [1], "y": [2]}],
        "layout": {"title": {"text": "</script>"}},
    }
    outputs = [
        nbformat.v4.new_output(
            "display_data", data={"application/vnd.plotly.v1+json": fig, "text/html": "BIG"}
        ),
        nbformat.v4.new_output(
            "display_data", data={"application/vnd.jupyter.widget-view+json": {}, "text/plain": "W"}
        ),
        nbformat.v4.new_output(
            "display_data", data={SUMMARY_MIME: {}, "text/html": "DUPLICATE-BANNER"}
        ),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
    ]
    page = _render(_nb(*outputs))
    assert page.count("Plotly.newPlot") == 1 and "BIG" not in page
    assert "<\\/script>" in page and '</script>"' not in page
    assert '<script src="../../../assets/plotly.min.js"' in page
    assert "DUPLICATE-BANNER" not in page and "a warning" not in page
