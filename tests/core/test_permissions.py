"""The role table and the identity rules, as tables of cases."""

from __future__ import annotations

import pytest

from core.domain import Role
from core.permissions import (
    PERMISSIONS,
    Action,
    NotPermitted,
    allowed,
    may_act_as,
    may_add_first_admin,
    refusal,
    require,
)

C, P, A = Role.COORDINATOR, Role.PHYSICIAN, Role.ADMIN

WHO_MAY: dict[Action, set[Role]] = {
    Action.FOLLOW_UP: {C, P},
    Action.TRIAGE: {C, P},
    Action.OPEN_INCIDENT: {C, P},
    Action.EDIT_INCIDENT: {C, P},
    Action.CLASSIFY_INCIDENT: {P},
    Action.ACKNOWLEDGE_ALERT: {P},
    Action.RESOLVE_ALERT: {P},
    Action.EXPORT: {C, P},
    Action.EDIT_EPISODE: {C, P, A},
    Action.MANAGE_STAFF: {A},
    Action.MANAGE_ONCALL: {A},
    Action.IMPORT_PATIENTS: {A},
}


def test_every_action_has_a_decided_row() -> None:
    assert set(WHO_MAY) == set(Action)
    assert set(PERMISSIONS) == set(Role)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_the_table(role: Role, action: Action) -> None:
    expected = role in WHO_MAY[action]
    assert allowed(role, action) is expected
    if expected:
        require(role, action)
    else:
        with pytest.raises(NotPermitted) as refused:
            require(role, action)
        assert (refused.value.role, refused.value.action) == (role, action)


@pytest.mark.parametrize(
    ("role", "action", "sentence"),
    [
        (
            C,
            Action.ACKNOWLEDGE_ALERT,
            "A coordinator may not acknowledge a physician alert; that needs a physician.",
        ),
        (
            A,
            Action.TRIAGE,
            "An admin may not record a triage; that needs a coordinator or a physician.",
        ),
        (
            P,
            Action.MANAGE_STAFF,
            "A physician may not manage staff (add, disable, enable, change roles); "
            "that needs an admin.",
        ),
    ],
)
def test_a_refusal_is_one_sentence_naming_the_role_and_who_is_needed(
    role: Role, action: Action, sentence: str
) -> None:
    assert refusal(role, action) == sentence
    assert str(NotPermitted(role, action)) == sentence
    assert "\n" not in sentence


@pytest.mark.parametrize(
    ("os_login", "target", "admin", "demo_db", "expected"),
    [
        ("rn.kim", "rn.kim", False, False, True),  # yourself
        ("rn.kim", "dr.lee", False, False, False),  # a colleague: no
        ("rn.kim", "dr.lee", False, True, False),  # not a demo login, even on a demo database
        ("it.boss", "dr.lee", True, False, False),  # not even an admin: roles would leak
        ("rn.kim", "demo-rn-park", False, True, True),  # ./dev run on a demo database
        ("rn.kim", "demo-dr-kim", False, False, False),  # demo login on a real clinic's data
        ("rn.kim", "demoted", False, True, False),  # only the exact prefix
    ],
)
def test_who_may_work_as_whom(
    os_login: str, target: str, admin: bool, demo_db: bool, expected: bool
) -> None:
    assert (
        may_act_as(
            os_login=os_login, target=target, os_is_active_admin=admin, demo_database=demo_db
        )
        is expected
    )


@pytest.mark.parametrize(
    ("admins", "euid", "owner", "expected"),
    [
        (0, 0, None, True),  # root, PostgreSQL
        (0, 0, 1000, True),  # root, someone's SQLite file
        (0, 1000, 1000, True),  # the SQLite file's owner
        (0, 1001, 1000, False),  # anyone else
        (0, 1000, None, False),  # PostgreSQL: only root
        (1, 0, 0, False),  # there is an admin already: they add staff
    ],
)
def test_who_may_add_the_first_admin(
    admins: int, euid: int, owner: int | None, expected: bool
) -> None:
    assert (
        may_add_first_admin(active_admins=admins, euid=euid, database_owner_uid=owner) is expected
    )
