"""Seed 002 (Kamailio tm), example 43: ``t_set_fr`` in the request and a branch route.

Seed configuration::

    route {
        t_set_fr(10000); # set only fr invite timeout to 10s
        t_on_branch("1");
        t_relay();
    }
    branch_route[1] {
        # if we are calling the pstn, extend the invite timeout to 50s
        # for all the branches, and set the no-reply-received timeout to 2s
        if (uri=~"sip:[0-9]+"){
            t_set_fr(50000, 2000);
        }
    }

siptm.toml::

    # the defaults

Translation notes: times are milliseconds as in the seed. In a branch route
``t_set_fr`` applies to the branch being sent.
"""

import re

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    tm.t_set_fr(10000)  # set only fr invite timeout to 10s
    tm.t_on_branch("1")
    tm.t_relay()


@router.branch("1")
def branch_1(msg, tm):
    # if we are calling the pstn, extend the invite timeout to 50s
    # for all the branches, and set the no-reply-received timeout to 2s
    if re.search(r"sip:[0-9]+", msg.uri_text):
        tm.t_set_fr(50000, 2000)
