"""Notify: tells citizens, officers and supervisors what happened, in Kazakh or Russian.

Owns: templates, delivery providers, the notifications collection (one record per cause
event, recipient and channel — the idempotency key) and `notifications.outcomes.v1`.
Does not decide anything about the appeal itself.

Skeleton scope: the citizen's registration notice through the local outbox provider.
"""
