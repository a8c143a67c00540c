"""`python -m services.sla.assessment report --from 2026-01-01 --to 2026-03-31
[--compare-previous-year] [--format json|csv|html] [--table bodies|levels|body-regions|regions]
[--lang ru|kk] [--out FILE]` — the assessment tables of a period, read straight from sla's
database (MONGODB_URL, TYNDAU_DATABASE_PREFIX; the same tallies `GET /v1/reports/assessment`
answers from), for whoever prepares the assessment on the machine that holds the store.
Prints to standard output unless `--out` is given; exit status 2 for a bad period.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from pymongo import AsyncMongoClient

from reference.agencies import AgencyRegistry
from services.common.settings import settings_for
from services.sla.assessment import Assessments
from services.sla.assessment.outcomes import MongoOutcomeLog
from services.sla.assessment.render import Table, to_csv, to_html
from services.sla.assessment.report import Period
from services.sla.assessment.store import MongoTallyStore
from services.sla.settings import SlaSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.sla.assessment")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="The assessment tables of a period.")
    report.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    report.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    report.add_argument("--compare-previous-year", action="store_true")
    report.add_argument("--format", choices=["json", "csv", "html"], default="json")
    report.add_argument("--table", choices=[t.value for t in Table], default=Table.BODIES.value)
    report.add_argument("--lang", choices=["ru", "kk"], default="ru")
    report.add_argument("--out", type=Path, help="Write here instead of standard output.")
    return parser


async def _report(args: argparse.Namespace) -> str:
    settings = SlaSettings.specialise(settings_for("sla"))
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    try:
        db = client[settings.database_name]
        assessments = Assessments(
            MongoTallyStore(db),
            AgencyRegistry.default(),
            settings.working_calendar().tz,
            MongoOutcomeLog(db),
        )
        report = await assessments.report(
            Period(args.first, args.last),
            compare_previous_year=args.compare_previous_year,
            language=args.lang,
        )
    finally:
        await client.close()
    if args.format == "csv":
        return to_csv(report, Table(args.table))
    if args.format == "html":
        return to_html(report)
    return report.model_dump_json(indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.last < args.first:
        print(f"--to {args.last} is before --from {args.first}", file=sys.stderr)
        return 2
    text = asyncio.run(_report(args))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
