from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import health, wellknown
from config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("health", health.live_view, name="health"),
    path("health/ready", health.ready_view, name="health-ready"),
    path(".well-known/jwks.json", wellknown.jwks_view, name="jwks"),
    path(
        ".well-known/openid-configuration", wellknown.openid_configuration_view, name="openid-configuration"
    ),
    path("console/", include("console.urls")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.BENCH_ENDPOINTS:
    # The benchmark's bare ceiling (bench/endpoints.py); never mounted in a normal deployment.
    from bench.endpoints import api as bench_api

    urlpatterns.insert(0, path("api/v1/bench/", bench_api.urls))
