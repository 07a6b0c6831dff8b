"""Importing WordPress eXtended RSS (WXR) exports: see docs/import.md."""

from comments.wxr.importer import ImportReport, import_wxr
from comments.wxr.parser import WXRError

__all__ = ["ImportReport", "WXRError", "import_wxr"]
