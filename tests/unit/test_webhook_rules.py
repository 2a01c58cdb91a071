"""Webhook rules without a database: which addresses may receive webhooks (SSRF), the secrets'
format and encryption, the retry schedule, and the signature a receiver verifies."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from portal.webhooks import addresses, delivery, sealing
from portal.webhooks.addresses import UrlRefused, check_url


def resolver(*ips):
    def resolve(host, port, type=None):  # noqa: A002  (getaddrinfo's own name)
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]

    return resolve


PUBLIC = resolver("93.184.216.34")


def refused(url, *, insecure=False, resolve=PUBLIC) -> str:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, allow_insecure=insecure, resolve=resolve)
    return caught.value.code


def test_a_public_https_address_is_accepted():
    assert check_url(" https://hooks.example.com/fleet ", allow_insecure=False, resolve=resolver("93.184.216.34")) == (
        "https://hooks.example.com/fleet"
    )


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
     "fe80::1", "fc00::1", "::ffff:10.0.0.1", "224.0.0.1", "198.18.0.1"],
)  # fmt: skip
def test_private_loopback_link_local_and_reserved_addresses_are_refused(ip):
    assert refused("https://hooks.example.com/x", resolve=resolver(ip)) == "private"


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    assert refused("https://hooks.example.com/x", resolve=resolver("93.184.216.34", "10.0.0.1")) == "private"


def test_shapes_schemes_and_credentials():
    assert refused("http://hooks.example.com/x") == "scheme"
    assert refused("ftp://hooks.example.com/x") == "scheme"
    assert refused("https://user:pw@hooks.example.com/x") == "credentials"
    assert refused("https:///nohost") == "malformed"
    assert refused("https://hooks.example.com:99999/x") == "malformed"
    assert refused("https://hooks.example.com/" + "x" * 2001) == "malformed"
    assert refused("https://hooks.example.com/x#frag") == "malformed"


def test_a_name_that_does_not_resolve_is_refused():
    def nowhere(host, port, type=None):  # noqa: A002
        raise socket.gaierror("no such host")

    assert refused("https://nowhere.invalid/x", resolve=nowhere) == "unresolvable"


def test_insecure_mode_allows_http_to_loopback_only():
    assert check_url("http://127.0.0.1:8000/h", allow_insecure=True, resolve=resolver("127.0.0.1"))
    assert refused("http://10.0.0.1/h", insecure=True, resolve=resolver("10.0.0.1")) == "private"
    assert refused("http://127.0.0.1/h", insecure=False, resolve=resolver("127.0.0.1")) == "scheme"


def test_secrets_are_standard_webhooks_secrets_and_sealed():
    secret = sealing.new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40
    box = sealing.cipher({"SECRET_KEY": "a" * 40})
    sealed = sealing.seal(box, secret)
    assert secret not in sealed and sealing.unseal(box, sealed) == secret
    with pytest.raises(sealing.SecretKeyError):
        sealing.unseal(sealing.cipher({"SECRET_KEY": "b" * 40}), sealed)
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    assert sealing.unseal(sealing.cipher({"WEBHOOK_SECRET_KEY": key}), sealing.seal(Fernet(key), secret)) == secret


def test_the_retry_schedule_spans_about_a_day():
    waits = [delivery.retry_delay(n) for n in range(1, delivery.MAX_ATTEMPTS + 1)]
    assert waits[0] == timedelta(seconds=5) and waits[-1] is None
    total = sum(waits[:-1], timedelta())
    assert timedelta(hours=24) < total < timedelta(hours=30)


def test_the_signature_verifies_with_standardwebhooks():
    secret = sealing.new_secret()
    body = b'{"id":"evt_1","type":"webhook.test"}'
    headers = delivery.signed_headers(secret, "evt_1", body, datetime.now(UTC))
    assert headers["webhook-id"] == "evt_1" and headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"


def test_ipv4_mapped_loopback_counts_as_loopback():
    assert addresses.allowed_address("::ffff:127.0.0.1", allow_insecure=True)
    assert not addresses.allowed_address("::ffff:127.0.0.1", allow_insecure=False)


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("64:ff9b::a00:1", "NAT64 of 10.0.0.1"),
        ("64:ff9b::7f00:1", "NAT64 of 127.0.0.1"),
        ("2002:a00:1::1", "6to4 of 10.0.0.1"),
        ("2002:a9fe:a9fe::1", "6to4 of 169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo, client 10.0.0.1"),
        ("2001:0:a00:1:8000:63bf:a261:2bcb", "Teredo, server 10.0.0.1"),
        ("::10.0.0.1", "IPv4-compatible 10.0.0.1"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
        ("fec0::1", "site-local"),
        ("192.0.0.9", "IETF protocol assignments"),
        ("192.0.0.170", "IETF protocol assignments"),
        ("2001:db8::1", "documentation"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_addresses_that_reach_a_private_network_another_way_are_refused(ip, why):
    assert not addresses.allowed_address(ip, allow_insecure=False), why
    assert not addresses.allowed_address(ip, allow_insecure=True), why  # insecure allows loopback only, plainly


@pytest.mark.parametrize("ip", ["93.184.216.34", "2606:4700:4700::1111", "2002:5db8:d822::1", "::ffff:93.184.216.34"])
def test_public_addresses_including_6to4_of_a_public_one_are_accepted(ip):
    assert addresses.allowed_address(ip, allow_insecure=False)


def test_the_embedded_ipv4_address_is_found():
    import ipaddress

    def inner(text):
        return [str(ip) for ip in addresses.embedded_ipv4(ipaddress.IPv6Address(text))]

    assert inner("64:ff9b::a00:1") == ["10.0.0.1"]
    assert inner("2002:a00:1::") == ["10.0.0.1"]
    assert inner("::ffff:10.0.0.1") == ["10.0.0.1"]
    assert inner("::10.0.0.1") == ["10.0.0.1"]
    assert sorted(inner("2001:0:a00:1:8000:63bf:f5ff:fffe")) == ["10.0.0.1", "10.0.0.1"]
    assert inner("2606:4700::1") == []


def test_the_checked_address_is_returned_to_connect_to():
    assert addresses.check_host("hooks.example.com", 443, allow_insecure=False, resolve=PUBLIC) == "93.184.216.34"
