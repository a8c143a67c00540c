"""Workspace: where the people of bodies without a system of their own work — in the
browser, in Kazakh and Russian (issue 16; this is its first slice: the agency officer).

Owns: the `workspace` database (`appeals` — its read model, `users`, `sessions`, `audit`)
and the pages (app.py). A client of the same topics and contracts as any agency system:
it reads every body's inbox, the routing decisions, the bodies' decisions and sla's events,
and publishes an officer's decision on that officer's body's own decisions topic; routing
checks it like any other.

Where things live: `views.py` (the read model, pure), `store.py`, `decisions.py` (forms into
decisions, pure), `accounts.py` (users, Argon2id, sessions), `i18n.py` (kk/ru labels),
`templates/`, `app.py` (the edges), `settings.py` (`WORKSPACE_*`).
"""
