from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

# DRF's tokens no longer authenticate anyone (accounts.authentication does, against ApiToken): its admin page
# would only make keys that do nothing. Tokens are managed on the API tokens page and at /api/auth/tokens/.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
