"""Local stand-ins for the mail server and the SMS gateway, for the notify tests and bench/notify.py.

`MailServer`: aiosmtpd with a password check (AUTH PLAIN/LOGIN), plain, STARTTLS or SMTPS with a
certificate from a throwaway CA (trustme); it refuses mail from a session that has not logged in.

`TencentGateway`: an HTTP server answering Tencent Cloud SMS's SendSms (2021-01-11). It checks each
request's TC3-HMAC-SHA256 signature itself, recomputed from the request as Tencent documents it
(https://cloud.tencent.com/document/api/382/52072), not with the SDK's code, then the application id,
signature name, template and parameter count, and answers in Tencent's shapes: success, an error
(`Response.Error`), a per-number status, a 5xx, or no answer at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME, PASSWORD = "portal", "s3cret-mail"
SECRET_ID, SECRET_KEY = "AKIDlocal0000000000000000000000000000", "local-secret-key-0000000000000000"
APP_ID, SIGN_NAME = "1400000001", "中油车队"
#: Template id -> the number of parameters it takes (what the provider approved).
TEMPLATES = {"1000001": 2, "1000002": 2}
SMS_TEMPLATES = "registration_code=1000001,recovery_link=1000002"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestCA:
    """A throwaway CA and a certificate for 127.0.0.1 / localhost; `ca_file` is what the client trusts."""

    __test__ = False  # not a test class

    def __init__(self, folder: Path):
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(folder / "test-ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context


@dataclass
class Received:
    sender: str
    recipients: list[str]
    login: str
    message: object  # email.message.EmailMessage
    at: float = field(default_factory=time.monotonic)


class _Inbox:
    def __init__(self):
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        #: Replies instead of accepting: to RCPT TO, by address ("550 5.1.1 no such mailbox"), and to DATA.
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.data_reply:
            return self.data_reply
        message = message_from_bytes(envelope.content, policy=default_policy)
        with self.arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), session.auth_data, message))
            self.arrived.notify_all()
        return "250 OK"


def _check_password(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    if not ok:
        return AuthResult(success=False, handled=False)  # handled=False: aiosmtpd answers 535
    return AuthResult(success=True, auth_data=auth_data.login.decode())


class MailServer:
    """aiosmtpd on 127.0.0.1 with AUTH: mode "plain", "starttls" or "smtps" (the last two need `ca`)."""

    def __init__(self, mode: str = "plain", ca: TestCA | None = None):
        self.inbox = _Inbox()
        self.port = free_port()
        tls = ca.server_context() if ca else None
        options = {"authenticator": _check_password, "hostname": "127.0.0.1", "port": self.port}
        if mode == "plain":
            options["auth_require_tls"] = False  # loopback only: the production rule allows it too
        elif mode == "starttls":
            options.update(tls_context=tls, require_starttls=True)
        elif mode == "smtps":  # aiosmtpd only counts STARTTLS as TLS for AUTH: the whole session is TLS here
            options.update(ssl_context=tls, auth_require_tls=False)
        self.controller = Controller(self.inbox, **options)

    @property
    def received(self) -> list[Received]:
        return self.inbox.received

    def settings(self) -> dict:
        return {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port,
                "SMTP_USERNAME": USERNAME, "SMTP_PASSWORD": PASSWORD, "MAIL_SENDER": "车队卡 <portal@example.cn>"}  # fmt: skip

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        with self.inbox.arrived:
            return self.inbox.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def __enter__(self) -> MailServer:
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd logs every command it reads
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts connections and never says a word: a mail server or gateway that hangs."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()


# --- Tencent Cloud SMS -------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, *, method: str, path: str, query: str, headers: dict[str, str],
                  signed_headers: list[str], body: bytes, timestamp: int, service: str) -> str:  # fmt: skip
    """TC3-HMAC-SHA256 as Tencent documents it: canonical request, string to sign, derived key."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed_headers)
    canonical_request = "\n".join(
        [method, path, query, canonical_headers, ";".join(signed_headers), hashlib.sha256(body).hexdigest()]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class Sms:
    phone: str
    template_id: str
    params: list[str]
    at: float = field(default_factory=time.monotonic)


class TencentGateway:
    """A local SendSms endpoint. `script` holds the answers to give, in order ("ok" once it is empty):
    "ok", "rate_limit", "invalid_number", "error_5xx", "hang" (no answer until the gateway stops)."""

    def __init__(self):
        self.sent: list[Sms] = []
        self.rejected: list[str] = []  # why requests were refused (signature, application, template)
        self.script: deque[str] = deque()
        self.arrived = threading.Condition()
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def settings(self) -> dict:
        return {"SMS_BACKEND": "tencent", "SMS_SECRET_ID": SECRET_ID, "SMS_SECRET_KEY": SECRET_KEY,
                "SMS_APP_ID": APP_ID, "SMS_SIGN_NAME": SIGN_NAME, "SMS_TEMPLATES": SMS_TEMPLATES,
                "SMS_ENDPOINT": f"http://127.0.0.1:{self.port}"}  # fmt: skip

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.sent) >= count, timeout)

    def __enter__(self) -> TencentGateway:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    # What the gateway decides; the handler only speaks HTTP.
    def check_signature(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
        """Why the request's signature is refused, or None when it is valid."""
        auth = headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(part.strip().split("=", 1) for part in rest.split(","))
            secret_id, date, service, terminator = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            timestamp = int(headers["x-tc-timestamp"])
        except (ValueError, KeyError):
            return "AuthFailure.InvalidAuthorization"
        if algorithm != "TC3-HMAC-SHA256" or terminator != "tc3_request" or service != "sms":
            return "AuthFailure.InvalidAuthorization"
        if secret_id != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        if abs(time.time() - timestamp) > 300 or datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") != date:
            return "AuthFailure.SignatureExpire"
        if not {"content-type", "host"} <= set(signed) or any(name not in headers for name in signed):
            return "AuthFailure.InvalidAuthorization"
        path, _, query = path.partition("?")
        expected = tc3_signature(SECRET_KEY, method=method, path=path, query=query, headers=headers,
                                 signed_headers=signed, body=body, timestamp=timestamp, service="sms")  # fmt: skip
        return None if hmac.compare_digest(expected, parts["Signature"]) else "AuthFailure.SignatureFailure"

    def answer(self, headers: dict[str, str], request: dict) -> tuple[int, dict]:
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            return 200, _error("InvalidAction", "only SendSms 2021-01-11 here")
        if request.get("SmsSdkAppId") != APP_ID:
            return 200, _error("FailedOperation.SmsSdkAppIdVerifyFail", "unknown application")
        if request.get("SignName") != SIGN_NAME:
            return 200, _error("FailedOperation.SignatureIncorrectOrUnapproved", "signature not approved")
        params = request.get("TemplateParamSet") or []
        if TEMPLATES.get(request.get("TemplateId")) != len(params):
            return 200, _error("FailedOperation.TemplateIncorrectOrUnapproved", "template or parameters wrong")
        step = self.script.popleft() if self.script else "ok"
        if step == "error_5xx":
            return 502, {}
        if step == "hang":
            self.stopping.wait()
            return 502, {}
        if step == "rate_limit":
            return 200, _error("LimitExceeded.PhoneNumberThirtySecondLimit", "too many in 30 seconds")
        phone = (request.get("PhoneNumberSet") or [""])[0]
        if step == "invalid_number" or not (phone.startswith("+86") and len(phone) == 14):
            return 200, _statuses(phone, "InvalidParameterValue.IncorrectPhoneNumber", "invalid number")
        with self.arrived:
            self.sent.append(Sms(phone, request["TemplateId"], [str(p) for p in params]))
            self.arrived.notify_all()
        return 200, _statuses(phone, "Ok", "send success")


def _error(code: str, message: str) -> dict:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}


def _statuses(phone: str, code: str, message: str) -> dict:
    status = {"SerialNo": uuid.uuid4().hex, "PhoneNumber": phone, "Fee": 1, "SessionContext": "",
              "Code": code, "Message": message, "IsoCode": "CN"}  # fmt: skip
    return {"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}}


def _handler(gateway: TencentGateway):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            refused = gateway.check_signature("POST", self.path, headers, body)
            if refused:
                gateway.rejected.append(refused)
                return self.reply(200, _error(refused, "signature check failed"))
            try:
                request = json.loads(body)
            except ValueError:
                return self.reply(200, _error("InvalidParameter", "body is not JSON"))
            status, answer = gateway.answer(headers, request)
            if status == 200 and "Error" in answer["Response"]:
                gateway.rejected.append(answer["Response"]["Error"]["Code"])
            self.reply(status, answer)

        def reply(self, status: int, answer: dict) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet
            pass

    return Handler
