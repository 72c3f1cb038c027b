"""The sans-IO HTTP/1.1 server core (httptools underneath); the trio shell is `server.py`."""

from edge_node.deliver.http._connection import H1Connection
from edge_node.deliver.http._events import HttpProtocolError, Request
from edge_node.deliver.http._head import encode_fields, encode_head
from edge_node.deliver.http._limits import Limits
from edge_node.sentinels import CLOSED, NEED_DATA, Sentinel

__all__ = [
    "CLOSED",
    "NEED_DATA",
    "H1Connection",
    "HttpProtocolError",
    "Limits",
    "Request",
    "Sentinel",
    "encode_fields",
    "encode_head",
]
