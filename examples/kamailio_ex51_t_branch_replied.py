"""Seed 002 (Kamailio tm), example 51: ``t_branch_replied`` in a failure route.

Seed configuration::

    failure_route[0]{
        if (t_branch_timeout()){
            if (t_branch_replied())
                log("timeout after receiving a reply (no answer?)\\n");
            else
                log("timeout, remote side seems to be down\\n");
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
    if tm.t_branch_timeout():
        if tm.t_branch_replied():
            log.info("timeout after receiving a reply (no answer?)")
        else:
            log.info("timeout, remote side seems to be down")
        # ...
