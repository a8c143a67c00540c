"""SLA: statutory deadline timers (Art. 65 forwarding, Art. 76 answer) on the Kazakh
working-day calendar.

Owns: the `sla` database (`timers`, `pending_actions`) and `sla.events.v1` (started, warning,
breached, stopped, extension refused). Does not own: the calendar (`services.common.workdays`,
shared), routing decisions, notifications, or the registry of bodies (read for escalation).

Timers
------
One document per timer in `timers`, `_id` = timer id: `<appeal>:answer` (one per appeal; a
redirect keeps it, its receipt date and its deadline, and only changes the responsible body)
and `<appeal>:forwarding:<hop>` (one per receiving body: each hop's Art. 65 term is its own).
Fields: appeal_id, kind, agency_code, received_at, registered_at (day 0 of the term),
due_at, generation (1, +1 per accepted extension), state (open | breached | stopped), shard,
warnings (scheduled moments and whether sent), next_fire_at (the next warning or the
deadline; a far-future sentinel once nothing is left to fire), escalate_to, rev (revision
for compare-and-set), started_event and outcomes (action event id → the SLA event it
produced, so a redelivered action republishes the same event). Index (shard, state,
next_fire_at); nothing ever loads "all timers".

Inputs
------
- `appeals.routed.v1`: hop 0 arms the answer timer (due = the routed `answer_due_at`); any
  decision that carries `forward_due_at` arms that body's forwarding timer (from
  registration for hop 0, from the routing moment for a redirect).
- `agency.actions.v1`: accepted / redirected close the acting body's forwarding timer;
  extended moves the answer deadline if the new date's local day is at most two calendar
  months after the day of receipt, later than the current deadline, and the deadline has
  neither passed nor been answered — otherwise `sla.extension_refused` with the reason and
  the old deadline stands; an accepted extension bumps the generation, reschedules warnings
  and republishes `sla.started` for the new generation; answered stops the answer timer
  (and any forwarding timer) with on-time/late and working days used. An action that
  arrives before the routing decision it concerns is parked in `pending_actions` and
  replayed when the timers are armed.

Warnings and breaches
---------------------
Warnings at 09:00 (work start) of the day with N working days left, N configurable (default
3 and 1); a warning whose moment is before the timer was armed is not scheduled. If several
warnings came while nobody fired (downtime), only the latest is sent. When the deadline
passes: `sla.breached` with `escalate_to` = `<body>:head`, then the supervising body (the
agency registry's `parent`, overridable, default `government-office`); levels configurable.
A breached timer stays tracked until answered; a late answer stops it as late.

Ownership and firing (why each timer fires once)
------------------------------------------------
FerretDB v1 has no atomic find-and-modify across callers, so two instances must never fire
the same timer. A timer's shard is the partition of `appeals.routed.v1` its creating record
came from (keys are appeal ids, so all of an appeal's timers share one). The routed consumer
of the `tyndau-sla` group has a rebalance listener: an instance fires exactly the shards
whose partitions it is assigned. On revoke it takes the firing lock, so no pass is in flight
when the partition moves; on assign it fires what is due at once, oldest first (that is how
timers that fell due during downtime fire on start). On shutdown the loop stops before the
consumer leaves the group. Each pass reads at most `batch_size` open timers of the owned
shards with next_fire_at within a short look-ahead, soonest first (one indexed query);
publishes their events (acks=all), then records them. A crash between publish and record
re-fires with the SAME event id (timer id + generation + what + warning index): downstream
sees a duplicate.
Residual risk: an instance cut off from Kafka keeps its shards until its session times out
(10 s); deterministic ids make any overlap recognisable.

Actions vs. firing on one document
----------------------------------
The action consumer runs in its own group (any instance), so it and the owner's firing loop
may touch the same document. Every write is a compare-and-set on `rev` (`update_one` with
`{_id, rev}` in the filter, `$inc rev`) of a decision re-made on the fresh document, plus a
unique write token read back — on a store whose single-document update is not atomic this
detects a write that was overwritten and decides again. Firing records only if the
generation is unchanged and the same firing is still due; an extension or a stop that won
the race makes the loop's record a no-op (the loop may have published a warning for the old
generation: consumers treat older generations as stale).

Known limit: FerretDB v1 (SQLite) uses no secondary index — every non-`_id` query scans the
collection (~0.1 ms per document measured), so the due query and the gauge recount grow
linearly there; on MongoDB the (shard, state, next_fire_at) index serves them. A persisted
time-bucket index read by `_id` is the FerretDB-friendly follow-up.

Configuration (`SlaConfig`, env `SLA_*`): WARNING_WORKING_DAYS (JSON list),
ESCALATION_LEVELS, SUPERVISORS (JSON object), DEFAULT_SUPERVISOR, LOOKAHEAD_SECONDS,
POLL_INTERVAL_SECONDS, BATCH_SIZE, GAUGE_INTERVAL_SECONDS.

Metrics: tyndau_sla_open_timers{kind,agency,state} (gauge, recounted from the store for the
owned shards), tyndau_sla_warnings_total / tyndau_sla_breaches_total{kind,agency},
tyndau_sla_timers_stopped_total{kind,agency,on_time}, tyndau_sla_working_days_used{kind},
tyndau_sla_extensions_total{agency,result}, tyndau_sla_firing_lag_seconds.
"""
