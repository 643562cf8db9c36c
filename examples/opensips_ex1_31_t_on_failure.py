"""Seed 003 (OpenSIPS tm), example 1.31: ``t_on_failure`` (forward to voicemail).

Seed configuration::

    route {
            t_on_failure("1");
            t_relay();
    }

    failure_route[1] {
            seturi("sip:user@voicemail");
            t_relay();
    }

siptm.toml::

    # the defaults

Translation notes: ``seturi`` replaces the Request-URI (``msg.uri = ...``); the
failure route's ``t_relay()`` sends a new branch to it. siptm resolves no names:
``voicemail`` must be reachable as written (or replace ``VOICEMAIL``).
"""

from siptm.script import Router

router = Router()

VOICEMAIL = "sip:user@voicemail"


@router.request
def route(msg, tm):
    tm.t_on_failure("1")
    tm.t_relay()


@router.failure("1")
def failure_1(msg, tm):
    msg.uri = VOICEMAIL  # seturi("sip:user@voicemail")
    tm.t_relay()
