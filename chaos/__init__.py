"""`make chaos`: kill anything, lose nothing, recover in seconds — measured from outside.

The run starts its own three-broker KRaft cluster and its own store (apart from the broker
and store `make run` and `make test` use, so killing them disturbs nothing else), the four
services as processes under fixed instance ids (as `make run` runs them), and stand-in
providers (SMS gateway, push webhook, SMTP) that record what a citizen would receive. It then
calls in like the 1414 call centre, at a fixed rate with a distinct valid citizen per call,
while a scripted sequence of faults runs (`chaos/faults.py`), and counts from the topics and
the stand-ins what a citizen and an agency would see (`chaos/ledger.py`).

    python -m chaos            the full run (every fault kind, twice), table + chaos/results.json
    python -m chaos --quick    every fault kind once, ~1,000 calls at 8/s (what `make test` runs)
"""
