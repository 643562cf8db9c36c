"""Seed 003 (OpenSIPS tm), example 1.28: ``t_was_cancelled``.

Seed configuration::

    ...
    if (t_was_cancelled()) {
        log("transaction was cancelled by UAC\\n");
    }
    ...

siptm.toml::

    # the defaults

Translation notes: the seed shows the check alone; it stands here in a failure route
(armed by an added request route: ``t_on_failure("1")`` then ``t_relay()``), where
the seed allows it. ``log()`` writes to the ``siptm.script`` logger.
"""

import logging

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")


@router.request
def route(msg, tm):
    # added: arm the failure route and relay
    tm.t_on_failure("1")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("1")
def failure_1(msg, tm):
    if tm.t_was_cancelled():
        log.info("transaction was cancelled by UAC")
