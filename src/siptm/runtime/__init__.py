"""The asyncio runtime: sockets, the loop clock, one re-armed timer, effect dispatch.

Rules of this package: it is the only code in siptm that owns sockets and loop time.
Importing the package itself loads nothing (so the pure core may import
:mod:`siptm.runtime.effects`, which is pure); import the submodules you need:
``siptm.runtime.server`` (:class:`Server`, :func:`run`), ``.transports``, ``.udp``,
``.stream``, ``.clock``, ``.logs``.
"""
