"""Web plumbing shared by every area's views.

- shell.py: the page shell (menu, header identity, language switch at POST /language, filters)
- menu.py: each role's menu as data, endpoint names every area builds under
- access.py: role_required / restrict_blueprint / customer_scope / get_owned_or_404
- filters.py: Jinja filters money, localtime, card_number
- errors.py, security.py, i18n.py, redirects.py: error pages, headers, locale, safe `next`
- fields.py: form fields for money and litres
"""
