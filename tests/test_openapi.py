"""The OpenAPI 3 schema at /api/schema/ and its browsable docs at /api/docs/, served locally."""

import re
from io import StringIO

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

CONTRACT_PATHS = {
    "/ai/assist": "post",
    "/ai/assist/status": "get",
    "/admin/ai/usage/today": "get",
    "/admin/ai/usage": "get",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_the_schema_is_valid_openapi_3_without_warnings(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(("path", "method"), CONTRACT_PATHS.items())
def test_every_contract_endpoint_is_documented(schema, path, method):
    assert method in schema["paths"][path]


def test_assist_documents_every_outcome_of_the_contract(schema):
    documented = set(schema["paths"]["/ai/assist"]["post"]["responses"])
    assert {
        "200", "400", "401", "402", "403", "404", "409", "413", "422", "429", "502", "503", "504",
    } <= documented  # fmt: skip


def test_assist_documents_the_idempotency_key_header(schema):
    parameters = schema["paths"]["/ai/assist"]["post"]["parameters"]
    assert {"in": "header", "name": "Idempotency-Key"} in [
        {"in": p["in"], "name": p["name"]} for p in parameters
    ]


@pytest.mark.parametrize(
    ("status", "code"),
    [("409", "idempotency_in_progress"), ("422", "idempotency_key_mismatch"),
     ("429", "rate_limited")],
)  # fmt: skip
def test_assist_documents_idempotency_and_rate_limit_errors(schema, status, code):
    content = schema["paths"]["/ai/assist"]["post"]["responses"][status]["content"]
    examples = content["application/json"]["examples"].values()
    assert code in [example["value"]["status"] for example in examples]


def test_the_seed_examples_are_in_the_schema(schema):
    answer = schema["paths"]["/ai/assist"]["post"]["responses"]["200"]["content"]
    example = next(iter(answer["application/json"]["examples"].values()))["value"]
    assert example["usage"] == {"tokens": 331, "costUsd": 0.002589}


def test_both_token_schemes_are_documented(schema):
    assert {"apiToken", "serviceKey"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.django_db
def test_the_schema_is_served_publicly_as_openapi_json(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response.json()["paths"].keys() >= CONTRACT_PATHS.keys()


@pytest.mark.django_db
def test_the_docs_render_with_local_assets_only(client):
    # when the browsable docs are opened
    response = client.get("/api/docs/")
    html = response.content.decode()
    # then they render, load nothing from another host, and their assets exist here
    assert response.status_code == 200
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assets = re.findall(r"/static/(drf_spectacular_sidecar/[^\"'\s]+)", html)
    assert assets
    assert all(finders.find(asset) for asset in assets)
