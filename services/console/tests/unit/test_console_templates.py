"""The markup the console's pages share (templates/_ui.html), rendered with the console's own Jinja environment."""

from __future__ import annotations

import pytest

from console.entrypoints.web import TEMPLATES

pytestmark = pytest.mark.unit


def render(source: str, **values: object) -> str:
    return TEMPLATES.env.from_string('{% import "_ui.html" as ui %}' + source).render(values)


def test_a_table_scrolls_in_a_named_keyboard_region_with_its_caption_column_headers_and_rows() -> None:
    html = render(
        '{% call ui.table("Tickets", ui.counted(rows | length, "ticket"), ["Ticket", "<Status>"]) %}'
        "{% for r in rows %}<tr><td>{{ r }}</td></tr>{% endfor %}{% endcall %}",
        rows=["t1 <b>", "t2"],
    )
    assert html.startswith('<div class="scroll" role="region" aria-label="Tickets" tabindex="0">\n<table>\n')
    assert "<caption>2 tickets</caption>" in html
    assert '<thead><tr><th scope="col">Ticket</th><th scope="col">&lt;Status&gt;</th></tr></thead>' in html
    assert "<tbody>\n<tr><td>t1 &lt;b&gt;</td></tr><tr><td>t2</td></tr>  </tbody>\n</table>\n</div>" in html
    assert "<tfoot>" not in html


def test_a_table_takes_its_class_its_own_header_cells_and_a_footer() -> None:
    html = render(
        '{% set heads %}<th scope="col" id="pane-x">X</th>{% endset %}{% set foot %}<tr><td>total</td></tr>{% endset %}'
        '{% call ui.table("Plans", "Plans side by side", head=heads, foot=foot, class="plans") %}<tr></tr>{% endcall %}'
    )
    assert '<table class="plans">' in html
    assert '<thead><tr><th scope="col" id="pane-x">X</th></tr></thead>' in html
    assert "<tfoot><tr><td>total</td></tr></tfoot>" in html


def test_a_counted_caption_says_one_without_a_plural() -> None:
    html = render('{{ ui.counted(1, "open ticket") }}, {{ ui.counted(0, "subscriber") }}')
    assert html == "1 open ticket, 0 subscribers"


def test_a_field_error_shows_under_its_field_with_an_id_to_point_at_and_nothing_when_it_is_fine() -> None:
    errors = {"summary": "summary: at most 200 characters <here>"}
    html = render("{{ ui.problem(errors, 'summary') }}|{{ ui.problem(errors, 'severity') }}", errors=errors)
    assert html == ('<p class="field-error" id="summary-error">summary: at most 200 characters &lt;here&gt;</p>|')
