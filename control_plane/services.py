"""The control plane's services, built once per process from the config (or by
tests, around a temporary state dir) and shared by the HTTP app, the fleet's gRPC
servicer and the upkeep. No route is given the whole container: each domain's
`providers.domain(services)` hands its routes the few services they use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from control_plane import keys
from control_plane.events import EventBus
from control_plane.fleet.enrollment import EnrollmentService
from control_plane.fleet.live import LiveFleet
from control_plane.fleet.service import FleetService
from control_plane.fleet.servicer import FleetServicer
from control_plane.metrics import Metrics
from control_plane.store import database
from control_plane.streams.catalog import StreamCatalog
from control_plane.streams.channels import ChannelService
from control_plane.streams.publishing import PublishService
from control_plane.vods.deps import Recording
from shared import pki
from shared.config import ControlPlaneConfig
from shared.tokens import TokenSigner


@dataclass(frozen=True, slots=True)
class Services:
    config: ControlPlaneConfig
    db: sqlite_utils.Database
    ca: pki.CertificateAuthority
    signer: TokenSigner
    admin_token_digest: str
    events: EventBus
    metrics: Metrics
    live: LiveFleet
    fleet: FleetService
    enrollment: EnrollmentService
    channels: ChannelService
    publishing: PublishService
    catalog: StreamCatalog
    recording: Recording
    started_at: float

    def servicer(self) -> FleetServicer:
        return FleetServicer(
            self.fleet, self.publishing, self.catalog, self.live, self.metrics, self.recording
        )

    def close(self) -> None:
        self.db.close()


def build_services(
    config: ControlPlaneConfig, clock: Callable[[], float] = time.time
) -> tuple[Services, str]:
    """Open the database, load or create the CA, signing key and admin token.

    Returns the services and the admin token (for the one log line that names
    where it lives, and for tests)."""
    state = config.state_dir
    state.mkdir(parents=True, exist_ok=True)
    db = database.connect(config.database_path)
    ca = pki.CertificateAuthority.load_or_create(state / "ca")
    signer = TokenSigner.load_or_create(state / "token-signing.key")
    admin_token = keys.load_or_create_admin_token(state / "admin-token")
    events = EventBus()
    live = LiveFleet()
    fleet = FleetService(db, live, events, config.fleet, clock)
    channels = ChannelService(db, events, clock)
    services = Services(
        config=config,
        db=db,
        ca=ca,
        signer=signer,
        admin_token_digest=keys.digest(admin_token),
        events=events,
        metrics=Metrics(),
        live=live,
        fleet=fleet,
        enrollment=EnrollmentService(db, ca, signer.public_key_pem, live, events, config, clock),
        channels=channels,
        publishing=PublishService(
            db, channels, live, events, config.streams, fleet.unhealthy_after, clock
        ),
        catalog=StreamCatalog(db, channels, fleet, live, signer, config),
        recording=Recording.build(db, fleet),
        started_at=clock(),
    )
    return services, admin_token
