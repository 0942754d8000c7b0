from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from switchboard.metrics.analytics.counting import Metric


class MetricTotal(BaseModel):
    total: int = 0
    by_dimension: dict[str, int] = Field(
        default_factory=dict, description="Channel, origin, status, model or usage kind."
    )


class AnalyticsSummary(BaseModel):
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    metrics: dict[str, MetricTotal]


class HourlyPoint(BaseModel):
    hour: datetime = Field(description="Start of the hour, UTC.")
    dimension: str | None
    value: int


class HourlySeries(BaseModel):
    metric: Metric
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    points: list[HourlyPoint]
