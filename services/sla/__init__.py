"""SLA: statutory deadline timers (Art. 65 forwarding, Art. 76 answer) on the Kazakh
working-day calendar.

Owns: the timers collection, `sla.events.v1` (started, warning, breached, stopped,
extension refused). Timers are documents indexed by due time, never held in memory beyond a
short look-ahead window. Does not route or notify.

Skeleton scope: a routed appeal gets its answer-deadline timer, stored and announced. Firing,
warnings, breaches and stops arrive with the SLA issue.
"""
