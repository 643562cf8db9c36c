"""Seed 002 (Kamailio tm), example 55: ``t_is_canceled`` in a failure route.

Seed configuration::

    failure_route[0]{
        if (t_is_canceled()){
            log("transaction canceled\\n");
            # ...
        }
    }

siptm.toml::

    # the defaults

Translation notes: the seed shows the failure route only; the request route arming it
(``t_on_failure("0")`` then ``t_relay()``) is added so that the script runs.
``log()`` writes to the ``siptm.script`` logger.
"""

import logging

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")


@router.request
def route(msg, tm):
    # added: arm the failure route and relay
    tm.t_on_failure("0")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("0")
def failure_0(msg, tm):
    if tm.t_is_canceled():
        log.info("transaction canceled")
        # ...
