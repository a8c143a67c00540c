"""The assessment as CSV (one table at a time) and as a printable HTML page laid out like
seed tables 2 (bodies, subtotals by level and region) and 6 (appeals by region, year on
year). JSON is the `Assessment` model itself.

CSV: UTF-8 with a header row of the JSON field names (stable, for machines); numbers as in
the JSON, a null as an empty cell, a change with its sign (`+12.5`, `-3.0`). The HTML page
is self-contained (inline CSS, no scripts), in Kazakh or Russian.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum
from html import escape

from pydantic import BaseModel

from services.sla.assessment.report import Assessment, BodyRow, Counts, GroupRow, RegionRow


class Table(StrEnum):
    BODIES = "bodies"
    LEVELS = "levels"
    BODY_REGIONS = "body-regions"
    REGIONS = "regions"


def signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}"


def _cell(field: str, value: object) -> str:
    if value is None:
        return ""
    if field == "change_percent":
        return signed(value)  # type: ignore[arg-type]
    return str(value)


def rows_of(report: Assessment, table: Table) -> Sequence[BaseModel]:
    return {
        Table.BODIES: report.bodies,
        Table.LEVELS: report.levels,
        Table.BODY_REGIONS: report.body_regions,
        Table.REGIONS: report.regions,
    }[table]


_FIELDS: dict[Table, type[BaseModel]] = {
    Table.BODIES: BodyRow,
    Table.LEVELS: GroupRow,
    Table.BODY_REGIONS: GroupRow,
    Table.REGIONS: RegionRow,
}


def _columns(model: type[BaseModel]) -> list[str]:
    # The row's own identity first, then the counts in the order of table 2.
    own = [name for name in model.model_fields if name not in Counts.model_fields]
    return own + [name for name in model.model_fields if name in Counts.model_fields]


def to_csv(report: Assessment, table: Table) -> str:
    columns = _columns(_FIELDS[table])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows_of(report, table):
        data = row.model_dump()
        writer.writerow([_cell(c, data[c]) for c in columns])
    return out.getvalue()


_LABELS = {
    "ru": {
        "title": "Оценка деятельности государственных органов: рассмотрение обращений",
        "period": "Период",
        "previous": "Сравнение с периодом",
        "table2": "Таблица 2. Рассмотрение обращений государственными органами",
        "table6": "Таблица 6. Обращения в разрезе регионов",
        "body": "Государственный орган",
        "handled": "Рассмотрено обращений",
        "on_time": "В срок, %",
        "consideration": "Нарушения сроков рассмотрения",
        "forwarding": "Нарушения сроков перенаправления",
        "court": "Удовлетворено судом",
        "repeat": "Повторные обоснованные жалобы",
        "disciplinary": "Дисциплинарные меры по нарушениям, %",
        "satisfied": "Удовлетворены ответом, %",
        "by_level": "Итого по уровню",
        "by_region": "Итого местные органы региона",
        "region": "Регион",
        "appeals": "Обращений",
        "share": "Доля, %",
        "before": "Годом ранее",
        "change": "Изменение, %",
        "total": "Всего",
    },
    "kk": {
        "title": "Мемлекеттік органдардың қызметін бағалау: өтініштерді қарау",
        "period": "Кезең",
        "previous": "Салыстыру кезеңі",
        "table2": "2-кесте. Мемлекеттік органдардың өтініштерді қарауы",
        "table6": "6-кесте. Өңірлер бойынша өтініштер",
        "body": "Мемлекеттік орган",
        "handled": "Қаралған өтініштер",
        "on_time": "Мерзімінде, %",
        "consideration": "Қарау мерзімін бұзу",
        "forwarding": "Жолдау мерзімін бұзу",
        "court": "Сот қанағаттандырған",
        "repeat": "Негізді қайталама шағымдар",
        "disciplinary": "Бұзушылықтар бойынша тәртіптік шаралар, %",
        "satisfied": "Жауапқа қанағаттанғандар, %",
        "by_level": "Деңгей бойынша барлығы",
        "by_region": "Өңірдің жергілікті органдары бойынша барлығы",
        "region": "Өңір",
        "appeals": "Өтініштер",
        "share": "Үлесі, %",
        "before": "Бір жыл бұрын",
        "change": "Өзгерісі, %",
        "total": "Барлығы",
    },
}

_STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:10pt;color:#111;margin:1.5cm}
h1{font-size:14pt}h2{font-size:12pt;margin-top:1.5em}
table{border-collapse:collapse;width:100%;page-break-inside:auto}
th,td{border:1px solid #444;padding:3px 5px;text-align:right;vertical-align:top}
th{background:#e8e8e8}td.name,th.name{text-align:left}
tr.subtotal td{font-weight:bold;background:#f4f4f4}
tr{page-break-inside:avoid}thead{display:table-header-group}
@page{size:A4 landscape;margin:1cm}
"""


