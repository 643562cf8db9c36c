"""Seed 002 (Kamailio tm), example 52: ``t_any_timeout`` in a failure route.

Seed configuration::

    failure_route[0]{
        if (!t_branch_timeout()){
            if (t_any_timeout()){
                log("one branch did timeout\\n");
                sl_send_reply("408", "Timeout");
            }
        }
    }

siptm.toml::

    # the defaults

Translation notes: the seed shows the failure route only; the request route arming it
(``t_on_failure("0")`` then ``t_relay()``) is added so that the script runs.
``log()`` writes to the ``siptm.script`` logger.
The seed answers statelessly (``sl_send_reply``) from the failure route; ``t_reply``
would be the stateful way.
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
    if not tm.t_branch_timeout():  # noqa: SIM102 (the seed's nesting)
        if tm.t_any_timeout():
            log.info("one branch did timeout")
            tm.sl_send_reply(408, "Timeout")
