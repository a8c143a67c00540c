"""Intake: turns what channels send into registered appeals (Art. 64 APC RK), and tells
channels and citizens where each appeal stands.

Owns: adapting channel formats (1414, iKomek 109, e-Otinish on Kafka; the HTTP gateway),
validation with reasons, the registration number and its per-day sequence, the registration
time on the working-day calendar, repeat detection, `appeals.registered.v1` /
`appeals.rejected.v1` / `appeals.dlq.v1`, and the status timeline behind
`GET /v1/appeals/{reg_number}` (folded from the lifecycle topics). Does not decide where an
appeal goes (routing), watch deadlines (sla) or tell anyone (notify).
"""