def _number(value: float | int | None) -> str:
    return "—" if value is None else str(value)


def _table2_row(name: str, row: Counts, css: str = "") -> str:
    cells = [
        row.handled,
        row.on_time_percent,
        row.consideration_breaches,
        row.forwarding_breaches,
        row.court_satisfied,
        row.repeat_substantiated,
        row.disciplinary_percent,
        row.satisfied_percent,
    ]
    tds = "".join(f"<td>{_number(c)}</td>" for c in cells)
    return f'<tr class="{css}"><td class="name">{escape(name)}</td>{tds}</tr>'


def to_html(report: Assessment) -> str:
    t = _LABELS[report.language]
    period = f"{report.first_day:%d.%m.%Y} — {report.last_day:%d.%m.%Y}"
    head2 = "".join(
        f"<th scope=col>{escape(t[k])}</th>"
        for k in (
            "handled",
            "on_time",
            "consideration",
            "forwarding",
            "court",
            "repeat",
            "disciplinary",
            "satisfied",
        )
    )
    body2 = []
    for level in report.levels:
        body2.append(_table2_row(f"{t['by_level']}: {level.name}", level, "subtotal"))
        members = [r for r in report.bodies if r.level == level.group]
        for region in [None, *[g.group for g in report.body_regions]]:
            in_region = [r for r in members if r.region == region]
            if not in_region:
                continue
            if region is not None:
                subtotal = next(g for g in report.body_regions if g.group == region)
                body2.append(
                    _table2_row(f"{t['by_region']}: {subtotal.name}", subtotal, "subtotal")
                )
            body2.extend(_table2_row(r.name, r) for r in in_region)
    compare = report.previous_first_day is not None
    head6 = f"<th scope=col>{t['appeals']}</th><th scope=col>{t['share']}</th>"
    if compare:
        head6 += f"<th scope=col>{t['before']}</th><th scope=col>{t['change']}</th>"
    body6 = []
    for r in report.regions:
        cells = [_number(r.appeals), _number(r.share_percent)]
        if compare:
            cells += [_number(r.previous_appeals), signed(r.change_percent) or "—"]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        body6.append(f'<tr><td class="name">{escape(r.name)}</td>{tds}</tr>')
    total = [_number(report.total_appeals), "100.0" if report.total_appeals else "—"]
    if compare:
        total += [
            _number(report.previous_total_appeals),
            signed(report.total_change_percent) or "—",
        ]
    body6.append(
        '<tr class="subtotal"><td class="name">'
        + escape(t["total"])
        + "</td>"
        + "".join(f"<td>{c}</td>" for c in total)
        + "</tr>"
    )
    previous = (
        f"<p>{t['previous']}: {report.previous_first_day:%d.%m.%Y} — "
        f"{report.previous_last_day:%d.%m.%Y}</p>"
        if compare
        else ""
    )
    return (
        f'<!doctype html><html lang="{report.language}"><head><meta charset="utf-8">'
        f"<title>{escape(t['title'])} {period}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(t['title'])}</h1><p>{t['period']}: {period}</p>{previous}"
        f"<h2>{escape(t['table2'])}</h2><table><thead><tr>"
        f'<th scope=col class="name">{escape(t["body"])}</th>{head2}</tr></thead>'
        f"<tbody>{''.join(body2)}</tbody></table>"
        f"<h2>{escape(t['table6'])}</h2><table><thead><tr>"
        f'<th scope=col class="name">{escape(t["region"])}</th>{head6}</tr></thead>'
        f"<tbody>{''.join(body6)}</tbody></table></body></html>"
    )
