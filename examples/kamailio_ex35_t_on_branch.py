"""Seed 002 (Kamailio tm), example 35: ``t_on_branch`` (a header on numeric URIs).

Seed configuration::

    route {
        t_on_branch("1");
        t_relay();
    }
    branch_route[1] {
        if (uri=~"sip:[0-9]+"){
            append_hf("P-Warn: numeric uri\\r\\n");
        }
    }

siptm.toml::

    # the defaults

Translation notes: ``uri=~`` is a regular expression search on the branch's
Request-URI (``msg.uri_text``); ``append_hf`` is ``msg.headers.add``. The branch route
runs once per branch, on that branch's copy of the request, before it is sent.
"""

import re

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    tm.t_on_branch("1")
    tm.t_relay()


@router.branch("1")
def branch_1(msg, tm):
    if re.search(r"sip:[0-9]+", msg.uri_text):
        msg.headers.add("P-Warn", "numeric uri")
