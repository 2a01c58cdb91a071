"""The delivery connects to the address that was checked, not to whatever the host name resolves to
a moment later (DNS rebinding): plain HTTP and HTTPS, where TLS still sends and verifies the host
name. Real servers on 127.0.0.1; the host names do not resolve at all, so only pinning reaches them."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal.webhooks.delivery import PinnedAdapter, http_post
from tests.webhook_receiver import WebhookReceiver

HOST = "hooks.rebind.invalid"


def test_http_goes_to_the_checked_address_with_the_host_header_of_the_url():
    with WebhookReceiver() as receiver:
        port = receiver.server.server_address[1]
        reply = http_post(f"http://{HOST}:{port}/hooks", b"{}", {"content-type": "application/json"}, 2,
                          address="127.0.0.1")  # fmt: skip
        assert reply.status == 200 and receiver.wait_for(1)
        headers = {name.lower(): value for name, value in receiver.arrivals[0].headers.items()}
        assert headers["host"] == f"{HOST}:{port}"


def _certificate(name: str, tmp_path):
    """A CA, and a server certificate for `name` signed by it; (ca file, cert file, key file)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    files = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return [str(f) for f in files]


@pytest.fixture
def tls_server(tmp_path):
    ca_file, cert_file, key_file = _certificate(HOST, tmp_path)
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, name, ctx: seen.update(sni=name)  # None: go on
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], ca_file, seen
    server.shutdown()
    server.server_close()


def _post(url: str, ca_file: str):
    with requests.Session() as http:
        http.trust_env = False
        http.mount("https://", PinnedAdapter("127.0.0.1"))
        return http.post(url, data=b"{}", headers={"host": url.split("/")[2]}, timeout=5, verify=ca_file)


def test_https_sends_the_host_name_and_verifies_the_certificate_for_it(tls_server):
    port, ca_file, seen = tls_server
    assert _post(f"https://{HOST}:{port}/hooks", ca_file).status_code == 204
    assert seen == {"sni": HOST, "host": f"{HOST}:{port}"}


def test_https_refuses_a_certificate_for_another_name(tls_server):
    port, ca_file, _ = tls_server
    with pytest.raises(requests.exceptions.SSLError):
        _post(f"https://other.rebind.invalid:{port}/hooks", ca_file)
