"""Sending mail (SMTP) and SMS (through a provider interface). Every message is first written to the
outbox table in the caller's transaction, then delivered after the commit; development backends print
it, so a developer (and the tests) can read codes from the console or the outbox."""
