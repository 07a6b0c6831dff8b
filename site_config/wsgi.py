import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")

application = get_wsgi_application()

# The live-updates version endpoint answers before the middleware (comments.live).
from comments.live import VersionFastPath  # noqa: E402

application = VersionFastPath(application)
