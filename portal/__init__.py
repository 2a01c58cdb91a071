"""Fleet Card Portal.

`create_app` is imported lazily so that importing a pure service package (`portal.ledger`) does not
pull Flask in: the ledger must stay usable from any interface, and a test checks that it does.
"""


def create_app(config_name: str | None = None, **overrides):
    from portal.app import create_app as _create_app

    return _create_app(config_name, **overrides)
