"""Importing Disqus XML exports: see docs/import.md, "Disqus"."""

from comments.disqus.importer import DisqusError, DisqusReport, import_disqus, read_url_map

__all__ = ["DisqusError", "DisqusReport", "import_disqus", "read_url_map"]
