from decimal import Decimal

import pytest

from tenants.models import ModelPrice
from usage.pricing import cost_usd

pytestmark = pytest.mark.django_db


def test_the_seed_call_costs_0_002589_on_kbz_standard():
    # given the seed's call: 198 prompt + 133 completion tokens on kbz-standard
    price = ModelPrice.objects.get(alias="kbz-standard")
    # when it is priced
    cost = cost_usd(price=price, prompt_tokens=198, completion_tokens=133)
    # then it is the seed's figure, exactly
    assert cost == Decimal("0.002589")


def test_cost_rounds_half_up_to_the_micro_dollar():
    # 30 tokens at $0.15 per million = $0.0000045: half-up gives 0.000005 (banker's gives 4)
    price = ModelPrice.objects.get(alias="kbz-cheap")
    assert cost_usd(price=price, prompt_tokens=30, completion_tokens=0) == Decimal("0.000005")


def test_cost_is_a_decimal_with_six_places():
    price = ModelPrice.objects.get(alias="kbz-premium")
    cost = cost_usd(price=price, prompt_tokens=1, completion_tokens=1)
    assert cost.as_tuple().exponent == -6
