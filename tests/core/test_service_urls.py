"""The one mask for delivery-service URLs: what is kept, what is hidden, in URLs and text."""

from __future__ import annotations

import pytest

from core.service_urls import mask_secrets_in, mask_service_url

TOKEN = "k8Zq2vW7hooktoken"
TOPIC = "clinic-night-pages-71"


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        # A webhook whose path is its key: the host stays, the path is its ends only.
        (f"json://127.0.0.1:9999/{TOKEN}", "json://127.0.0.1:9999/k...n", [TOKEN]),
        (
            f"jsons://user:pw-1234@hooks.example.com:8443/alerts/{TOKEN}?method=POST&%2BX-Token=t1x",
            "jsons://user:***@hooks.example.com:8443/a...s/k...n?method=POST&%2BX-Token=***",
            [TOKEN, "pw-1234", "t1x"],
        ),
        # ntfy: the topic is the subscription, on a host or in the host's place.
        (f"ntfys://{TOPIC}?priority=default", "ntfys://c...1?priority=default", [TOPIC]),
        (f"ntfy://ntfy.sh/{TOPIC}", "ntfy://ntfy.sh/c...1", [TOPIC]),
        # A bot token where a host would be; a password and a secret-named query value.
        (f"tgram://{TOKEN}/12345/", "tgram://k...n/1...5/", [TOKEN]),
        (
            f"mailto://alerts:pw-1234@mail.example.org?to=dr@example.org&apikey={TOKEN}",
            "mailto://alerts:***@mail.example.org?to=dr@example.org&apikey=***",
            [TOKEN, "pw-1234"],
        ),
        # What Apprise's privacy mode already shortened stays as it is.
        ("discord://1...6/a...N/?tts=no", "discord://1...6/a...N/?tts=no", []),
        ("not a url", "not a url", []),
    ],
)
def test_a_service_url_keeps_what_finds_the_entry_and_hides_every_secret(
    url: str, shown: str, secrets: list[str]
) -> None:
    masked = mask_service_url(url)
    assert masked == shown
    assert not [secret for secret in secrets if secret in masked]
    assert mask_service_url(masked) == masked  # masking twice changes nothing


def test_every_url_in_an_error_line_is_masked() -> None:
    line = (
        f"JSON notification to json://127.0.0.1:9/{TOKEN}: connection refused; "
        f"retried ntfy://ntfy.sh/{TOPIC}."
    )
    masked = mask_secrets_in(line)
    assert masked == (
        "JSON notification to json://127.0.0.1:9/k...n: connection refused; "
        "retried ntfy://ntfy.sh/c...1."
    )
