"""The languages the service speaks, listed once: settings.LANGUAGES (the URL prefixes and catalogues), the
chat protocol's `lang` (chat.schema.LANGS), routing's default and the self-help content loader read it.

Adding a language means a catalogue per app (`make messages`), content in selfhelp/content/, and this line.
Nothing here may import Django settings: settings import it.
"""

from __future__ import annotations

from typing import Final

from django.utils.translation import gettext_lazy as _

# (code, name): the code is what URLs, frames and content use; the name is shown in language choices.
LANGUAGES: Final = (("en", _("English")), ("nl", _("Dutch")))
LANGUAGE_CODES: Final = tuple(code for code, _name in LANGUAGES)
