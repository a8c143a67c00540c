"""Notify: tells citizens, officers and supervisors what happened, in Kazakh or Russian.

Owns, and where each part lives:
- who is told what: the rule table (`rules.py`); the texts in kk/ru/en (`templates.py`);
- who the recipients are and where they are reached (`recipients.py`), the staff directory
  (`directory.py`), citizens' preferences;
- a notice's life as a typed record with pure transitions (`lifecycle.py`); the delivery
  policy — channel choice, quiet hours, backoff (`policy.py`);
- attempts, claims and outcomes (`delivery.py`); what comes due later (`delivery_loop.py`);
- delivery providers — SMS gateway, SMTP, push webhook, local outbox (`providers.py`);
- the use cases (`service.py`); the edges (`app.py`); `settings.py` (`NOTIFY_*`),
  `metrics.py`;
- in its own database (`store.py`, the `NotifyStore` port and its layout; `memory.py` the
  same in memory): the appeals projection, the notification records (one per cause event,
  recipient and channel — the idempotency key), their keys, delivery attempts, parked
  events, preferences and the delivery loop's work list.
Publishes `notifications.outcomes.v1`; dead-letters what it cannot parse to
`appeals.dlq.v1`.

HTTP (besides /health, /metrics, /docs/asyncapi):
  GET/PUT /v1/preferences/{iin|phone|email}     a citizen's preferences
  GET     /v1/notifications?appeal_id=...        an appeal's notifications (addresses masked)
  POST    /v1/notifications/{id}/resend          a failed notification gets a new round

Configuration: `NOTIFY_*` variables, see settings.py. Without any provider configured,
messages go to the `outbox` collection (what `make run` shows).

Does not decide anything about the appeal itself.
"""
