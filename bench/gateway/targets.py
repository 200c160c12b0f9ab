"""What the load generator sends: one request per target, the same conversation everywhere."""

import json
from dataclasses import dataclass, field

from ai.prompts import upstream_messages  # plain Python: no Django needed

# The seed's call (ai/apis.py SEED_REQUEST): one customer message.
CONVERSATION = [{"role": "customer", "content": "Ma commande est en retard"}]
MAX_TOKENS = 1024  # the app's AI_MAX_OUTPUT_TOKENS default


@dataclass(frozen=True)
class Target:
    label: str
    url: str
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def assist_body(tenant_id: str) -> dict:
    return {
        "tenantId": tenant_id,
        "contextType": "conversation",
        "contextId": "bench",
        "payload": {"messages": CONVERSATION},
    }


def assist(label: str, *, app_url: str, token: str, tenant_id: str) -> Target:
    return Target(
        label,
        f"{app_url}/ai/assist",
        "POST",
        json.dumps(assist_body(tenant_id)),
        {"Authorization": f"Bearer {token}"},
    )


def chat_completion(label: str, *, base_url: str, key: str, model: str) -> Target:
    """A direct call to the stub or to LiteLLM: the body the app sends upstream for the same
    conversation (system prompt included), so that only the app's own work differs."""
    body = {
        "model": model,
        "messages": upstream_messages(CONVERSATION),
        "max_tokens": MAX_TOKENS,
        "response_format": {"type": "json_object"},
    }
    return Target(
        label,
        f"{base_url}/v1/chat/completions",
        "POST",
        json.dumps(body),
        {"Authorization": f"Bearer {key}"},
    )


def get(label: str, url: str, **headers: str) -> Target:
    return Target(label, url, headers=headers)
