"""Routing: sends each registered appeal to the body competent for its category and place.

Owns: the ranking of the shared agency registry (`reference/agencies.json`) — what "the most
specific competent body" means (ranking.py) — and the text classifier's stems
(classifier.json, versioned data); the routing rules and every decision with the rule that made it
(`decisions`, one per appeal and hop); `appeals.routed.v1`, `appeals.triage.v1` and the
agencies' inbox topics; re-routing on `agency.redirected` and on human triage decisions
(`appeals.triage.decisions.v1`); mass incidents (`incidents.v1`, the detector's
`incident_keys` / `incidents` / `incident_resolutions`) and the one answer to an incident
fanned out to its members; a supervising body's verdict on a repeat complaint published on
`appeals.outcomes.v1`. Does not register appeals (intake) or watch deadlines (sla):
it only carries the Art. 65 forwarding deadline in the events.

Where things live:
- `decisions.py` — every routing rule in order, each with its id, version and reason: *why an
  appeal went to a body*; `ranking.py` — what "most specific competent body" means;
  `classifier.py` — the kk/ru text classifier; `policy.py` — the knobs (`ROUTING_*`);
- `service.py` — the use cases: route a registration, act on a redirect or a triage
  decision, exactly once per (appeal, hop);
- `records.py` — the typed `DecisionRecord`; `store.py` — the `DecisionStore` port and its
  MongoDB layout; `memory.py` the same in memory;
- `incidents.py` — when appeals are one incident (pure); `incident_service.py` — sightings,
  the detector, answering an incident; `incident_store.py` — its storage;
- `app.py` — the edges (four typed subscribers, `GET /v1/agencies`); `settings.py`,
  `metrics.py`. The registry itself is shared data: `reference/agencies.json`.
"""
