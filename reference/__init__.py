"""Reference data and law every service shares — no service owns it, none may differ on it.

- `agencies` (+ `agencies.json`): the agency registry — bodies, jurisdiction, competences,
  supervision — with its integrity checks;
- `calendar` (+ `calendar_kz.json`): Kazakhstan's working-day calendar and the counting
  convention (day 0, end of work on the N-th working day);
- `statute`: the statutory terms of the Administrative Procedural Code (Art. 64 registration,
  Art. 65 forwarding in 3 working days, Art. 76 answer in 15 working days and the two-month
  extension cap), as named constants beside the functions that apply them.

Pure and versioned: data files and functions, no I/O beyond reading the bundled data, no
dependency on any service (services depend on it, never the other way round).
"""
