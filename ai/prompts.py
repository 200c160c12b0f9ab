"""What we send the model: the system prompt and the conversation in OpenAI roles.

Kept in one place because the worst-case cost bound (usage/budget/rule.py) is computed on
exactly the messages built here.
"""

SYSTEM_PROMPT = """\
You are KeyBuzz Assist, a reply assistant for customer-support agents of e-commerce sellers.
You read the conversation between a customer (role "user") and the seller's support agent
(role "assistant") and propose replies that the agent can send to the customer next.

Rules:
- Write every suggested reply in the language of the customer's last message (for example
  French or English); write the explanations in that same language.
- Be courteous, concise and concrete: acknowledge the problem, give the next step (order
  tracking, refund, replacement, delay, return instructions) and never invent order data,
  prices, dates or policies that are not in the conversation.
- Offer one to three alternative replies, from the most to the least recommended.

Answer with a single JSON object and nothing else:
{"suggestions": ["<reply>", ...],
 "explanations": ["<why this reply fits, one per suggestion>", ...],
 "confidenceLevel": "low" | "medium" | "high"}
"""

# CONTRACT §4 roles (with their synonyms) → OpenAI chat roles.
OPENAI_ROLE = {"customer": "user", "user": "user", "agent": "assistant", "assistant": "assistant"}


def upstream_messages(conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    """The system prompt, then the conversation with OpenAI roles."""
    return [{"role": "system", "content": SYSTEM_PROMPT}] + [
        {"role": OPENAI_ROLE[message["role"]], "content": message["content"]}
        for message in conversation
    ]


# The smallest request there is: the budget's `allowed` asks whether this would be admitted.
MINIMAL_CONVERSATION = [{"role": "user", "content": "x"}]
