"""Seed 003 (OpenSIPS tm), example 1.26: ``t_check_status``.

Seed configuration::

    ...
    if (t_check_status("(487)|(408)")) {
        log("487 or 408 negative reply\\n");
    }
    ...

siptm.toml::

    # the defaults

Translation notes: the seed shows the check alone; it stands here in a failure route
(armed by an added request route: ``t_on_failure("1")`` then ``t_relay()``), where
the seed allows it. ``log()`` writes to the ``siptm.script`` logger.
In a failure route the status checked is the winning negative reply.
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
    if tm.t_check_status("(487)|(408)"):
        log.info("487 or 408 negative reply")
