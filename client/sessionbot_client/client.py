"""`Sessionbot` and `AsyncSessionbot`: the same operations (defined once in `flows`), blocking or
awaitable. Configure with arguments or `SESSIONBOT_URL` / `SESSIONBOT_TOKEN`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from sessionbot_client import flows as f
from sessionbot_client.flows import Answer, Approved, Duration, Json, OnExpiry, Ref, Risk
from sessionbot_client.transport import options, run, run_async
from sessionbot_client.wire import Flow, Retry, Settings

T = TypeVar("T")


def _settings(
    url: str | None, token: str | None, timeout: float, poll: int, retry: Retry | None
) -> Settings:
    return Settings.resolve(url, token, timeout=timeout, poll=poll, retry=retry or Retry())


class Sessionbot:
    """A blocking client: `Sessionbot()` reads `SESSIONBOT_URL` / `SESSIONBOT_TOKEN`.

    `timeout` bounds each call (plus its long-poll), `poll` is how long one long-poll may be
    held (≤ 60 s), `retry` the backoff through dropped connections and restarts."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        poll: int = 30,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = _settings(url, token, timeout, poll, retry)
        self._http = httpx.Client(transport=transport, **options(self.settings))

    def _run(self, flow: Flow[T]) -> T:
        return run(flow, self._http, self.settings)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- sessions --------------------------------------------------------------------------

    def start_session(
        self,
        title: str,
        *,
        mode: str | None = None,
        plan: list[str] | None = None,
        metadata: Json | None = None,
        channel_id: str | None = None,
        max_iterations: int | None = None,
    ) -> Json:
        """Start a session (in a chat workspace, `channel_id` says where it is posted)."""
        return self._run(
            f.start_session(
                self.settings,
                title,
                mode=mode,
                plan=plan,
                metadata=metadata,
                channel_id=channel_id,
                max_iterations=max_iterations,
            )
        )

    def get_session(self, session: Ref) -> Json:
        """`{"session", "members", "plan"}`."""
        return self._run(f.get(self.settings, "sessions", session))

    def heartbeat(self, session: Ref) -> Json:
        return self._run(f.session_action(self.settings, session, "heartbeat"))

    def pause(self, session: Ref, reason: str | None = None) -> Json:
        return self._run(f.session_action(self.settings, session, "pause", reason=reason))

    def resume(self, session: Ref) -> Json:
        return self._run(f.session_action(self.settings, session, "resume"))

    def complete(self, session: Ref, summary: str | None = None) -> Json:
        return self._run(f.session_action(self.settings, session, "complete", summary=summary))

    def fail(self, session: Ref, reason: str) -> Json:
        return self._run(f.session_action(self.settings, session, "fail", reason=reason))

    def share(self, session: Ref, user_id: str, role: str = "editor") -> Json:
        return self._run(f.share(self.settings, session, user_id, role))

    def post_message(self, session: Ref, content: str, role: str | None = None) -> Json:
        return self._run(f.post_message(self.settings, session, content, role))

    def messages(
        self, session: Ref, *, limit: int | None = None, before: int | None = None
    ) -> Json:
        return self._run(
            f.get(self.settings, "sessions", session, "messages", limit=limit, before=before)
        )

    def context(self, session: Ref) -> Json:
        return self._run(f.get(self.settings, "sessions", session, "context"))

    def update_context(self, session: Ref, merge: Json, *, ttl_seconds: int | None = None) -> Json:
        """Deep-merge `merge` into the context (`None` deletes a key)."""
        return self._run(f.update_context(self.settings, session, merge, ttl_seconds))

    def record_iteration(
        self, session: Ref, *, count: int | None = None, data: Json | None = None
    ) -> Json:
        return self._run(
            f.session_action(self.settings, session, "iterations", count=count, data=data)
        )

    def record_tool_call(self, session: Ref, tool: str, **fields: Any) -> Json:
        """`input`, `output`, `status`, `duration_ms` as keywords."""
        return self._run(f.record_tool_call(self.settings, session, tool, **fields))

    def events(self, session: Ref, *, limit: int | None = None, before: int | None = None) -> Json:
        return self._run(
            f.get(self.settings, "sessions", session, "events", limit=limit, before=before)
        )

    def submit_plan(
        self,
        session: Ref,
        items: list[str],
        *,
        need: int | None = None,
        expires_in: Duration | None = None,
    ) -> Json:
        return self._run(f.submit_plan(self.settings, session, items, need, expires_in))

    def plan(self, session: Ref) -> Json:
        return self._run(f.get(self.settings, "sessions", session, "plan"))

    # -- requests --------------------------------------------------------------------------

    def request_approval(
        self,
        session: Ref,
        action: str,
        args: Json,
        *,
        summary: str | None = None,
        risk: Risk | None = None,
        need: int | None = None,
        approvers: list[str] | None = None,
        expires_in: Duration | None = None,
        on_expiry: OnExpiry | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> Approved:
        """Ask to run `action(args)` and block until it is decided: `Approved` (run with its
        `args`, maybe edited), or `Rejected` / `Expired` raised; `StillPending` past `timeout`."""
        return self._run(
            f.request_approval(
                self.settings,
                session,
                action,
                args,
                summary=summary,
                risk=risk,
                need=need,
                approvers=approvers,
                expires_in=expires_in,
                on_expiry=on_expiry,
                timeout=timeout,
                idempotency_key=idempotency_key,
            )
        )

    def ask(
        self,
        session: Ref,
        question: str,
        *,
        choices: list[str] | None = None,
        free_text: bool | None = None,
        expires_in: Duration | None = None,
        on_expiry: OnExpiry | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        """Ask a person and block until the first answer (`Answer`), or `Expired` raised."""
        return self._run(
            f.ask(
                self.settings,
                session,
                question,
                choices=choices,
                free_text=free_text,
                expires_in=expires_in,
                on_expiry=on_expiry,
                timeout=timeout,
                idempotency_key=idempotency_key,
            )
        )

    def wait_for(self, request_id: str, *, timeout: float | None = None) -> Json:
        """A request once it is settled (any outcome), long-polling through reconnects."""
        return self._run(f.wait(self.settings, request_id, timeout))

    def get_request(self, request_id: str) -> Json:
        return self._run(f.get(self.settings, "requests", request_id))

    def requests(self, session: Ref, *, status: str | None = None) -> list[Json]:
        found = self._run(f.get(self.settings, "sessions", session, "requests", status=status))
        return list(found["requests"])

    def approve(self, request_id: str, *, args: Json | None = None, **fields: Any) -> Json:
        """As an approver: approve, with edited `args` if given (`reason`, `confirm`,
        `digest` as keywords)."""
        return self._run(f.decide(self.settings, request_id, "approve", args=args, **fields))

    def reject(self, request_id: str, reason: str | None = None, **fields: Any) -> Json:
        return self._run(f.decide(self.settings, request_id, "reject", reason=reason, **fields))

    def answer(
        self, request_id: str, *, choice: int | None = None, text: str | None = None
    ) -> Json:
        return self._run(f.decide(self.settings, request_id, "answer", choice=choice, text=text))


class AsyncSessionbot:
    """`Sessionbot`'s twin for asyncio: the same operations, awaited."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        poll: int = 30,
        retry: Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = _settings(url, token, timeout, poll, retry)
        self._http = httpx.AsyncClient(transport=transport, **options(self.settings))

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._http, self.settings)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- sessions --------------------------------------------------------------------------

    async def start_session(
        self,
        title: str,
        *,
        mode: str | None = None,
        plan: list[str] | None = None,
        metadata: Json | None = None,
        channel_id: str | None = None,
        max_iterations: int | None = None,
    ) -> Json:
        return await self._run(
            f.start_session(
                self.settings,
                title,
                mode=mode,
                plan=plan,
                metadata=metadata,
                channel_id=channel_id,
                max_iterations=max_iterations,
            )
        )

    async def get_session(self, session: Ref) -> Json:
        return await self._run(f.get(self.settings, "sessions", session))

    async def heartbeat(self, session: Ref) -> Json:
        return await self._run(f.session_action(self.settings, session, "heartbeat"))

    async def pause(self, session: Ref, reason: str | None = None) -> Json:
        return await self._run(f.session_action(self.settings, session, "pause", reason=reason))

    async def resume(self, session: Ref) -> Json:
        return await self._run(f.session_action(self.settings, session, "resume"))

    async def complete(self, session: Ref, summary: str | None = None) -> Json:
        return await self._run(
            f.session_action(self.settings, session, "complete", summary=summary)
        )

    async def fail(self, session: Ref, reason: str) -> Json:
        return await self._run(f.session_action(self.settings, session, "fail", reason=reason))

    async def share(self, session: Ref, user_id: str, role: str = "editor") -> Json:
        return await self._run(f.share(self.settings, session, user_id, role))

    async def post_message(self, session: Ref, content: str, role: str | None = None) -> Json:
        return await self._run(f.post_message(self.settings, session, content, role))

    async def messages(
        self, session: Ref, *, limit: int | None = None, before: int | None = None
    ) -> Json:
        return await self._run(
            f.get(self.settings, "sessions", session, "messages", limit=limit, before=before)
        )

    async def context(self, session: Ref) -> Json:
        return await self._run(f.get(self.settings, "sessions", session, "context"))

    async def update_context(
        self, session: Ref, merge: Json, *, ttl_seconds: int | None = None
    ) -> Json:
        return await self._run(f.update_context(self.settings, session, merge, ttl_seconds))

    async def record_iteration(
        self, session: Ref, *, count: int | None = None, data: Json | None = None
    ) -> Json:
        return await self._run(
            f.session_action(self.settings, session, "iterations", count=count, data=data)
        )

    async def record_tool_call(self, session: Ref, tool: str, **fields: Any) -> Json:
        return await self._run(f.record_tool_call(self.settings, session, tool, **fields))

    async def events(
        self, session: Ref, *, limit: int | None = None, before: int | None = None
    ) -> Json:
        return await self._run(
            f.get(self.settings, "sessions", session, "events", limit=limit, before=before)
        )

    async def submit_plan(
        self,
        session: Ref,
        items: list[str],
        *,
        need: int | None = None,
        expires_in: Duration | None = None,
    ) -> Json:
        return await self._run(f.submit_plan(self.settings, session, items, need, expires_in))

    async def plan(self, session: Ref) -> Json:
        return await self._run(f.get(self.settings, "sessions", session, "plan"))

    # -- requests --------------------------------------------------------------------------

    async def request_approval(
        self,
        session: Ref,
        action: str,
        args: Json,
        *,
        summary: str | None = None,
        risk: Risk | None = None,
        need: int | None = None,
        approvers: list[str] | None = None,
        expires_in: Duration | None = None,
        on_expiry: OnExpiry | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the request stays pending: StillPending)
        idempotency_key: str | None = None,
    ) -> Approved:
        return await self._run(
            f.request_approval(
                self.settings,
                session,
                action,
                args,
                summary=summary,
                risk=risk,
                need=need,
                approvers=approvers,
                expires_in=expires_in,
                on_expiry=on_expiry,
                timeout=timeout,
                idempotency_key=idempotency_key,
            )
        )

    async def ask(
        self,
        session: Ref,
        question: str,
        *,
        choices: list[str] | None = None,
        free_text: bool | None = None,
        expires_in: Duration | None = None,
        on_expiry: OnExpiry | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        idempotency_key: str | None = None,
    ) -> Answer:
        return await self._run(
            f.ask(
                self.settings,
                session,
                question,
                choices=choices,
                free_text=free_text,
                expires_in=expires_in,
                on_expiry=on_expiry,
                timeout=timeout,
                idempotency_key=idempotency_key,
            )
        )

    async def wait_for(
        self,
        request_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Json:
        return await self._run(f.wait(self.settings, request_id, timeout))

    async def get_request(self, request_id: str) -> Json:
        return await self._run(f.get(self.settings, "requests", request_id))

    async def requests(self, session: Ref, *, status: str | None = None) -> list[Json]:
        found = await self._run(
            f.get(self.settings, "sessions", session, "requests", status=status)
        )
        return list(found["requests"])

    async def approve(self, request_id: str, *, args: Json | None = None, **fields: Any) -> Json:
        return await self._run(f.decide(self.settings, request_id, "approve", args=args, **fields))

    async def reject(self, request_id: str, reason: str | None = None, **fields: Any) -> Json:
        return await self._run(
            f.decide(self.settings, request_id, "reject", reason=reason, **fields)
        )

    async def answer(
        self, request_id: str, *, choice: int | None = None, text: str | None = None
    ) -> Json:
        return await self._run(
            f.decide(self.settings, request_id, "answer", choice=choice, text=text)
        )


__all__ = ["AsyncSessionbot", "Sessionbot"]
