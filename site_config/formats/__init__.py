"""Per-language date formats (``FORMAT_MODULE_PATH``) where the site departs from Django's.

Only English is overridden, to keep the site's long dates ("November 10, 2026", "November
10, 2026 at 3:04 p.m."); other languages use Django's own (German: "10. November 2026").
Templates name the format (``date:"DATE_FORMAT"``), never a pattern of one language.
"""
