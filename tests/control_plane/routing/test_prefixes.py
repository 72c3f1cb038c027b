"""Longest-prefix match against the standard library's answer."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.routing.prefixes import PrefixTable, parse_address


def test_longest_prefix_wins_in_both_families() -> None:
    table = PrefixTable(
        [
            ("10.0.0.0/8", "wide"),
            ("10.1.0.0/16", "narrow"),
            ("10.1.0.0/16", "twin"),
            ("2001:db8::/32", "v6"),
            ("0.0.0.0/0", "default"),
        ]
    )
    assert table.longest("10.1.2.3") == ("narrow", "twin")
    assert table.longest("10.9.9.9") == ("wide",)
    assert table.longest("192.0.2.1") == ("default",)
    assert table.longest("2001:db8::1") == ("v6",)
    assert table.longest("2001:db9::1") == ()
    assert table.longest("::ffff:10.1.0.1") == ("narrow", "twin")  # IPv4-mapped
    assert table.longest("not an address") == ()
    assert [length for length, _ in table.matches("10.1.0.1")] == [16, 8, 0]


def test_malformed_cidr_is_refused() -> None:
    table: PrefixTable[str] = PrefixTable()
    for bad in ("10.0.0.0/33", "300.1.1.1/8", "", "2001:db8::/129", "10.0.0.0/8/8"):
        try:
            table.add(bad, "x")
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_parse_address() -> None:
    assert parse_address("127.1.0.5") == (4, int(ipaddress.ip_address("127.1.0.5")))
    assert parse_address("::1") == (6, 1)
    assert parse_address("127.1.0.5%eth0") is None


networks = st.one_of(
    st.builds(
        lambda a, n: ipaddress.ip_network((a, n), strict=False),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    ),
    st.builds(
        lambda a, n: ipaddress.ip_network((a, n), strict=False),
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
    ),
)
addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(networks, max_size=30), st.lists(addresses, max_size=10))
def test_agrees_with_a_linear_scan(
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
    probes: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> None:
    table = PrefixTable((str(n), i) for i, n in enumerate(nets))
    # Probe inside some of the networks too, not only at random.
    probes = [*probes, *(n.network_address for n in nets[:5])]
    for address in probes:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            continue  # answered as IPv4 on purpose
        inside = [
            (n.prefixlen, i)
            for i, n in enumerate(nets)
            if n.version == address.version and address in n
        ]
        best = max((length for length, _ in inside), default=None)
        expected = tuple(sorted(i for length, i in inside if length == best))
        assert tuple(sorted(table.longest(str(address)))) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_an_answer_or_nothing(text: str) -> None:
    table = PrefixTable([("0.0.0.0/0", "v4"), ("::/0", "v6")])
    assert table.longest(text) in ((), ("v4",), ("v6",))
