"""The price table: tokens costed per model, per million, to the micro-dollar."""

from __future__ import annotations

from decimal import Decimal

import pytest

from switchboard.llm import ModelPrice, PriceTable, UnpricedModelError


class TestCost:
    def test_a_priced_model_costs_its_input_and_output_tokens(self) -> None:
        prices = PriceTable(
            {"big": ModelPrice(input_per_million=Decimal(3), output_per_million=Decimal(15))}
        )
        # 1200 x $3/M + 300 x $15/M = $0.0036 + $0.0045
        assert prices.cost("big", input_tokens=1200, output_tokens=300) == Decimal("0.008100")

    def test_an_unpriced_model_is_refused(self) -> None:
        with pytest.raises(UnpricedModelError):
            PriceTable({}).cost("mystery", input_tokens=1, output_tokens=1)
