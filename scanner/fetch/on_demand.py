"""The Hub client of a fetch, made at its first use: a warm run that asks the Hub nothing
(every model recorded or locked, every file cached) does not even import the Hub stack
(huggingface_hub, httpx: a few tenths of a second of start-up)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..hub.client import HubClient
    from .jobs import FetchSettings


class OnDemandClient:
    """Stands in for a `HubClient` (`as_client`); the real one is made when first used, and
    closed with this one."""

    def __init__(self, settings: FetchSettings) -> None:
        self._settings = settings
        self._client: HubClient | None = None

    def made(self) -> HubClient:
        if self._client is None:
            from .resolve import hub_client

            self._client = hub_client(self._settings)
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name == "cancel" and self._client is None:  # nothing in flight to stop
            return lambda: None
        return getattr(self.made(), name)

    def __enter__(self) -> OnDemandClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._client is not None:
            self._client.__exit__(kind, error, trace)

    def as_client(self) -> HubClient:
        """This stand-in, typed as what it stands in for."""
        return self  # type: ignore[return-value]
