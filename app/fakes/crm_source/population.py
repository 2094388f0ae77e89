"""A deterministic club: persons with versions (some sharing a mobile or national code on purpose, a few
with values a CRM refuses), services in groups, store and service invoices, and receipts."""
import random
from datetime import date, datetime, timedelta

FIRST = ("Ali", "Reza", "Sara", "Maryam", "Hossein", "Zahra", "Mohammad", "Fatemeh", "Amir", "Neda", "Mehdi",
         "Leila", "Hamid", "Parisa", "Saeed", "Narges", "Omid", "Shirin", "Babak", "Yasmin")
LAST = ("Ahmadi", "Hosseini", "Karimi", "Rezaei", "Moradi", "Jafari", "Mohammadi", "Rahimi", "Kazemi", "Sadeghi",
        "Ebrahimi", "Ghasemi", "Hashemi", "Najafi", "Bagheri", "Soltani", "Tehrani", "Shahbazi", "Farahani", "Nouri")
JOBS = ("Engineer", "Teacher", "Student", "Doctor", "Designer", "Accountant", "Nurse", None)
GROUPS = ("Gym", "Pool", "Sauna", "Personal training", "Store: Drinks", "Store: Supplements", "Classes: Yoga",
          "Classes: Pilates", "Martial arts", "Physiotherapy", "Kids club", "Lockers")
BASE_DAY = date(2026, 11, 30)
SPAN_DAYS = 730


class Population:
    """The rows of every table, as (table name, tuple in column order), generated from one seed."""

    def __init__(self, members, services, store_invoices, service_invoices, receipts, seed=1, today=None):
        self.sizes = (members, max(services, 1), store_invoices, service_invoices, receipts)
        self.rng = random.Random(seed)
        self.today = today or BASE_DAY
        self.persons = []            # personVIds in order
        self.duplicate_mobile_groups = self.duplicate_code_groups = 0

    def rows(self):
        yield from self._members()
        yield from self._services()
        yield from self._store_invoices()
        yield from self._service_invoices()
        yield from self._receipts()

    # --- members ----------------------------------------------------------------------------
    def _members(self):
        rng, n_rows = self.rng, self.sizes[0]
        versions = []
        while sum(versions) < n_rows:
            versions.append(rng.choices((1, 2, 3), (85, 12, 3))[0])
        versions[-1] -= sum(versions) - n_rows
        people = [self._person(i + 1) for i in range(len(versions))]
        self._share(people, "mobile", 0.03, "duplicate_mobile_groups")
        self._share(people, "code", 0.01, "duplicate_code_groups")
        self.persons = [p["id"] for p in people]
        idd = 0
        rows = []
        for person, count in zip(people, versions):
            for version in range(count):
                idd += 1
                rows.append((idd, person, version == count - 1, version))
        # Versions are interleaved in time (IDD order), the latest of each person last among its own.
        for idd, (row_id, person, latest, version) in enumerate(sorted(rows, key=lambda r: (r[3], r[0])), start=1):
            yield "membership", self._member_row(idd, person, latest, version)

    def _person(self, pid):
        rng = self.rng
        mobile = None if rng.random() < 0.05 else "09" + "".join(rng.choices("0123456789", k=9))
        code = None if rng.random() < 0.10 else "".join(rng.choices("0123456789", k=10))
        last = rng.choice(LAST)
        if rng.random() < 0.002:
            mobile = "0912-abc"
        if rng.random() < 0.002:
            last = ""
        return {"id": pid, "first": rng.choice(FIRST), "last": last, "mobile": mobile, "old_mobile": mobile,
                "code": code, "gender": rng.choice((1, 2, None)), "org": rng.choice((1, 2, 3, None)),
                "job": rng.choice(JOBS), "born": date(1960, 1, 1) + timedelta(days=rng.randrange(16000)),
                "joined": self._moment()}

    def _share(self, people, field, share, counter):
        """Give about `share` of the persons the LATEST value of another person (different personVId)."""
        rng, groups = self.rng, 0
        for person in rng.sample(people, int(len(people) * share)):
            other = rng.choice(people)
            if other is not person and other[field] and not person.get("shared"):
                person[field] = other[field]
                person["shared"] = other["shared"] = True
                groups += 1
        setattr(self, counter, groups)

    def _member_row(self, idd, p, latest, version):
        mobile = p["mobile"] if latest else (p["old_mobile"] if version == 0 else p["mobile"])
        job = p["job"] if latest else self.rng.choice(JOBS)
        email = f"{p['first'].lower()}.{p['last'].lower() or 'x'}{p['id']}@example.com" if latest or version else None
        return (idd, p["id"], p["first"], p["last"], mobile, p["code"], p["gender"], p["org"],
                f"M-{p['id']:06d}", job, email, p["born"], p["joined"] + timedelta(days=30 * version))

    # --- services and invoices --------------------------------------------------------------
    def _services(self):
        rng = self.rng
        for idd in range(1, self.sizes[1] + 1):
            group = GROUPS[(idd - 1) % len(GROUPS)]
            yield "service", (idd, f"{group} {idd}", group, rng.randrange(5, 250) * 100000,
                              1 if group.startswith("Store") else 2, rng.random() > 0.05)

    def _customer(self):
        # Skewed: a few regulars buy a lot; about a third of the persons never buy at all.
        buyers = max(1, int(len(self.persons) * 0.66))
        return self.persons[int(buyers * self.rng.random() ** 2)]

    def _moment(self):
        day = self.today - timedelta(days=self.rng.randrange(SPAN_DAYS))
        return datetime(day.year, day.month, day.day, self.rng.randrange(7, 23), self.rng.randrange(60))

    def _price(self, service):
        return (service % 37 + 5) * 100000

    def _store_invoices(self):
        rng, item = self.rng, 0
        for idd in range(1, self.sizes[2] + 1):
            yield "invoiceHed", (idd, self._customer(), f"S-{idd:06d}", self._moment(),
                                 rng.choice((0, 0, 0, 50000)), rng.choice((0, 90000)), rng.choice((None, "Walk-in")))
            for _ in range(rng.randint(1, 5)):
                item += 1
                service = rng.randint(1, self.sizes[1])
                yield "invoiceItem", (item, idd, service, rng.randint(1, 4), self._price(service), rng.choice((0, 0, 10000)))

    def _service_invoices(self):
        rng = self.rng
        for idd in range(1, self.sizes[3] + 1):
            service = rng.randint(1, self.sizes[1])
            yield "ServiceInvoice", (idd, self._customer(), service, f"G-{idd:06d}", self._moment(), rng.randint(1, 3),
                                     self._price(service), rng.choice((0, 0, 20000)), rng.choice((0, 90000)))

    def _receipts(self):
        rng = self.rng
        for idd in range(1, self.sizes[4] + 1):
            yield "receipt", (idd, self._customer(), rng.randrange(1, 200) * 50000, self._moment(),
                              rng.choices((1, 2, 3, 4, 5), (20, 40, 5, 25, 10))[0], rng.choice((None, "Membership fee")))
