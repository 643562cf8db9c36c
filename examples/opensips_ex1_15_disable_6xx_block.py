"""Seed 003 (OpenSIPS tm), example 1.15: the ``disable_6xx_block`` parameter.

Seed configuration::

    ...
    modparam("tm", "disable_6xx_block", 1)
    ...

siptm.toml::

    [tm]
    disable_6xx_block = true

Translation notes: the seed sets the parameter only ("you need to break RFC3261 if you
want to do redirects to announcement and voicemail services"). With it a 6xx is handled
as any other negative reply: the request route and failure route added here send a
declined call to an announcement server, which the RFC 3261 behaviour (the default, 0)
would refuse (``t_relay`` would return -3 after a 6xx).
"""

import logging

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")

# added: the announcement service
ANNOUNCEMENT = "sip:declined@192.0.2.30"


@router.request
def route(msg, tm):
    # added
    tm.t_on_failure("announce")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("announce")
def announce(msg, tm):
    # added
    if tm.t_check_status("6[0-9][0-9]"):
        msg.uri = ANNOUNCEMENT
        if not tm.t_relay():
            log.info("no new branch after a 6xx (disable_6xx_block is off)")
