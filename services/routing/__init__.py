"""Routing: sends each registered appeal to the body competent for its category and place.

Owns: the agency registry (data), routing decisions with the rule that made them,
`appeals.routed.v1`, `appeals.triage.v1` and the agencies' inbox topics. Does not register
appeals (intake) or watch deadlines (sla).
"""
