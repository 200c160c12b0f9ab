"""Model prices are edited in the console; a change applies to calls admitted after it."""

import json
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry

from tenants.models import ModelPrice
from tests.ai.conftest import SEED_CONTENT, post, seed_request
from tests.conftest import COMPLETIONS
from usage.models import AIUsage

pytestmark = pytest.mark.django_db


def _answer_while_the_price_doubles(request):
    # the call is in flight when staff double the price of its model
    ModelPrice.objects.filter(pk="kbz-standard").update(
        input_usd_per_million=Decimal("6"), output_usd_per_million=Decimal("30")
    )
    usage = {"prompt_tokens": 198, "completion_tokens": 133, "total_tokens": 331}
    message = {"role": "assistant", "content": SEED_CONTENT}
    return 200, {}, json.dumps({"choices": [{"message": message}], "usage": usage})


def test_a_call_in_flight_keeps_the_price_it_was_admitted_at(agent, litellm):
    litellm.add_callback("POST", COMPLETIONS, callback=_answer_while_the_price_doubles)
    post(agent, seed_request())
    assert AIUsage.objects.get().cost_usd_est == Decimal("0.002589")  # the old price


def test_the_next_call_pays_the_new_price(agent, litellm):
    litellm.add_callback("POST", COMPLETIONS, callback=_answer_while_the_price_doubles)
    post(agent, seed_request())
    post(agent, seed_request())
    costs = sorted(AIUsage.objects.values_list("cost_usd_est", flat=True))
    assert costs == [Decimal("0.002589"), Decimal("0.005178")]


@pytest.fixture
def billing(client, make_user):
    client.force_login(make_user("billing@keybuzz.test", is_staff=True, is_superuser=True))
    return client


def _edit_price(client, alias="kbz-cheap", input_price="0.2", output_price="0.6"):
    return client.post(f"/staff/tenants/modelprice/{alias}/change/", {
        "alias": alias, "input_usd_per_million": input_price,
        "output_usd_per_million": output_price, "_save": "Save",
    }, follow=True)  # fmt: skip


def test_a_price_change_is_audited_with_old_and_new_values(billing):
    _edit_price(billing, input_price="0.2")
    assert LogEntry.objects.get().get_change_message() == (
        "Changed USD per 1M input tokens: 0.150000 → 0.2."
    )


def test_a_price_that_makes_a_plan_unable_to_afford_one_call_warns(billing):
    # when kbz-cheap becomes so expensive that one worst-case call exceeds starter's 1 USD
    page = _edit_price(billing, output_price="5000").text
    # then the change is saved, with a warning naming the plan
    assert ModelPrice.objects.get(pk="kbz-cheap").output_usd_per_million == Decimal("5000")
    assert "The daily budget of plan Starter ($1.00) is now below one worst-case" in page
