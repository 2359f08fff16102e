"""The REST API of §11 under `/api/v1`: routes, auth, errors and the OpenAPI document."""

from bot.api.app import api_app, mount_api
from bot.api.openapi import PREFIX
from bot.api.runtime import ApiConfig

__all__ = ["PREFIX", "ApiConfig", "api_app", "mount_api"]
