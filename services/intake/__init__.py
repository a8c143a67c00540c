"""Intake: turns what channels send into registered appeals (Art. 64 APC RK), and tells
channels and citizens where each appeal stands.

Owns: adapting channel formats (1414, iKomek 109, e-Otinish on Kafka; the HTTP gateway),
validation with reasons, the registration number and its per-day sequence, the registration
time on the working-day calendar, repeat detection, `appeals.registered.v1` /
`appeals.rejected.v1` / `appeals.dlq.v1`, and the status timeline behind
`GET /v1/appeals/{reg_number}` (folded from the lifecycle topics). Does not decide where an
appeal goes (routing), watch deadlines (sla) or tell anyone (notify).

Where things live:
- `app.py` — the edges: one subscriber per channel topic (its own format), the timeline
  subscriber, the HTTP gateway (`POST /v1/appeals`) and the status lookup;
- `channels.py` (which topic carries which format) → `adapters.py` (a channel's format → a
  draft or a rejection) → `validation.py` (the field rules and their codes);
- `registration.py` (the number's format, the registration event; the statutory times come
  from `reference/statute.py`) and `numbers.py` (the per-day sequence);
- `service.py` — the use cases: register or reject exactly once, repeats, the timeline;
- `timeline.py` — the public status folded from lifecycle events (no personal data);
- `store.py` — the `IntakeStore` port and its MongoDB layout; `memory.py` the same in memory;
- `settings.py` (`INTAKE_*`), `metrics.py`.
"""
