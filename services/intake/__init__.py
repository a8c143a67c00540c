"""Intake: turns what channels send into registered appeals (Art. 64 APC RK).

Owns: adapting channel formats, validation with reasons, the registration number, the
registration time on the working-day calendar, and `appeals.registered.v1` /
`appeals.rejected.v1` / `appeals.dlq.v1`. Does not decide where an appeal goes (routing) or
watch deadlines (sla).
"""
