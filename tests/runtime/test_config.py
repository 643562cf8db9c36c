"""siptm.config: defaults of both seeds, OpenSIPS aliases and units, rejection of bad keys."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from siptm.config import (
    OPENSIPS_NAMES,
    TIMER_FIELDS,
    Config,
    ConfigError,
    TmSettings,
)
from siptm.net import Address

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "siptm.toml"
    path.write_text(text)
    return Config.from_toml(path)


def test_default_listens_on_udp_and_tcp_loopback():
    cfg = Config.default()
    assert cfg.listen == (Address("udp", "127.0.0.1", 5060), Address("tcp", "127.0.0.1", 5060))
    assert cfg.log.level == "info" and cfg.log.format == "text"


def test_kamailio_defaults_in_milliseconds():
    tm = Config.default().tm
    assert (tm.fr_timer, tm.fr_inv_timer) == (30000, 120000)
    assert (tm.wt_timer, tm.delete_timer) == (5000, 200)
    assert (tm.retr_timer1, tm.retr_timer2) == (500, 4000)
    assert (tm.max_inv_lifetime, tm.max_noninv_lifetime) == (180000, 32000)
    assert tm.noisy_ctimer and tm.restart_fr_on_each_reply and tm.auto_inv_100
    assert tm.auto_inv_100_reason == "trying -- your call is important to us"
    assert tm.cancel_b_method == 1 and tm.unmatched_cancel == 0
    assert tm.reparse_invite and tm.ac_extra_hdrs == ""
    assert tm.blst_methods_lookup == 4294967287 and tm.blst_503_max_timeout == 3600


def test_opensips_only_defaults_and_rfc_switches():
    tm = TmSettings()
    assert tm.ruri_matching and tm.via1_matching and tm.syn_branch and tm.enable_stats
    assert not tm.disable_6xx_block and not tm.pass_provisional_replies
    assert tm.onreply_avp_mode == 0 and tm.timer_partitions == 1 and tm.minor_branch_flag is None
    assert tm.rfc6026_strict_stray_replies is False and tm.rfc4320_no_408 is False


def test_full_file(tmp_path):
    cfg = load(tmp_path, """
listen = ["udp:127.0.0.1:5070", "tcp:[::1]:5070"]
[log]
level = "DEBUG"
format = "json"
[transport]
tcp_connection_lifetime = 30
[tm]
fr_timer = 2000
noisy_ctimer = 0
restart_fr_on_each_reply = false
cancel_b_method = 2
minor_branch_flag = "MINOR"
rfc4320_no_408 = true
""")
    assert cfg.listen == (Address("udp", "127.0.0.1", 5070), Address("tcp", "::1", 5070))
    assert cfg.log.level == "debug" and cfg.log.format == "json"
    assert cfg.transport.tcp_connection_lifetime == 30
    assert cfg.tm.fr_timer == 2000 and cfg.tm.noisy_ctimer is False
    assert cfg.tm.restart_fr_on_each_reply is False and cfg.tm.cancel_b_method == 2
    assert cfg.tm.minor_branch_flag == "MINOR" and cfg.tm.rfc4320_no_408 is True
    assert cfg.path == tmp_path / "siptm.toml"


def test_opensips_aliases_convert_units(tmp_path):
    cfg = load(tmp_path, """
[tm]
fr_timeout = 10
fr_inv_timeout = 200
T1_timer = 700
t2_timer = 8000
auto_100trying = 0
disable_6xx_block = 1
timer_partitions = 2
""")
    tm = cfg.tm
    assert tm.fr_timer == 10000 and tm.fr_inv_timer == 200000
    assert tm.retr_timer1 == 700 and tm.retr_timer2 == 8000
    assert tm.auto_inv_100 is False and tm.disable_6xx_block is True and tm.timer_partitions == 2


def test_shared_names_keep_kamailio_units_in_tm_and_seconds_in_tm_opensips(tmp_path):
    assert load(tmp_path, "[tm]\nwt_timer = 10\n").tm.wt_timer == 10
    cfg = load(tmp_path, """
