"""Seed 002 (Kamailio tm), example 53: ``t_any_replied`` in an onreply route.

Seed configuration::

    onreply_route[0]{
        if (!t_any_replied()){
            log("first reply received\\n");
            # ...
        }
    }

siptm.toml::

    # the defaults

Translation notes: the seed shows the onreply route only; the request route arming it
(``t_on_reply("0")`` then ``t_relay()``) is added so that the script runs. In an onreply
route ``t_any_replied()`` leaves the reply being handled out of account.
"""

import logging

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")


@router.request
def route(msg, tm):
    # added: arm the onreply route and relay
    tm.t_on_reply("0")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.onreply("0")
def onreply_0(reply, tm):
    if not tm.t_any_replied():
        log.info("first reply received")
        # ...
