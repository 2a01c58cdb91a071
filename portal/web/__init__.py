"""Web plumbing shared by every area's views.

- shell.py: the page shell (menu, header identity, language switch at POST /language, filters)
- menu.py: each role's menu as data, endpoint names every area builds under
- access.py: who may see what, for views: `requires(permission)` on each view, `guard(bp)` once per
  blueprint, `owned_or_404` / `in_scope` for objects, `current_actor` / `customer_scope`. The rules
  themselves (roles -> permissions, whose an object is) live in portal/auth/permissions.py.
- filters.py: Jinja filters money, localtime, card_number
- errors.py, security.py, i18n.py, redirects.py: error pages, headers, locale, safe `next`
- fields.py: form fields for money and litres

Each area keeps its own web glue in its views.py / forms.py / web.py: auth.web has the re-auth
decorator, exports.web the download responses, notify.web the after-commit delivery.
"""
