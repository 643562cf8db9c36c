"""Seed 002 (Kamailio tm), example 33: ``t_on_failure`` (forward to voicemail).

Seed configuration::

    route {
        t_on_failure("1");
        t_relay();
    }
    failure_route[1] {
        revert_uri();
        setuser("voicemail");
        append_branch();
    }

siptm.toml::

    # the defaults

Translation notes:

- ``revert_uri()``: a failure route starts with the Request-URI of the winning branch
  (seed 003 t_on_failure), which for this single-branch call is the R-URI the request
  was relayed with; there is nothing to revert.
- ``setuser("voicemail")`` edits the URI in place: ``msg.uri.user = "voicemail"``.
- ``append_branch()`` adds the current URI to the destination set; the seed's example
  stops there, its new branch going out implicitly. In siptm (as in Kamailio's later
  configurations) the failure route sends its new branches with ``t_relay()``, added
  as the last line.
"""

from siptm.script import Router

router = Router()


@router.request
def route(msg, tm):
    tm.t_on_failure("1")
    tm.t_relay()


@router.failure("1")
def failure_1(msg, tm):
    # revert_uri(): the failure route's R-URI already is the one relayed
    msg.uri.user = "voicemail"  # setuser("voicemail")
    tm.append_branch()
    tm.t_relay()  # added: send the new branch
