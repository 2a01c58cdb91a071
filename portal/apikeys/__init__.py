"""API keys of the customer REST API (/api/v1): what a fleet admin creates to let their own systems
call the portal. Models and rules here (no Flask); the key pages are portal.apikeys.views, the API
itself is portal.api."""
