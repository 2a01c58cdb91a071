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
