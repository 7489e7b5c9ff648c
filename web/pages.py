"""The pages of the one-tap alert service, as plain HTML strings.

Small on purpose: a physician opens them on a phone at 3 a.m., over the
clinic's TLS proxy. No script, no image, no font or style sheet from
elsewhere; the one inline style is allowed by its hash in the page's
Content-Security-Policy (web.app). Every value from the database is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Final

from core.alert_links import LinkAction
from core.domain import EscalationStatus
from db.alert_links import LinkedAlert

STYLE: Final = """
body{font:17px/1.45 system-ui,sans-serif;margin:0 auto;max-width:40rem;padding:1rem;color:#111}
h1{font-size:1.35rem;margin:.2rem 0 .6rem}
h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.emergency{color:#a00}.urgent{color:#a50}
.state{padding:.6rem .8rem;border-radius:.4rem;background:#f3f3f3}
.open{background:#fde8e8}.done{background:#e6f4ea}
dl{margin:0}dt{font-weight:600;margin-top:.6rem}dd{margin:0}
ul{margin:.2rem 0;padding-left:1.2rem}
fieldset{border:1px solid #ccc;border-radius:.4rem;margin:1rem 0}
label{display:block;padding:.4rem 0}
button{display:block;width:100%;font-size:1.1rem;padding:.9rem;margin:.6rem 0;
border-radius:.4rem;border:0}
.ack{background:#0b57d0;color:#fff}.resolve{background:#e8eaed;color:#111}
.small{color:#555;font-size:.9rem}
""".strip()

STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
"""For the Content-Security-Policy: this exact style, and nothing else, may apply."""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def plain_page(title: str, sentence: str) -> str:
    """A page that only says something: a refused link, a missing page."""
    return _page(title, f"<h1>{escape(title)}</h1>\n<p>{escape(sentence)}</p>")


def _state(alert: LinkedAlert) -> str:
    if alert.status is EscalationStatus.OPEN:
        return (
            '<p class="state open" id="state">Open: nobody has acknowledged it yet. '
            f"The next physicians are paged if nobody does (step {alert.step} paged you).</p>"
        )
    return (
        f'<p class="state done" id="state">Acknowledged by {escape(alert.acknowledged or "")}: '
        "paging has stopped. It stays open until someone resolves it.</p>"
    )


def _facts(alert: LinkedAlert) -> str:
    patient = escape(alert.patient_code)
    if alert.patient_name:
        patient += f" ({escape(alert.patient_name)})"
    reasons = "".join(f"<li>{escape(r)}</li>" for r in alert.reasons) or "<li>none recorded</li>"
    rows = [
        ("Patient", patient),
        ("Why", f"<ul id='reasons'>{reasons}</ul>"),
        (
            "Day after the procedure",
            "not recorded" if alert.day is None else f"day {alert.day}",
        ),
        ("Where the patient is", escape(alert.country)),
        ("Their local time now", escape(alert.local_time)),
        ("Emergency number given to the patient", escape(alert.emergency_number)),
        ("Coordinator's note", escape(alert.note) if alert.note else "none"),
        ("Who decides", escape(alert.decided_by)),
    ]
    if alert.triaged_at:
        rows.append(("Triage saved", escape(alert.triaged_at)))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl id="facts">{items}</dl>'


def _paged(alert: LinkedAlert) -> str:
    items = []
    for page in alert.paged:
        mine = " <strong>(this message)</strong>" if page.this_link else ""
        cycle = f", round {page.cycle}" if page.cycle > 1 else ""
        items.append(
            f"<li>Step {page.step}{cycle}: {escape(page.to)}: {escape(page.status)} "
            f"{escape(page.at)}{mine}</li>"
        )
    return f"<h2>Who was paged</h2><ul id='paged'>{''.join(items)}</ul>"


def _form(alert: LinkedAlert, form_token: str) -> str:
    used = "".join(
        f"<p class='small used'>This link was used to {use.action.value} it, "
        f"by {escape(use.who)} at {escape(use.at)}.</p>"
        for use in alert.used
    )
    if alert.refusal:
        return f"{used}<p class='state' id='refusal'>{escape(alert.refusal)}</p>"
    buttons = []
    if alert.may(LinkAction.ACKNOWLEDGE):
        buttons.append(
            '<button class="ack" id="acknowledge" name="action" value="acknowledge">'
            "Acknowledge: I am dealing with it</button>"
        )
    if alert.may(LinkAction.RESOLVE):
        buttons.append(
            '<button class="resolve" id="resolve" name="action" value="resolve">'
            "Resolve: close the alert</button>"
        )
    if not buttons:
        return used
    who = ""
    if alert.acting is not None:
        who = f"<p id='acting'>You act as <strong>{escape(alert.acting.name)}</strong>.</p>"
    else:
        choices = "".join(
            f'<label><input type="radio" name="physician" value="{escape(p.login)}" required> '
            f"{escape(p.name)}{' (on call now)' if p.on_call else ''}</label>"
            for p in alert.choices
        )
        who = (
            "<fieldset id='choose'><legend>This message went to several physicians "
            f"({escape(alert.target_tag)}). Who are you?</legend>{choices}</fieldset>"
        )
    return (
        f'{used}<form method="post" action="">'
        f'<input type="hidden" name="form" value="{escape(form_token)}">'
        f"{who}{''.join(buttons)}</form>"
    )


def alert_page(alert: LinkedAlert, form_token: str, clinic_name: str) -> str:
    """The page a link opens: what the physician needs to decide, and the buttons."""
    level = alert.disposition.value
    title = f"{level.upper()} E-{alert.escalation_id}"
    body = (
        f"<p class='small'>{escape(clinic_name)}: physician alert</p>"
        f'<h1 class="{escape(level)}">{escape(title)}: patient {escape(alert.patient_code)}</h1>'
        f"{_state(alert)}{_facts(alert)}{_form(alert, form_token)}{_paged(alert)}"
        "<p class='small'>Acknowledging stops every further page. "
        "On the clinic server: aftercare ack "
        f"E-{alert.escalation_id}, signed in as yourself.</p>"
    )
    return _page(title, body)


def done_page(sentence: str, again_href: str) -> str:
    """After an action: what was done, and the way back to the alert."""
    return _page(
        "Done",
        f'<h1>Done</h1><p class="state done" id="done">{escape(sentence)}</p>'
        f'<p><a href="{escape(again_href)}">Back to the alert</a></p>',
    )
