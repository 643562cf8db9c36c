"""Seed 002 (Kamailio tm), example 34: ``t_on_reply`` (NAT handling of replies).

Seed configuration::

    loadmodule "/usr/local/lib/ser/modules/nathelper.so"
    ...
    route {
        /* if natted */
        t_on_reply("1");
        t_relay();
    }
    onreply_route[1] {
        if (status=~ "(183)|2[0-9][0-9]"){
            force_rtp_proxy();
            search_append('^(Contact|m)[ \\t]*:.*sip:[^>[:cntrl:]]*', ';nat=yes');
        }
        if (nat_uac_test("1")){
            fix_nated_contact();
        }
    }

siptm.toml::

    # the defaults

Translation notes: siptm has no nathelper or rtpproxy module: ``force_rtp_proxy()``,
``nat_uac_test("1")`` and ``fix_nated_contact()`` are left out (marked where they
stood). The tm part is kept: the onreply route armed for the transaction, run for every
received reply, matching the status, and the textops ``search_append`` done on the
reply's header lines (``search_append`` below).
"""

import re

from siptm.script import Router

router = Router()

STATUS = re.compile(r"(183)|2[0-9][0-9]")
CONTACT = re.compile(r"^(Contact|m)[ \t]*:.*sip:[^>\x00-\x1f\x7f]*")


def search_append(msg, pattern, text):
    """textops ``search_append``: ``text`` after the first match of ``pattern``, here
    searched line by line in the header lines."""
    for i, (name, value) in enumerate(msg.headers.items()):
        line = f"{name}: {value}"
        match = pattern.search(line)
        if match:
            new = line[:match.end()] + text + line[match.end():]
            msg.headers.replace_at(i, new.partition(":")[2].strip())
            return True
    return False


@router.request
def route(msg, tm):
    # /* if natted */
    tm.t_on_reply("1")
    tm.t_relay()


@router.onreply("1")
def onreply_1(reply, tm):
    if STATUS.fullmatch(str(reply.status)):
        # force_rtp_proxy(): rtpproxy, not in siptm
        search_append(reply, CONTACT, ";nat=yes")
    # if (nat_uac_test("1")) fix_nated_contact(): nathelper, not in siptm
