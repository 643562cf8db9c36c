"""Seed 002 (Kamailio tm), example 47: ``t_set_retr`` in the request and a branch route.

Seed configuration::

    route {
        t_set_retr(250, 0); # set only T1 to 250 ms
        t_on_branch("1");
        t_relay();
    }
    branch_route[1] {
        # if we are calling the a remote pstn, extend T1 and decrease T2
        # for all the branches
        if (uri=~"sip:[0-9]+"){
            t_set_retr(500, 2000);
        }
    }

siptm.toml::

    # the defaults

Translation notes: in a branch route ``t_set_retr`` applies to the branch being sent.
"""

import re

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    tm.t_set_retr(250, 0)  # set only T1 to 250 ms
    tm.t_on_branch("1")
    tm.t_relay()


@router.branch("1")
def branch_1(msg, tm):
    # if we are calling the a remote pstn, extend T1 and decrease T2
    # for all the branches
    if re.search(r"sip:[0-9]+", msg.uri_text):
        tm.t_set_retr(500, 2000)
