"""Notify: tells citizens, officers and supervisors what happened, in Kazakh or Russian.

Owns: the rule table of who is told what (rules.py), templates in kk/ru/en (templates.py),
delivery providers — SMS gateway, SMTP, push webhook, local outbox (providers.py) — the
delivery policy (policy.py: channel choice, quiet hours, backoff), the staff directory
(directory.py), and in its own database the appeals projection, the notification records
(one per cause event, recipient and channel — the idempotency key), delivery attempts,
parked events and citizens' preferences (service.py). Publishes
`notifications.outcomes.v1`; dead-letters what it cannot parse to `appeals.dlq.v1`.

HTTP (besides /health, /metrics, /docs/asyncapi):
  GET/PUT /v1/preferences/{iin|phone|email}     a citizen's preferences
  GET     /v1/notifications?appeal_id=...        an appeal's notifications (addresses masked)
  POST    /v1/notifications/{id}/resend          a failed notification gets a new round

Configuration: `NOTIFY_*` variables, see settings.py. Without any provider configured,
messages go to the `outbox` collection (what `make run` shows).

Does not decide anything about the appeal itself.
"""
