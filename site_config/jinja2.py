"""The Jinja2 environment behind ``TEMPLATES``' second engine (the comment thread).

Django's Jinja2 backend with autoescaping on, Django's own translations (the i18n
extension's ``_()``, ``gettext`` and ``ngettext`` read the catalogue ``{% translate %}``
reads) and Django's ``date`` filter in the current time zone, as in Django templates.

``Environment.localized()`` gives the environment for the active language, in which
``_("a literal")`` is translated once, when a template is compiled, instead of on
every call: the comment template is rendered once per comment, and a call costs more
than the markup around it (docs/performance.md).
"""

import jinja2
from django.conf import settings
from django.template import defaultfilters
from django.utils import timezone, translation
from jinja2.ext import Extension
from jinja2.lexer import Token


def date(value, arg=None):
    """``{{ value|date("DATETIME_FORMAT") }}``: Django's ``date`` filter, in the current
    time zone and language (Django templates convert to local time before it too)."""
    return defaultfilters.date(timezone.template_localtime(value), arg)


class TranslateLiterals(Extension):
    """In a localized environment, ``_("literal")`` becomes the literal's translation
    at compile time, so the template's output holds it as text (escaped like any
    value). Any other call of ``_`` (with variables, or concatenated) stays a call."""

    def filter_stream(self, stream):
        language = self.environment.language
        if language is None:
            yield from stream
            return
        pending = []  # the last tokens, which may be the start of _("…")
        for token in stream:
            pending.append(token)
            call = pending[-5:]
            if (
                len(call) == 5
                and [t.type for t in call[1:]] == ["name", "lparen", "string", "rparen"]
                and call[1].value == "_"
                and call[0].type != "dot"  # not an attribute called "_"
            ):
                with translation.override(language):
                    text = translation.gettext(call[3].value)
                pending[-4:] = [Token(call[1].lineno, "string", text)]
            while len(pending) > 4:
                yield pending.pop(0)
        yield from pending


class Environment(jinja2.Environment):
    language = None  # set on the per-language copies made by localized()

    def localized(self, language=None):
        """This environment for ``language`` (default: the active one), with its own
        compiled templates; the loader, filters and globals are shared."""
        language = language or translation.get_language() or settings.LANGUAGE_CODE
        copies = self.__dict__.setdefault("localized_copies", {})
        copy = copies.get(language)
        if copy is None:
            copy = copies[language] = self.overlay()
            copy.language = language
        return copy


def environment(**options):
    options["extensions"] = [
        *options.get("extensions", ()),
        "jinja2.ext.i18n",
        TranslateLiterals,
    ]
    env = Environment(**options)
    # Old-style gettext: a translation is text, escaped like any other value (as
    # ``{% translate %}`` does), never trusted as markup.
    env.install_gettext_translations(translation, newstyle=False)
    env.filters["date"] = date
    return env
