"""SLA: statutory deadline timers (Art. 65 forwarding, Art. 76 answer) on the Kazakh
working-day calendar.

Owns: the `sla` database (`timers`, `due`, `breaches`, `tallies`, `pending_actions`,
`parked_appeals`) and `sla.events.v1` (started, warning, breached, stopped, extension
refused). Does not own: the calendar (`reference.calendar`, shared), routing
decisions, notifications, or the registry of bodies (read for escalation).

Where things live: `schedule.py` (the rules: warnings, breach, escalation, whether an
extension stands; the statutory periods come from `reference/statute.py`), `timers.py` (the
typed `Timer`, `DueEntry`, `Breach` and the events a timer emits), `service.py` (arming,
agency actions, firing), `firing.py` (the firing loop and its shard ownership), `tallies.py`
(open-timer counts), `store.py` (the `TimerStore` port and its MongoDB layout; `memory.py` the
same in memory), `app.py` (the edges), `settings.py` (`SLA_*`), `metrics.py`.

Timers
------
One document per timer in `timers`, `_id` = timer id: `<appeal>:answer` (one per appeal; a
redirect keeps it, its receipt date and its deadline, and only changes the responsible body)
and `<appeal>:forwarding:<hop>` (one per receiving body: each hop's Art. 65 term is its own).
Fields: appeal_id, kind, agency_code, received_at, registered_at (day 0 of the term),
due_at, generation (1, +1 per accepted extension), state (open | breached | stopped), shard,
warnings (their moments and days left), escalate_to, rev (revision for compare-and-set),
started_event and outcomes (action event id → the SLA event it produced, so a redelivered
action republishes the same event).

The due index (why it is documents, not a secondary index)
----------------------------------------------------------
FerretDB v1 on SQLite serves only `_id` conditions from an index (our build adds `$in` and
string ranges, see deploy/local/ferretdb.sh); any other filter reads the whole collection,
i.e. minutes per query at a million timers (docs/measurements.md). So "what is due" is its own
collection, `due`, with one entry per timer generation at a time (the next of its warnings
and deadline), `_id` = `<shard>|<moment UTC ISO ms>|<timer id>|<generation>`: the firing loop
reads the `_id` range `<shard>|` … `<shard>|<now + look-ahead>` of each owned shard, soonest
first, a bounded batch at a time. An entry carries what its event needs (a snapshot of the
timer's identity and body, and its generation's whole schedule with the days left at each
moment) as one JSON field — FerretDB converts documents field by field, and this made
reading and deleting entries ~4× cheaper — so firing reads no timer document to decide. The
entry fires the latest moment of its schedule that has come (a passed deadline breaches;
warnings missed during downtime collapse into the most recent) and puts in the entry of the
next moment (rolling: an appeal answered before its first warning costs one entry, not
three). The paths that change a timer keep its entry in step, and again on a redelivered
input (offsets are committed only after): a stop drops it; an accepted extension inserts
the new generation's first entry before the timer points at it and drops the superseded
ones after; a redirect rewrites it for the new body. Firing publishes first, records
breaches (`breaches`, `_id` `<timer>|<generation>`, with the escalation) and puts in the
successors next, and drops the entries last, so a crash in between fires them again with the
same event ids. A successor is checked against its timer after it is stored (one `$in` read
of the timers' generation, state and body per pass): a stop, extension or redirect that
wrote the timer meanwhile writes its entries after, so one of the two sees the other and the
successor is dropped or repointed. A warning's record is its dropped entry. (Entries stored
one per moment by the version before still fire once each.) Nothing ever loads
"all timers": an appeal's timers are the `_id` range `<appeal>:…`, and the open-timer
gauges come from tallies (below), not from counting documents. The timer document's state
stays `open` after a breach (the breach is its own record); a late answer stops it as late.

Residual race: an answer that lands while its entry is being fired can be followed by that
warning or breach (published from the entry read just before); the stop's outcome is right
and downstream sees the stop after it.

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
  replayed when the timers are armed. Parking writes the appeal's marker (`parked_appeals`,
  `_id` = appeal id, never deleted) first, so arming reads the parked actions only for
  appeals that have a marker; and an action, once parked, looks for timers again, so an
  arming that ran between its first look and its parking cannot leave it parked.

Arming is the hot path: the routed subscriber handles up to 64 appeals at once and their
store operations (timer reads by id, inserts of new timers and due entries, marker reads)
are coalesced into shared commands (`StoreBatcher`); per appeal that is four round trips
(read, insert entries, insert timers, publish + marker read), each shared with the batch.
Compare-and-set updates (redirect, actions) stay commands of their own.

Warnings and breaches
---------------------
Warnings at 09:00 (work start) of the day with N working days left, N configurable (default
3 and 1); a warning whose moment is before the timer was armed is not scheduled. If several
warnings came while nobody fired (downtime), only the latest is sent. When the deadline
passes: `sla.breached` with `escalate_to` = `<body>:head`, then the supervising body (the
agency registry's `parent`, overridable; bodies without one: the registry's catch-all body); levels
configurable.
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
consumer leaves the group. Each pass reads at most `batch_size` due-index entries of the
owned shards within a short look-ahead, soonest first (an equal share per shard); publishes
their events (acks=all), records breaches, then drops the entries. A crash
between publish and drop re-fires with the SAME event id (timer id + generation + what +
warning index): downstream sees a duplicate.
Residual risk: an instance cut off from Kafka keeps its shards until its session times out
(10 s); deterministic ids make any overlap recognisable.

Actions vs. firing on one document
----------------------------------
The action consumer runs in its own group (any instance), and several inputs may touch one
timer document (the firing loop does not: it writes only entries and breach records). Every
write is a compare-and-set on `rev` (`update_one` with
`{_id, rev}` in the filter, `$inc rev`) of a decision re-made on the fresh document, plus a
unique write token read back — on a store whose single-document update is not atomic this
detects a write that was overwritten and decides again.

Open-timer gauges without counting
----------------------------------
Counting a million timer documents on FerretDB takes minutes (docs/measurements.md).
Every change of a timer's state (armed, breached, stopped, reassigned to another body) adds a
delta in memory; every gauge interval the deltas are flushed with `$inc` into this instance's
own tally document per shard (`tallies`, `_id` `<shard>|<instance>`: one writer per document,
so no increment is lost on a store without atomic updates), and the gauge is the sum of all
instances' documents for the owned shards. Known drift: deltas not yet flushed when a
process is killed are lost (at most one interval of changes; a clean stop flushes).

Configuration (`SlaSettings` in settings.py, env `SLA_*`): WARNING_WORKING_DAYS (JSON list),
ESCALATION_LEVELS, SUPERVISORS (JSON object), DEFAULT_SUPERVISOR, LOOKAHEAD_SECONDS,
POLL_INTERVAL_SECONDS, BATCH_SIZE, GAUGE_INTERVAL_SECONDS.

Metrics: tyndau_sla_open_timers{kind,agency,state} (gauge, from the tallies of the owned
shards), tyndau_sla_warnings_total / tyndau_sla_breaches_total{kind,agency},
tyndau_sla_timers_stopped_total{kind,agency,on_time}, tyndau_sla_working_days_used{kind},
tyndau_sla_extensions_total{agency,result}, tyndau_sla_firing_lag_seconds.
"""
