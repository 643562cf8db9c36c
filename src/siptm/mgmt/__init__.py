"""Management: JSON-RPC 2.0 over loopback UDP (``[mgmt] listen``), ``siptm ctl``.

See docs/management.md for the methods and the statistics they read.
"""

from .client import RemoteError, call
from .rpc import Dispatcher, RpcError

__all__ = ["Dispatcher", "RemoteError", "RpcError", "call"]
