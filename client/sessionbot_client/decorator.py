"""`@approval_required`: a function that runs only once a person approved its arguments."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sessionbot_client.client import AsyncSessionbot, Sessionbot
from sessionbot_client.flows import Duration, Json, OnExpiry, Ref, Risk

F = TypeVar("F", bound=Callable[..., Any])


def approval_required(
    client: Sessionbot | AsyncSessionbot,
    session: Ref | Callable[[], Ref],
    *,
    action: str | None = None,
    summary: str | None = None,
    risk: Risk | None = None,
    need: int | None = None,
    approvers: list[str] | None = None,
    expires_in: Duration | None = None,
    on_expiry: OnExpiry | None = None,
    timeout: float | None = None,
) -> Callable[[F], F]:
    """Ask for approval of each call (action: the function's name; args: its arguments by
    name, defaults included) and run the function with the approved arguments — the approver's
    edit when there was one. On rejection or expiry the function does not run: `Rejected` or
    `Expired` is raised. A coroutine function needs an `AsyncSessionbot`, a plain one a
    `Sessionbot`. `session` is a ref, or a callable returning one at call time."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        name = action or fn.__name__
        asynchronous = inspect.iscoroutinefunction(fn)
        wanted = AsyncSessionbot if asynchronous else Sessionbot
        if not isinstance(client, wanted):
            kind = "a coroutine function" if asynchronous else "a plain function"
            raise TypeError(f"@approval_required on {kind} needs a {wanted.__name__} client")

        def ask(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Ref, Json, dict[str, Any]]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            ref = session() if callable(session) else session
            options = {
                "summary": summary,
                "risk": risk,
                "need": need,
                "approvers": approvers,
                "expires_in": expires_in,
                "on_expiry": on_expiry,
                "timeout": timeout,
            }
            return ref, dict(bound.arguments), options

        def call(approved: Json) -> Any:
            try:
                again = signature.bind(**approved)
            except TypeError as exc:
                raise TypeError(f"The approved arguments do not fit {name}(): {exc}") from None
            return fn(*again.args, **again.kwargs)

        if asynchronous:
            assert isinstance(client, AsyncSessionbot)
            aclient = client

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                ref, arguments, options = ask(args, kwargs)
                decided = await aclient.request_approval(ref, name, arguments, **options)
                return await call(decided.args)

            return cast(F, async_wrapper)
        assert isinstance(client, Sessionbot)
        sclient = client

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ref, arguments, options = ask(args, kwargs)
            return call(sclient.request_approval(ref, name, arguments, **options).args)

        return cast(F, wrapper)

    return decorate


__all__ = ["approval_required"]
