"""The Jinja2 environment behind ``TEMPLATES``' second engine (the comment thread).

Django's Jinja2 backend with autoescaping on, Django's own translations (the i18n
extension's ``_()``, ``gettext`` and ``ngettext`` read the catalogue ``{% translate %}``
reads) and Django's ``date`` filter in the current time zone, as in Django templates.

``Environment.localized()`` gives the environment for the active language, in which
``_("a literal")`` is translated once, when a template is compiled, instead of on
every call: the comment template is rendered once per comment, and a call costs more
than the markup around it (docs/performance.md).

Compiled templates escape what they print with ``escape_output``: the same text as
markupsafe's ``escape``, without wrapping each value in a ``Markup`` that is only
joined into the page (a third of the thread's render time went there).
"""

import jinja2
import markupsafe
from django.conf import settings
from django.template import defaultfilters
from django.utils import timezone, translation
from jinja2.ext import Extension
from jinja2.lexer import Token

try:  # markupsafe's C escaping of a str, what markupsafe.escape calls before wrapping
    from markupsafe import _escape_inner
except ImportError:  # pragma: no cover - another markupsafe: its public escape

    def _escape_inner(text):
        return str(markupsafe.escape(text))


def escape_output(value):
    """``str(markupsafe.escape(value))``, for a value a template prints.

    Text is escaped; a value with ``__html__`` (``Markup``, ``|safe``, Django's
    ``SafeString``) is trusted as it says; anything else is escaped as ``str(value)``.
    markupsafe's ``escape`` decides the same way but returns a new ``Markup``, which
    a printed value does not need: the template's output is joined as text, and
    where it is kept as a value (a macro, ``{% set %}…{% endset %}``, a block)
    Jinja2 marks the joined text safe itself.
    """
    kind = type(value)
    if kind is str:
        return _escape_inner(value)
    if kind is int:  # ids, depths, counts: nothing to escape
        return str(value)
    if kind is markupsafe.Markup:  # already safe (what its __html__ returns)
        return value
    if hasattr(value, "__html__"):
        html = value.__html__()
        return html if isinstance(html, str) else str(html)
    return _escape_inner(str(value))


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


class Template(jinja2.Template):
    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        # The compiled module prints every {{ value }} through its global "escape"
        # (markupsafe's, imported by the generated code; with autoescaping on).
        namespace = template.root_render_func.__globals__
        if namespace.get("escape") is markupsafe.escape:
            namespace["escape"] = escape_output
        return template


class Environment(jinja2.Environment):
    language = None  # set on the per-language copies made by localized()
    template_class = Template

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
