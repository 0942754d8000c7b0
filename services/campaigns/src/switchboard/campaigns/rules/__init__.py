"""Campaign rules: when an event qualifies for a message (conditions), and what it says (templates).

`conditions` and `templates` are pure: no database, no I/O, so the rule API checks a rule when it
is saved and the worker applies it when an event arrives, with the same code (`compiled` names the
fields a rule's template may read, for both). `endpoints`, `service` and `schemas` are the
`/v1/rules` API.
"""
