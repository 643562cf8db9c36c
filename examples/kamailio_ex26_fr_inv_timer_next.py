"""Seed 002 (Kamailio tm), example 26: the ``fr_inv_timer_next`` parameter.

Seed configuration::

    ...
    modparam("tm", "fr_inv_timer_next", 10)
    ...

siptm.toml::

    [tm]
    contacts_avp = "tm_contacts"
    fr_inv_timer_next = 10000

Translation notes: siptm's timers are milliseconds (the seed's 10 is from a release
counting seconds). While lower q-value contacts remain after ``t_next_contacts()``,
a branch rings for fr_inv_timer_next (10 s) instead of fr_inv_timer: an unanswered
phone hands over to the next contact group sooner. The parameter alone is the seed's
example; the serial-forking script of examples 61 and 62 is added so that it acts.
"""

from siptm.script import Router

router = Router()

# added: what a registrar lookup("location") would have put in the destination set:
# the R-URI (q unspecified counts as 1.0) and one branch per further contact
CONTACTS = [
    ("sip:alice@192.0.2.41", 1.0),  # desk phone
    ("sip:alice@192.0.2.42", 1.0),  # soft phone, rung together with the desk phone
    ("sip:alice@192.0.2.43", 0.5),  # mobile, tried when both did not answer
    ("sip:voicemail@192.0.2.44", 0.1),  # last resort
]


def lookup(msg, tm):
    """Stand-in for the registrar's lookup(): fill the destination set."""
    first, *others = CONTACTS
    msg.uri = first[0]
    for uri, q in others:
        tm.append_branch(uri, q=q)


def in_dialog_or_cancel(msg, tm):
    """added: CANCEL, retransmissions and in-dialog requests as usual; True when done."""
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
    if msg.method not in ("ACK", "CANCEL"):
        tm.t_check_trans()
    if msg.method != "INVITE" or msg.to_tag is not None:
        if not tm.t_relay():
            tm.sl_reply_error()
        return True
    return False


@router.request
def route(msg, tm):
    if in_dialog_or_cancel(msg, tm):
        return
    lookup(msg, tm)
    # example 61
    if not tm.t_load_contacts():
        tm.sl_send_reply(500, "Server Internal Error - Cannot load contacts")
        tm.exit()
    # example 62: first call after t_load_contacts() when transaction does not exist
    # yet and contacts should be available
    tm.t_on_failure("serial")
    if not tm.t_next_contacts():
        tm.sl_send_reply(500, "Server Internal Error - Cannot get contacts")
    else:
        tm.t_relay()


@router.failure("serial")
def serial(msg, tm):
    # example 62: following call, when transaction exists and there may or may not be
    # contacts left
    if not tm.t_next_contacts():
        tm.t_reply(408, "Request Timeout")
    else:
        tm.t_on_failure("serial")  # added: a failure route runs once per arming
        tm.t_relay()

