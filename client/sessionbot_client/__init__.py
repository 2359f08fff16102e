"""sessionbot-client: put a person in an agent's loop through sessionbot's REST API.

```python
from sessionbot_client import Sessionbot, Rejected

bot = Sessionbot()  # SESSIONBOT_URL, SESSIONBOT_TOKEN
session = bot.start_session("Deploy v2")
approved = bot.request_approval(session["ref"], "deploy", {"version": "1.2"})
deploy(**approved.args)  # what the approver approved, maybe edited
```
"""

from sessionbot_client.client import AsyncSessionbot, Sessionbot
from sessionbot_client.decorator import approval_required
from sessionbot_client.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Conflict,
    Expired,
    Forbidden,
    IncompatibleServer,
    InvalidRequest,
    NotFound,
    RateLimited,
    Rejected,
    RequestSettled,
    ServerError,
    SessionbotError,
    StillPending,
    TooLarge,
    Unauthorized,
    Unreachable,
)
from sessionbot_client.flows import Answer, Approved
from sessionbot_client.wire import API_VERSIONS, Retry

__version__ = "0.1.0"

__all__ = [
    "API_VERSIONS",
    "Answer",
    "ApiError",
    "Approved",
    "AsyncSessionbot",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Expired",
    "Forbidden",
    "IncompatibleServer",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Rejected",
    "RequestSettled",
    "Retry",
    "ServerError",
    "Sessionbot",
    "SessionbotError",
    "StillPending",
    "TooLarge",
    "Unauthorized",
    "Unreachable",
    "approval_required",
]
