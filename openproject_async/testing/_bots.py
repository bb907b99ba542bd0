"""What ``FakeOpenProject`` offers for bots: webhooks, notifications and jobs."""

from __future__ import annotations

from collections.abc import Iterable

from ._data import Store
from ._jobs import jobs_of
from ._notifications import Notification, notifications_of
from ._webhooks import Delivery, Webhook, hub_of


class BotsMixin:
    """Webhooks, notifications and background jobs of :class:`FakeOpenProject`."""

    store: Store

    def add_webhook(
        self,
        url: str,
        *,
        secret: str | None = None,
        events: Iterable[str] | None = None,
        projects: Iterable[int] | None = None,
        aggregation_delay: float = 0.0,
        retry_delay: float = 0.05,
    ) -> Webhook:
        """POST signed, real-shaped webhook payloads to ``url`` after writes.

        ``events``: action names (``"work_package:created"``...; None: all), ``projects``:
        project ids (None: all). ``aggregation_delay``: seconds before work package and
        comment events go out (the real server waits its journal aggregation time, 5
        minutes by default; changes of the same work package within it make one
        delivery). ``retry_delay`` scales the wait between attempts after a transient
        failure. See ``openproject_async.testing._webhooks``.
        """
        return hub_of(self.store).add(
            url,
            secret=secret,
            events=events,
            projects=projects,
            aggregation_delay=aggregation_delay,
            retry_delay=retry_delay,
        )

    def remove_webhook(self, webhook: Webhook | int) -> None:
        """Stop delivering to a webhook (KeyError when there is none)."""
        hook_id = webhook.id if isinstance(webhook, Webhook) else webhook
        del hub_of(self.store).hooks[hook_id]

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every delivery made so far, in order (the live list; ``status``, ``json()``...)."""
        return hub_of(self.store).deliveries

    async def wait_for_webhooks(self, *, flush: bool = False) -> None:
        """Wait until no webhook delivery is pending (delayed and retried ones included).

        ``flush=True`` sends the deliveries waiting for ``aggregation_delay`` now, as if
        that time had passed.
        """
        await hub_of(self.store).join(flush=flush)

    async def _close_webhooks(self) -> None:
        await hub_of(self.store).close()

    @property
    def notifications(self) -> dict[int, Notification]:
        """The in-app notifications, by id (the live dict)."""
        return notifications_of(self.store)

    @property
    def job_steps(self) -> int:
        """How many reads of a job status it takes to finish (default 2)."""
        return jobs_of(self.store).steps

    @job_steps.setter
    def job_steps(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"job_steps must be an int >= 1, got {value!r}")
        jobs_of(self.store).steps = value
