"""What a coordinator types into the queue's country and language filters."""

from __future__ import annotations

import pytest

from core.queue import country_filter, language_filter


def test_a_country_code_is_taken_and_nothing_typed_means_every_country() -> None:
    assert country_filter(" jp ") == "JP"
    assert country_filter("") is None


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("Japan", "'Japan' is not a country code; Japan is JP."),
        ("XX", "'XX' is not a country code: type the two-letter ISO code"),
    ],
)
def test_a_name_or_an_unknown_code_is_refused_instead_of_showing_nobody(
    typed: str, said: str
) -> None:
    with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(".", r"\.")):
        country_filter(typed)


def test_a_language_tag_keeps_its_script_and_region_case() -> None:
    assert language_filter("zh-hant") == "zh-Hant"
    assert language_filter("ZH-HANT") == "zh-Hant"
    assert language_filter("pt_br") == "pt-BR"
    assert language_filter(" JA ") == "ja"
    assert language_filter("") is None
