"""TLS contexts for the stream transports, from the ``[tls]`` settings.

Rules of this module: the server context presents ``certificate``/``private_key`` and
asks for a client certificate only with ``require_certificate``; the client context (for
connections siptm opens) verifies the peer only with ``verify_certificate``, as
Kamailio's tls module does by default, and presents our certificate when one is set.
"""

from __future__ import annotations

import ssl

from ..config import TlsSettings

__all__ = ["client_context", "server_context"]


def server_context(settings: TlsSettings) -> ssl.SSLContext | None:
    """The context of the TLS listeners (``None`` without a certificate)."""
    if not settings.certificate:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.certificate, settings.private_key or None)
    if settings.require_certificate:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if settings.ca_list:
            ctx.load_verify_locations(settings.ca_list)
        else:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """The context of TLS connections siptm opens."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ca_list or None)
    if not settings.verify_certificate:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if settings.certificate:
        ctx.load_cert_chain(settings.certificate, settings.private_key or None)
    return ctx
