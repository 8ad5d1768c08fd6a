import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Everything loaded so far (Django, the apps, the URL and API schemas) lives as long as the process: moved
# out of the collector's generations, a full collection no longer walks it during a request.
gc.freeze()
