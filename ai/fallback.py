"""Fallback mode (no LITELLM_MASTER_KEY): generic suggestions, no upstream call, no cost."""

import re

from .client import Completion

_WORDS = re.compile(r"[a-zàâäçéèêëîïôöùûüÿœæ']+")
_FRENCH = frozenset(
    "le la les un une des du de et est pas je vous nous mon ma mes votre vos ce cette qui que "
    "pour avec sur dans ne plus toujours commande colis reçu livraison remboursement bonjour "
    "merci aujourd'hui hier depuis j'ai n'ai c'est où quand".split()
)
_ENGLISH = frozenset(
    "the a an and is are not i you we my your our this that which who for with on in no still "
    "order package parcel received delivery refund hello hi thanks thank today yesterday since "
    "have has was where when it".split()
)
_FRENCH_LETTERS = frozenset("àâçéèêëîïôùûœ")

SUGGESTIONS = {
    "en": Completion(
        suggestions=[
            "Thank you for your message. I'm looking into your request right now and will get "
            "back to you as soon as possible.",
            "I'm sorry for the inconvenience. Could you confirm your order number so that I can "
            "check its status?",
        ],
        explanations=[
            "A generic acknowledgement: AI suggestions are in fallback mode.",
            "Asks for the information needed to follow up.",
        ],
        confidence="low",
        prompt_tokens=0,
        completion_tokens=0,
    ),
    "fr": Completion(
        suggestions=[
            "Merci pour votre message. J'examine votre demande dès maintenant et je reviens vers "
            "vous au plus vite.",
            "Je suis désolé(e) pour ce désagrément. Pouvez-vous me confirmer votre numéro de "
            "commande afin que je vérifie son statut ?",
        ],
        explanations=[
            "Un accusé de réception générique : les suggestions IA sont en mode dégradé.",
            "Demande l'information nécessaire pour assurer le suivi.",
        ],
        confidence="low",
        prompt_tokens=0,
        completion_tokens=0,
    ),
}


def detect_language(text: str) -> str | None:
    """'fr' or 'en' when the text clearly leans one way, else None."""
    lowered = text.lower()
    words = _WORDS.findall(lowered)
    french = sum(word in _FRENCH for word in words) + 2 * any(c in _FRENCH_LETTERS for c in lowered)
    english = sum(word in _ENGLISH for word in words)
    if french == english:
        return None
    return "fr" if french > english else "en"


def fallback_completion(*, conversation: list[dict[str, str]], tenant_language: str) -> Completion:
    """Generic suggestions in the language of the last customer message, else the tenant's."""
    customer_messages = [m for m in conversation if m["role"] in ("customer", "user")]
    language = None
    if customer_messages:
        language = detect_language(customer_messages[-1]["content"])
    return SUGGESTIONS.get(language or tenant_language, SUGGESTIONS["en"])
