"""Local topology room: the production-shaped Shipments API on loopback (PostgreSQL primary and
streaming replica, PgBouncer, Redis, app processes), for the app tests, the benchmarks and
`berth local`. `topology.Topology` is the harness; `session` keeps one running in the background.
"""
