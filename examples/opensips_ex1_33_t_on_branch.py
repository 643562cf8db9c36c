"""Seed 003 (OpenSIPS tm), example 1.33: ``t_on_branch`` (drop a branch, mark one).

Seed configuration::

    route {
            t_on_branch("1");
            t_relay();
    }

    branch_route[1] {
            if (uri=~"bad_uri") {
                    xlog("dropping branch $ru \\n");
                    drop;
            }
            if (uri=~"GW_uri") {
                    append_rpid();
            }
    }

siptm.toml::

    # the defaults

Translation notes: ``uri=~`` is a regular expression search on the branch's
Request-URI; ``drop`` in a branch route removes that branch (``tm.drop()``).
``append_rpid()`` belongs to OpenSIPS' auth module (a Remote-Party-ID header from an
AVP), which siptm does not have: left out where it stood.
"""

import logging
import re

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")


@router.request
def route(msg, tm):
    tm.t_on_branch("1")
    tm.t_relay()


@router.branch("1")
def branch_1(msg, tm):
    if re.search("bad_uri", msg.uri_text):
        log.info("dropping branch %s ", msg.uri_text)
        tm.drop()
    if re.search("GW_uri", msg.uri_text):
        pass  # append_rpid(): auth module, not in siptm
