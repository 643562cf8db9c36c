"""siptm: a transaction-stateful SIP proxy engine (the tm module of Kamailio/OpenSIPS)."""

from .errors import ParseError

__version__ = "0.1.0"
__all__ = ["ParseError", "__version__"]
