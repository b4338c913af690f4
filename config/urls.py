from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.auth import LoginForm
from curation.urls import quality_patterns
from labeling.urls import guideline_patterns
from trainer_bridge.urls import job_patterns

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves the docs' start-up script as a file of its own (?script): no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("accounts.api_urls")),
    path("api/", include("labeling.api_urls")),
    path("api/", include("trainer_bridge.api_urls")),
    path("", include("trainer_bridge.urls")),
    path("", include(job_patterns)),
    path("", include("curation.urls")),
    path("", include(quality_patterns)),
    path("", include("labeling.urls")),
    path("", include(guideline_patterns)),
    path("", include("accounts.urls")),
]
