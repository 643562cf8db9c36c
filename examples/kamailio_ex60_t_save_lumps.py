"""Seed 002 (Kamailio tm), example 60: ``t_save_lumps`` (what failure-route branches
inherit).

Seed configuration::

    route {
        ...
        t_newtran();
        append_hf("hf1: my first header\\r\\n");
        ...
        t_save_lumps();
        append_hf("hf2: my second header\\r\\n");
        ...
        t_on_failure("1");
        t_relay();
    }

    failure_route[1] {
        append_branch();
        append_hf("hf3: my third header\\r\\n");
        #
        # This branch contains hf1 and hf3, but does
        # not contain hf2 header.
        # hf2 would be also present here without
        # t_save_lumps().
        ...
        t_relay();
    }

siptm.toml::

    # the defaults

Translation notes: ``append_hf`` is ``msg.headers.add``. The first branch carries hf1
and hf2; a failure-route branch starts from the request as saved by ``t_save_lumps()``
(hf1 only) and adds hf3.
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    # ...
    tm.t_newtran()
    msg.headers.add("hf1", "my first header")
    # ...
    tm.t_save_lumps()
    msg.headers.add("hf2", "my second header")
    # ...
    tm.t_on_failure("1")
    tm.t_relay()


@router.failure("1")
def failure_1(msg, tm):
    tm.append_branch()
    msg.headers.add("hf3", "my third header")
    #
    # This branch contains hf1 and hf3, but does
    # not contain hf2 header.
    # hf2 would be also present here without
    # t_save_lumps().
    # ...
    tm.t_relay()
