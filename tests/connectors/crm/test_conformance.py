"""The push conformance suite over the CRM bridge's contacts, against the fake CRM."""
import re
from collections import Counter

from sqlalchemy import select

from app.connectors.crm.models import CrmDuplicate
from app.extensions import db
from tests.connectors.conformance import PushAdapter, PushConformanceSuite
from tests.runs.helpers import run_job

MOBILE, CODE = re.compile(r"^09\d{9}$"), re.compile(r"^\d{10}$")
LATEST = ("SELECT * FROM dbo.membership m WHERE IDD = "
          "(SELECT MAX(IDD) FROM dbo.membership v WHERE v.personVId = m.personVId) ORDER BY personVId")


class ContactsAdapter(PushAdapter):
    job_id = "crm.contacts"
    connector, stream = "crm", "contacts"
    mid_run_progress = 40

    def prepare(self, request):
        app = request.getfixturevalue("app")
        self.fake = request.getfixturevalue("crm")
        # This suite is about one stream: the steps after contacts are not queued behind it.
        request.getfixturevalue("executor").on_finish.clear()
        app.config.update(CRM_BATCH_SIZE=20, CRM_CONCURRENCY=2)
        assert run_job(app, "crm.dedupe_members").status == "succeeded"

    def _latest(self):
        return self.fake.source.rows(LATEST)

    def _not_duplicates(self, app):
        with app.app_context():
            losers = set(db.session.scalars(select(CrmDuplicate.person_id)))
        return [m for m in self._latest() if m["personVId"] not in losers]

    def _sent(self, app):
        """The latest member versions the CRM accepts: valid, and not set aside as duplicates."""
        return [m for m in self._not_duplicates(app) if _valid(m)]

    def refused(self, app):
        return sum(1 for m in self._not_duplicates(app) if not _valid(m))

    def expected(self, app):
        return len(self._sent(app))

    def target(self, app):
        return {str(c["customFields"]["personVId"]): (c["firstName"], c["lastName"], c["mobile"])
                for c in self.fake.entities("contacts")}

    def duplicates(self, app):
        persons = Counter(str(c["customFields"]["personVId"]) for c in self.fake.entities("contacts"))
        return sorted(p for p, n in persons.items() if n > 1) + [v for vs in self.fake.truth()["duplicates"].values()
                                                                 for v in vs]

    def creates(self, app):
        return self.fake.truth()["creates"].get("contacts", 0)

    def _a_synced_person(self):
        held = self.target(None)
        return next(m for m in self._latest() if str(m["personVId"]) in held)

    def change_source(self, app):
        member = self._a_synced_person()
        self.fake.source.execute("UPDATE dbo.membership SET lastName = 'Changed' WHERE IDD = :i", i=member["IDD"])
        return str(member["personVId"])

    def reject_one(self, app):
        member = next(m for m in self._sent(app) if m["mobile"])
        self.fake.faults(reject={"contacts": [member["mobile"]]})
        return str(member["personVId"])

    def break_target(self, app):
        self.fake.faults(fail_from=60)

    def slow_target(self, app):
        self.fake.faults(latency_ms=40)

    def heal_target(self, app):
        self.fake.faults()


def _valid(member):
    """Whether the fake CRM accepts this member as a contact (its validation rules)."""
    mobile, code = member["mobile"], member["CodeMelli"]
    return bool((member["lastName"] or "").strip()) and (not mobile or MOBILE.match(mobile.strip())) and \
        (not code or CODE.match(code.strip()))


class TestCrmContactsConformance(PushConformanceSuite):
    adapter = ContactsAdapter()