[tm.opensips]
wt_timer = 10
delete_timer = 2
unix_tx_timeout = 2
fr_timeout = 3
T1_timer = 250
enable_stats = 0
""")
    tm = cfg.tm
    assert (tm.wt_timer, tm.delete_timer, tm.unix_tx_timeout) == (10000, 2000, 2000)
    assert tm.fr_timer == 3000
    assert tm.retr_timer1 == 250 and tm.enable_stats is False


def test_alias_and_kamailio_name_together_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, "[tm]\nfr_timer = 1000\nfr_timeout = 1\n")
    assert err.value.key == "tm.fr_timeout"
    with pytest.raises(ConfigError, match=r"tm\.opensips\.wt_timer"):
        load(tmp_path, "[tm]\nwt_timer = 1000\n[tm.opensips]\nwt_timer = 1\n")


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("[tm]\nfr_timr = 1\n", "tm.fr_timr", "did you mean 'fr_timer'"),
        ("[tm]\nfr_timer = \"30\"\n", "tm.fr_timer", "integer (milliseconds)"),
        ("[tm]\nfr_timer = 1.5\n", "tm.fr_timer", "got a float"),
        ("[tm]\nfr_timer = true\n", "tm.fr_timer", "got a boolean"),
        ("[tm]\nfr_timer = 0\n", "tm.fr_timer", "at least 1"),
        ("[tm]\nnoisy_ctimer = 2\n", "tm.noisy_ctimer", "true/false"),
        ("[tm]\nnoisy_ctimer = \"yes\"\n", "tm.noisy_ctimer", "true/false"),
        ("[tm]\ncancel_b_method = 3\n", "tm.cancel_b_method", "one of 0, 1, 2"),
        ("[tm]\nunmatched_cancel = \"2\"\n", "tm.unmatched_cancel", "integer"),
        ("[tm]\nfr_timeout = \"3\"\n", "tm.fr_timeout", "integer (seconds)"),
        ("[tm]\nretr_timer1 = 5000\n", "tm.retr_timer1", "must not exceed retr_timer2"),
        ("[tm]\nblst_methods_add = -1\n", "tm.blst_methods_add", "at least 0"),
        ("[tm.opensips]\nfr_timer = 3\n", "tm.opensips.fr_timer", "unknown key"),
        ("[tm]\nopensips = 1\n", "tm.opensips", "expected a table"),
        ("[log]\nlevel = \"loud\"\n", "log.level", "one of"),
        ("[tls]\ncertificate = 3\n", "tls.certificate", "string"),
        ("[bogus]\nx = 1\n", "bogus", "unknown key"),
        ("tm = 3\n", "tm", "expected a table"),
        ("listen = \"udp:127.0.0.1:5060\"\n", "listen", "array"),
        ("listen = []\n", "listen", "at least one"),
        ("listen = [5060]\n", "listen[0]", "string"),
        ("listen = [\"127.0.0.1:5060\"]\n", "listen[0]", "udp:, tcp: or tls:"),
        ("listen = [\"sctp:127.0.0.1:5060\"]\n", "listen[0]", "udp:, tcp: or tls:"),
        ("listen = [\"udp:127.0.0.1:70000\"]\n", "listen[0]", "bad port"),
        ("listen = [\"udp:127.0.0.1:5060\", \"udp:127.0.0.1:5060\"]\n", "listen[1]", "twice"),
        ("listen = [\"tls:127.0.0.1:5061\"]\n", "tls.certificate", "required"),
        ("[transport]\ntcp_connect_timeout = 0\n", "transport.tcp_connect_timeout", "at least"),
    ],
)
def test_rejected_with_the_key_named(tmp_path, text, key, fragment):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert err.value.key == key
    assert fragment in str(err.value)
    assert str(err.value).startswith(key)


def test_tls_paths_resolve_relative_to_the_file_and_must_exist(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    cfg = load(tmp_path, 'listen = ["tls:127.0.0.1:5061"]\n[tls]\ncertificate = "c.pem"\n'
                         'private_key = "k.pem"\n')
    assert cfg.tls.certificate == str(tmp_path / "c.pem")
    with pytest.raises(ConfigError, match=r"^tls\.private_key: no such file"):
        load(tmp_path, 'listen = ["tls:127.0.0.1:5061"]\n[tls]\ncertificate = "c.pem"\n'
                       'private_key = "missing.pem"\n')


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load(tmp_path, "[tm\n")


def test_timer_fields_exist_with_kamailio_names():
    tm = TmSettings()
    values = tm.timer_values()
    assert tuple(values) == TIMER_FIELDS
    assert values["fr_timer"] == 30000 and values["noisy_ctimer"] == 1
    assert all(type(v) is int for v in values.values())


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config.default().tm.fr_timer = 1  # type: ignore[misc]


def test_every_opensips_name_maps_to_a_field():
    names = {f.name for f in dataclasses.fields(TmSettings)}
    for target, _ in OPENSIPS_NAMES.values():
        assert target in names


def test_every_key_is_documented():
    text = DOCS.read_text()
    documented = set(re.findall(r"^\| `([A-Za-z0-9_]+)`", text, re.M))
    from siptm.config import LogSettings, TlsSettings, TransportSettings

    for klass in (TmSettings, TlsSettings, LogSettings, TransportSettings):
        for f in dataclasses.fields(klass):
            assert f.name in documented, f"{klass.__name__}.{f.name} missing from {DOCS.name}"
    for name in OPENSIPS_NAMES:
        assert name in documented, f"OpenSIPS name {name} missing from {DOCS.name}"
