"""The helpline Django project: settings, ASGI app, URLs, base templates, privacy middleware."""
