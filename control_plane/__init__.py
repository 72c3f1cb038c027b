"""The control plane: one asyncio process serving the HTTP API (Litestar) and the
fleet's mutual-TLS gRPC service, over one SQLite database.

Where things live:
  app.py        wiring: `create_app(config)`, `serve(...)`, `run(config_path)`
  services.py   the typed container every route and the gRPC servicer receive
  monitor.py    background upkeep: node health, reconnect grace, upstream pushes
  store/        tables and migrations (no logic)
  fleet/        enrollment, node status (pure), live session state, the servicer
  streams/      channels and keys, publish decisions (pure), lifecycle, catalog
  routing/      node choice for broadcasters and viewers, upstream topology (pure)
  admin.py      `glasscast admin`, an HTTP client of this API
"""
