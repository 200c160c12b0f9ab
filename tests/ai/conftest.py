"""The assist tests' request helpers (the `litellm` seam itself is in tests/conftest.py)."""

import json

import pytest

from tests.conftest import COMPLETIONS

SEED_CONTENT = json.dumps(
    {
        "suggestions": ["Je suis désolé pour ce retard, je vérifie votre commande."],
        "explanations": ["Reconnaît le problème et annonce la prochaine étape."],
        "confidenceLevel": "high",
    }
)


@pytest.fixture
def agent(client_for, member):
    return client_for(member)


def answer(mock, *, prompt_tokens=198, completion_tokens=133, content=SEED_CONTENT, model="x"):
    mock.post(
        COMPLETIONS,
        json={
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def seed_request(tenant_id="ecomlg-001", **extra) -> dict:
    return {
        "tenantId": tenant_id,
        "contextType": "conversation",
        "contextId": "conv-123",
        "payload": {"messages": [{"role": "customer", "content": "Ma commande est en retard"}]},
        **extra,
    }


def post(client, body, **headers):
    return client.post("/ai/assist", body, format="json", **headers)
