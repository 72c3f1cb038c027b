"""The mutual-TLS `grpc.aio` server the fleet's nodes dial."""

from __future__ import annotations

import grpc

from control_plane.fleet.servicer import FleetServicer
from shared import pki
from shared.fleet import fleet_pb2_grpc

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def server_credentials(
    ca: pki.CertificateAuthority, tls_names: list[str]
) -> grpc.ServerCredentials:
    # A fresh server key each start: nothing to rotate, and nodes pin the CA only.
    key_pem, issued = ca.issue_server_certificate(tls_names)
    return grpc.ssl_server_credentials(
        [(key_pem, issued.certificate_pem)],
        root_certificates=ca.certificate_pem,
        require_client_auth=True,
    )


def build_server(
    servicer: FleetServicer,
    ca: pki.CertificateAuthority,
    tls_names: list[str],
    address: str,
) -> tuple[grpc.aio.Server, int]:
    """A server bound to `address` (port 0 picks one); returns it and its port."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 20_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ]
    )
    fleet_pb2_grpc.add_FleetServicer_to_server(servicer, server)
    port = server.add_secure_port(address, server_credentials(ca, tls_names))
    if port == 0:
        raise OSError(f"cannot bind the fleet gRPC port at {address}")
    return server, port
