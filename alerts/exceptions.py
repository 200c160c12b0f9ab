"""Why a delivery attempt did not go through."""


class DeliveryFailed(Exception):
    """This attempt failed (network, HTTP status, SMTP…): retried later with backoff."""


class Undeliverable(DeliveryFailed):
    """No attempt can succeed (no recipient, no active endpoint): dead at once."""
