"""Web plumbing shared by every area's views: locale, errors, security headers, form helpers."""
