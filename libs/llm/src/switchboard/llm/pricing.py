"""What a model's tokens cost: prices per million input and output tokens, by model."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field

MILLION = Decimal(1_000_000)
# Micro-dollars: fine enough for one short reply, coarse enough to add up exactly.
COST_QUANTUM = Decimal("0.000001")


class ModelPrice(BaseModel):
    """One model's price, in USD per million tokens."""

    input_per_million: Decimal = Field(ge=0)
    output_per_million: Decimal = Field(ge=0)


class UnpricedModelError(ValueError):
    """The price table has no entry for a model, so its usage cannot be costed."""


class PriceTable:
    """Costs a completion's tokens with the configured per-model prices."""

    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self.prices = prices

    def require(self, model: str) -> ModelPrice:
        """The model's price; `UnpricedModelError` if the table lacks it."""
        price = self.prices.get(model)
        if price is None:
            raise UnpricedModelError(f"No price configured for model {model!r}.")
        return price

    def cost(self, model: str, *, input_tokens: int, output_tokens: int) -> Decimal:
        """USD for the given tokens, rounded to the micro-dollar."""
        price = self.require(model)
        total = (
            input_tokens * price.input_per_million + output_tokens * price.output_per_million
        ) / MILLION
        return total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
