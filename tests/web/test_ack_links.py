"""Signing and checking alert links (core.alert_links): pure, no database, no web."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from core.alert_links import (
    LinkClaim,
    LinkKeys,
    LinkProblem,
    LinkRefused,
    SecretFileError,
    base_url_problem,
    create_secret,
    link_url,
    new_nonce,
    read_secret,
)

KEYS = LinkKeys(bytes(range(32)))
OTHER = LinkKeys(bytes(range(1, 33)))
CLAIM = LinkClaim(escalation_id=42, step=2, cycle=1, target_tag="dr-lee", nonce="n0nce-AbC_9")
BASE64URL = string.ascii_letters + string.digits + "-_"


def test_a_signed_link_says_what_it_was_signed_for() -> None:
    token = KEYS.sign(CLAIM)
    assert KEYS.verify(token) == CLAIM
    assert set(token) <= set(BASE64URL + ".") and token.count(".") == 1
    # A tag with the separator in it still comes back whole.
    odd = LinkClaim(1, 1, 3, "a|b:c", new_nonce())
    assert KEYS.verify(KEYS.sign(odd)) == odd


def test_every_one_character_change_anywhere_is_refused() -> None:
    token = KEYS.sign(CLAIM)
    tried = 0
    for index, original in enumerate(token):
        for replacement in BASE64URL + ".":
            if replacement == original:
                continue
            changed = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(LinkRefused) as refused:
                KEYS.verify(changed)
            assert refused.value.problem in (LinkProblem.TAMPERED, LinkProblem.WRONG)
            tried += 1
    assert tried == len(token) * len(BASE64URL)  # 64 others per position (63 + the dot)


def test_a_changed_claim_with_the_old_signature_is_tampered() -> None:
    token = KEYS.sign(CLAIM)
    _, signature = token.split(".")
    body_of_another = KEYS.sign(LinkClaim(43, 2, 1, "dr-lee", CLAIM.nonce)).split(".")[0]
    with pytest.raises(LinkRefused) as refused:
        KEYS.verify(f"{body_of_another}.{signature}")
    assert refused.value.problem is LinkProblem.TAMPERED
    assert "does not match what the clinic signed" in str(refused.value)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(LinkRefused) as refused:
        KEYS.verify(OTHER.sign(CLAIM))
    assert refused.value.problem is LinkProblem.TAMPERED


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "abc.", ".abc", "a.b.c", "%%%.###", "Zm9v.Zm9v", "x" * 60 + ".y"],
)
def test_what_is_not_shaped_like_a_link_is_wrong(token: str) -> None:
    with pytest.raises(LinkRefused) as refused:
        KEYS.verify(token)
    assert refused.value.problem is LinkProblem.WRONG


def test_cut_short_is_refused() -> None:
    token = KEYS.sign(CLAIM)
    for length in range(len(token)):
        with pytest.raises(LinkRefused):
            KEYS.verify(token[:length])


def test_form_token_is_bound_to_its_link_and_the_secret() -> None:
    token = KEYS.sign(CLAIM)
    form = KEYS.form_token(token)
    assert KEYS.form_token_matches(token, form)
    another = KEYS.sign(LinkClaim(42, 2, 1, "dr-lee", new_nonce()))
    assert not KEYS.form_token_matches(another, form)
    assert not OTHER.form_token_matches(token, form)
    assert not KEYS.form_token_matches(token, form[:-1] + ("A" if form[-1] != "A" else "B"))
    assert not KEYS.form_token_matches(token, "")


def test_nonces_differ() -> None:
    nonces = {new_nonce() for _ in range(200)}
    assert len(nonces) == 200 and all(len(n) == 16 for n in nonces)


def test_the_secret_must_be_long_enough() -> None:
    with pytest.raises(ValueError):
        LinkKeys(b"short")


def test_link_url_and_base_address() -> None:
    assert link_url("https://alerts.example/", "t.k") == "https://alerts.example/a/t.k"
    assert link_url("https://clinic.example/aftercare", "t.k") == (
        "https://clinic.example/aftercare/a/t.k"
    )
    assert base_url_problem("https://alerts.example") is None
    assert base_url_problem("http://127.0.0.1:8340") is None
    problem = base_url_problem("http://alerts.example")
    assert problem is not None and "https://" in problem
    assert base_url_problem("https://alerts.example/?x=1") is not None
    assert base_url_problem("alerts.example") is not None


def test_secret_file_created_once_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "web-secret"
    create_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    keys, warnings = read_secret(path)
    assert warnings == [] and len(keys.secret) == 32
    with pytest.raises(SecretFileError, match="already exists"):
        create_secret(path)
    assert read_secret(path)[0] == keys  # the refused second call kept the first secret


def test_secret_file_problems_name_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    with pytest.raises(SecretFileError, match=f"{missing} does not exist.*--init-secret"):
        read_secret(missing)
    short = tmp_path / "short"
    short.write_text("abcd\n")
    with pytest.raises(SecretFileError, match="does not hold a link secret"):
        read_secret(short)
    loose = tmp_path / "loose"
    loose.write_text("ab" * 32 + "\n")
    loose.chmod(0o644)
    _, warnings = read_secret(loose)
    assert len(warnings) == 1 and "chmod 600" in warnings[0] and "644" in warnings[0]
