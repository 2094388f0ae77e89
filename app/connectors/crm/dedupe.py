"""De-duplicate members before contacts are sent: two persons (personVId) with the same mobile, then
the same national code, are one human, and the CRM must get one contact.

The winner of a group is a person whose contact is already in the CRM (it stays the contact);
else the one with the latest invoice activity; else the highest personVId. The others are set
aside with the reason: their contact is skipped, and their invoices and receipts go to the
winner's contact. The verdicts are replaced whole in one transaction, so a person who no longer
shares a mobile is a contact of its own again on the next cycle.
"""
from sqlalchemy import delete, insert

from ...db import utcnow
from ...extensions import db
from . import source
from .models import CrmDuplicate
from .records import ledger_of


def run(ctx, url):
    """Find the duplicates of the latest member versions and store the verdicts; returns counts."""
    with source.connect(url) as conn:
        persons = {}
        for rows in source.in_chunks(conn, source.latest_members(0), source.membership.c.personVId, 5000):
            for row in rows:
                persons[row["personVId"]] = ((row["mobile"] or "").strip(), (row["CodeMelli"] or "").strip())
        activity = {person: at for person, at in conn.execute(source.latest_activity())}
        conn.rollback()
    ctx.count(fetched=len(persons))
    synced = {int(key) for key, (status, _t, _m) in ledger_of("contacts", persons).items() if status == "synced"}
    verdicts = find_duplicates(persons, activity, synced)
    _store(verdicts)
    ctx.count(skipped=len(verdicts))
    ctx.log.info("%d persons, %d set aside as duplicates", len(persons), len(verdicts))
    return {"persons": len(persons), "duplicates": len(verdicts)}


def find_duplicates(persons, activity, synced):
    """{loser: (winner, reason)} for persons {id: (mobile, national code)}: by mobile, then by code."""
    verdicts = {}
    for index, label in ((0, "mobile"), (1, "national code")):
        groups = {}
        for person, values in persons.items():
            if values[index] and person not in verdicts:
                groups.setdefault(values[index], []).append(person)
        for value, group in groups.items():
            if len(group) > 1:
                verdicts.update(_verdicts(group, value, label, activity, synced))
    return verdicts


def _verdicts(group, value, label, activity, synced):
    def rank(person):
        return (person in synced, activity.get(person) is not None, str(activity.get(person) or ""), person)
    winner = max(group, key=rank)
    why = ("its contact is already in the CRM" if winner in synced
           else f"it has the latest invoice activity ({str(activity[winner])[:10]})" if activity.get(winner)
           else "no person of the group has invoices; the newest person wins")
    reason = f"duplicate of person {winner} (same {label} {value}): person {winner} is kept because {why}"
    return {person: (winner, reason) for person in group if person != winner}


def _store(verdicts):
    now = utcnow()
    db.session.execute(delete(CrmDuplicate))
    if verdicts:
        db.session.execute(insert(CrmDuplicate), [
            {"person_id": p, "winner_id": w, "reason": r[:400], "found_at": now} for p, (w, r) in verdicts.items()])
    db.session.commit()
