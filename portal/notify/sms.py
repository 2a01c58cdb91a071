"""SMS through Tencent Cloud SMS (SendSms, API 2021-01-11), with Tencent's own SDK: it signs each
request (TC3-HMAC-SHA256) and lets the endpoint be set, so the tests send to a local server that
checks the signature. Plain Python, no Flask.

Chinese gateways send only templates approved in advance, with parameters: the outbox keeps a template
key and its parameters beside the readable body, and SMS_TEMPLATES maps each key to the provider's
template id ("registration_code=1234567,recovery_link=7654321").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from portal.notify.backends import Outgoing, PermanentFailure

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
DEFAULT_REGION = "ap-guangzhou"
DEFAULT_TIMEOUT = 10
#: Tencent's error codes that no retry can mend: the number is wrong, blocked, or not served.
PERMANENT_ERRORS = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.PhoneNumberParseFail",
    "UnsupportedOperation.",
    "InvalidParameterValue.",
)


@dataclass(frozen=True)
class TencentSettings:
    secret_id: str
    secret_key: str
    app_id: str  # SmsSdkAppId
    sign_name: str
    templates: Mapping[str, str]  # our template key -> Tencent's TemplateId
    region: str = DEFAULT_REGION
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:  # never the secret key, in a log or a traceback
        return f"TencentSettings(app_id={self.app_id!r}, endpoint={self.endpoint!r}, region={self.region!r})"


def e164(number: str) -> str:
    """A mainland mobile number as Tencent wants it (+8613800138000); a number with + is left as given."""
    digits = "".join(char for char in number if char.isdigit())
    if number.strip().startswith("+"):
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits
    if digits.startswith("0086"):
        return "+" + digits[2:]
    return "+" + digits


def _permanent(code: str) -> bool:
    return any(code == known or (known.endswith(".") and code.startswith(known)) for known in PERMANENT_ERRORS)


class TencentSms:
    """The SMS backend for Tencent Cloud SMS."""

    def __init__(self, settings: TencentSettings):
        self.settings = settings
        endpoint = urlsplit(settings.endpoint)
        http = HttpProfile(protocol=endpoint.scheme or "https", endpoint=endpoint.netloc, reqTimeout=settings.timeout)
        profile = ClientProfile(httpProfile=http)
        self.client = sms_client.SmsClient(
            credential.Credential(settings.secret_id, settings.secret_key), settings.region, profile
        )

    def request(self, message: Outgoing) -> models.SendSmsRequest:
        template_id = self.settings.templates.get(message.template)
        if not template_id:
            raise PermanentFailure(f"no SMS template id for {message.template or 'this message'!r} in SMS_TEMPLATES")
        request = models.SendSmsRequest()
        request.from_json_string(
            json.dumps(
                {
                    "PhoneNumberSet": [e164(message.recipient)],
                    "SmsSdkAppId": self.settings.app_id,
                    "SignName": self.settings.sign_name,
                    "TemplateId": template_id,
                    "TemplateParamSet": [str(value) for value in message.params.values()],
                }
            )
        )
        return request

    def send(self, message: Outgoing) -> None:
        """Send, or raise PermanentFailure (a bad number) or RuntimeError (worth retrying: limits, outages)."""
        request = self.request(message)
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            self._fail(error.get_code() or "", error.get_message() or "")
        statuses = response.SendStatusSet or []
        if not statuses:
            raise RuntimeError("the SMS gateway answered without a send status")
        status = statuses[0]
        if status.Code != "Ok":
            self._fail(status.Code or "", status.Message or "")

    @staticmethod
    def _fail(code: str, text: str):
        detail = f"{code}: {text}"[:300]
        if _permanent(code):
            raise PermanentFailure(detail)
        raise RuntimeError(detail)
