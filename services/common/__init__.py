"""What every Tyndau service shares: settings, Kafka and MongoDB wiring, the HTTP surface
(/health, /metrics, /docs/asyncapi), dead-lettering and the working-day calendar.

Business rules of a service do not live here; only the plumbing the four services would
otherwise write four times.
"""
