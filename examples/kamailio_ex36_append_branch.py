"""Seed 002 (Kamailio tm), example 36: ``append_branch`` (parallel forking).

Seed configuration::

    set_user("john");
    t_fork();
    set_user("alice");
    t_fork();
    t_relay();

siptm.toml::

    # the defaults

Translation notes: ``t_fork()`` is the old name of ``append_branch()``: the current
Request-URI becomes a new entry of the destination set. ``t_relay()`` then sends one
branch per entry, in parallel: to john and to alice at the R-URI's host. The seed's
lines are the body of the request route.
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    msg.uri.user = "john"  # set_user("john")
    tm.append_branch()  # t_fork()
    msg.uri.user = "alice"  # set_user("alice")
    tm.append_branch()  # t_fork()
    tm.t_relay()
