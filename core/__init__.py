"""The aftercare domain: pure Python, no UI, storage or delivery libraries.

Everything here can be tested as plain functions; `db/`, `notifiers/` and
`tui/` depend on this package and never the other way round.
"""
