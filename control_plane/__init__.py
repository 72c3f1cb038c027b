"""The control plane: one asyncio process serving the HTTP API (Litestar) and the
fleet's mutual-TLS gRPC service, over one SQLite database.

The HTTP API is six domains (streams, fleet, vods, chat, web, ops), each wired the
same way: `routes.py` (controllers), `schemas.py` (bodies, where it has any), its
services, and `providers.py`, whose `domain(services)` returns a `Domain` (domain.py):
the route handlers, the dependencies they are given by name (only what they use), and
any app plugins. `app.py` lists the domains and assembles them in one place, mapping
every `DomainError` (errors.py) to a response once.

Where things live:
  app.py        wiring: `DOMAINS`, `assemble(...)`, `create_app(config)`, `serve(...)`,
                `run(config_path)`
  domain.py     what a domain contributes to the app
  errors.py     `DomainError` and its kinds, each with its status (and optional `code`)
  auth.py       bearer tokens (the one parser) and the admin guard
  services.py   the services built once per process, shared by the app, the gRPC
                servicer and the upkeep; domains pick from it in their providers
  monitor.py    background upkeep: node health, reconnect grace, upstream pushes
  store/        tables and migrations (no logic)
  fleet/        enrollment, node status (pure), live session state, upstream pushes,
                the servicer
  streams/      channels and keys, publish decisions (pure), lifecycle, viewer counts,
                listings, placement (where to push and watch); catalog.py builds them
  routing/      node choice for broadcasters and viewers, upstream topology (pure),
                the current table (rebuilt when the fleet changes)
  vods/         recordings, retention, clips, VOD play
  chat/         the chat hub, its socket and REST shells (PROTOCOL.md)
  web/          the viewer pages and their static files
  ops/          health, metrics, the event stream
  admin.py      `glasscast admin`, an HTTP client of this API
"""
