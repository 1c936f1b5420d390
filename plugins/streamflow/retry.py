"""Retries live in one place (STYLE): Airflow task retries, steered by this policy.

Retryable source errors (429, 5xx, timeouts, broken pages) are retried, after the service's
``Retry-After`` when it sent one; permanent ones (unknown station, bad request, unparseable
payload, bad params) fail at once; anything else (e.g. the database going away) gets Airflow's
default retry behaviour.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

from streamflow.errors import StreamflowError

MAX_RETRY_AFTER = timedelta(hours=1)


class StreamflowRetryPolicy(RetryPolicy):
    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context=None) -> RetryDecision:
        if not isinstance(exception, StreamflowError):
            return RetryDecision.default()
        if not exception.retryable:
            return RetryDecision.fail(reason=f"not retryable: {exception}")
        delay = None
        if exception.retry_after:
            delay = min(timedelta(seconds=exception.retry_after), MAX_RETRY_AFTER)
        return RetryDecision.retry(delay=delay, reason=f"retryable: {exception}")

    def serialize(self) -> dict[str, Any]:
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> StreamflowRetryPolicy:
        return cls()
