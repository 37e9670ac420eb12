"""The site's URL map: one include per app part; each included urls.py lists its URLs one line each."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    # Browsers ask for /favicon.ico on every page whatever the <link rel="icon"> says.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, which the CSP refuses.
    # Swagger UI (React) sets inline styles, allowed on this page only; scripts stay 'self'.
    path("api/docs/", csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
         name="api-docs"),
    path("api/v1/", include("annotation.api.urls")),
    path("api/v1/", include("rewardtrain.api.urls")),
    path("train/", include("rewardtrain.web.urls")),
    path("", include("annotation.web.urls")),
]

