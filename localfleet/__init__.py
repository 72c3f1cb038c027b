"""`glasscast up`: a whole fleet on loopback for trying Glasscast and for its e2e tests."""

from .up import run_up

__all__ = ["run_up"]
