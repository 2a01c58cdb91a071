"""An image captcha drawn locally with Pillow (a PNG served from our own route, so the strict CSP holds).

The answer stays on the server (`captcha_challenges`); the browser's session only holds a random token.
Each challenge is checked at most once. Tests read the expected answer with `expected_answer()`.
"""

from __future__ import annotations

import io
import secrets
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.auth.models import CaptchaChallenge

#: No look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B).
ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
LENGTH = 5
LIFETIME = timedelta(minutes=10)


def new_challenge(session: Session, now: datetime) -> CaptchaChallenge:
    session.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now))  # keep the table small
    challenge = CaptchaChallenge(
        token=secrets.token_urlsafe(24),
        answer="".join(secrets.choice(ALPHABET) for _ in range(LENGTH)),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(challenge)
    session.flush()
    return challenge


def find(session: Session, token: str | None, now: datetime) -> CaptchaChallenge | None:
    if not token:
        return None
    challenge = session.scalar(select(CaptchaChallenge).where(CaptchaChallenge.token == token))
    if challenge is None or now >= challenge.expires_at:
        return None
    return challenge


def check(session: Session, token: str | None, answer: str | None, now: datetime) -> bool:
    """True if `answer` solves the challenge. The challenge is spent either way (no second guess)."""
    challenge = find(session, token, now)
    if challenge is None:
        return False
    session.delete(challenge)
    session.flush()
    given = (answer or "").strip().upper().replace(" ", "")
    return secrets.compare_digest(given.encode(), challenge.answer.encode())


def expected_answer(session: Session, token: str) -> str:
    """Testing hook: the characters in the image for `token`."""
    return session.scalar(select(CaptchaChallenge.answer).where(CaptchaChallenge.token == token))


def render_png(answer: str) -> bytes:
    """Draw the answer with jitter, rotation, noise lines and dots."""
    rng = secrets.SystemRandom()
    width, height = 180, 60
    image = Image.new("RGB", (width, height), (246, 246, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        draw.line(
            [(rng.randint(0, width), rng.randint(0, height)), (rng.randint(0, width), rng.randint(0, height))],
            fill=(rng.randint(120, 200), rng.randint(120, 200), rng.randint(120, 200)),
            width=2,
        )
    font = ImageFont.load_default(size=36)
    for index, char in enumerate(answer):
        glyph = Image.new("RGBA", (48, 52), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((8, 2), char, font=font, fill=(rng.randint(0, 90), rng.randint(0, 90), 120, 255))
        glyph = glyph.rotate(rng.uniform(-28, 28), resample=Image.Resampling.BICUBIC)
        image.paste(glyph, (6 + index * 33 + rng.randint(-3, 3), rng.randint(0, 10)), glyph)
    for _ in range(150):
        draw.point((rng.randint(0, width - 1), rng.randint(0, height - 1)), fill=(90, 90, 90))
    image = image.filter(ImageFilter.SMOOTH)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
