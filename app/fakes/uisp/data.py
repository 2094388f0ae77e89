"""Deterministic, compact generated dataset for the fake UISP CRM.

Records are small mutable lists (indexes below) and are rendered to UISP JSON only on output.
Dates are day ordinals (date.toordinal()), payment times are epoch seconds, money is integer cents.
"""
import datetime as _dt
import random
import time

# client record indexes
C_ID, C_FIRST, C_LAST, C_COMPANY, C_TYPE, C_ARCH, C_REG, C_VIP, C_GRACE, C_CREDIT, C_ACTIVE = range(11)
# service record indexes
S_ID, S_CLIENT, S_STATUS, S_PLAN, S_PRICE, S_FROM, S_TO = range(7)
# invoice record indexes
I_ID, I_CLIENT, I_CREATED, I_DUE, I_TOTAL, I_PAID, I_STATUS = range(7)
# payment record indexes
P_ID, P_CLIENT, P_CREATED, P_AMOUNT, P_METHOD, P_COVERS, P_CREDIT, P_EXTRA = range(8)

FIRST = ["John", "Jane", "Peter", "Mary", "Thabo", "Lerato", "Sipho", "Anna", "David", "Sarah", "Michael",
         "Nomsa", "James", "Linda", "Pieter", "Zanele", "Robert", "Emma", "Ahmed", "Fatima", "Carlos", "Maria",
         "Kevin", "Grace", "Tom", "Olivia", "Andile", "Chloe", "Liam", "Noah"]
LAST = ["Doe", "Smith", "Nkosi", "van der Merwe", "Botha", "Dlamini", "Naidoo", "Jacobs", "Williams",
        "Brown", "Mokoena", "Khumalo", "Pretorius", "Jones", "Taylor", "Ndlovu", "Fourie", "Meyer",
        "Steyn", "Adams", "Garcia", "Müller", "O'Brien", "Sithole", "Mahlangu", "Coetzee", "Lee", "Patel"]
COMPANIES = ["Acme Ltd", "Orchard Farms", "Blue Sky Lodge", "Riverside Clinic", "Summit Logistics",
             "Karoo Traders", "Harbour Café", "Pinecrest School", "Northwind Motors", "Sunrise Bakery"]
PLANS = [("Mini 10", 2900), ("Basic 20", 3999), ("Maxi 50", 5850), ("Ultra 100", 8999),
         ("Business 200", 14900), ("Static IP", 1000)]
METHODS = ["6efe0fa8-36b2-4dd1-b049-427bffc7d369",   # Cash
           "4145b5f5-3bbc-45e3-8fc5-9cda970c62fb",   # Bank transfer
           "1dd098fa-5d63-4c8d-88b7-3c27ffbbb6ae",   # Check
           "d8c1eae9-d41d-479f-aeaf-38497975d7b3"]   # Custom
STATUS_WEIGHTS = [(1, 0.86), (0, 0.02), (2, 0.03), (4, 0.01), (5, 0.01), (6, 0.02), (7, 0.02), (8, 0.03)]

EPOCH_ORD = _dt.date(1970, 1, 1).toordinal()


def fmt_day(ordinal):
    if ordinal is None:
        return None
    return _dt.date.fromordinal(ordinal).strftime("%Y-%m-%dT00:00:00+0000")


def fmt_epoch(ts):
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


def month_start_back(anchor, months):
    y, m = anchor.year, anchor.month - months
    while m <= 0:
        m += 12
        y -= 1
    return _dt.date(y, m, 1)


class Dataset:
    """All records plus per-client indexes. Mutations go through the server under its lock."""

    def __init__(self, n_clients, seed=1, today=None):
        self.n_clients = n_clients
        self.seed = seed
        self.today = today or _dt.datetime.utcnow().date()
        self.anchor = self.today.toordinal()
        self.clients = []
        self.services = []
        self.invoices = []
        self.payments = []
        self.client_services = []   # cid-1 -> (start, end) into services
        self.client_invoices = []   # cid-1 -> (start, end) into invoices
        self.client_payments = []   # cid-1 -> list of live payment ids (generated ones are contiguous)
        self.api_payments = []      # ids of payments created through POST /payments, in order
        self.deleted_payments = []  # ids deleted through DELETE /payments/<id>, in order (tombstones)
        self.by_provider_id = {}    # providerPaymentId -> list of payment ids (live or not; readers check)
        self.live_payments = 0      # payments not deleted
        self.periods = {}           # service id -> list of [period_id, start_ord, end_ord|None]
        self.next_period_id = 1
        self.next_cover_id = 1
        self.version = 0            # bumped on every mutation (invalidates list caches)
        self._generate()

    # ---------------------------------------------------------------- generation
    def _generate(self):
        rng = random.Random(self.seed)
        r = rng.random
        anchor = self.anchor
        today = self.today
        for cid in range(1, self.n_clients + 1):
            ctype = 2 if r() < 0.10 else 1
            first = rng.randrange(len(FIRST))
            last = rng.randrange(len(LAST))
            company = rng.randrange(len(COMPANIES)) if ctype == 2 else -1
            archived = r() < 0.03
            x = r()
            vip = 2 if x < 0.05 else (1 if x < 0.35 else 0)   # 0 = no attribute, 1 = "0", 2 = "1"
            grace = rng.randint(1, 28) if r() < 0.20 else 0
            reg = anchor - rng.randint(400, 6 * 365)
            delinquent = (not archived) and r() < 0.15
            credit = rng.randint(100, 5000) if (not delinquent and r() < 0.05) else 0
            active = r() < 0.8
            lateness = r()   # tendency to pay late
            self.clients.append([cid, first, last, company, ctype, archived, reg, vip, grace, 0, active])

            # services
            s_start = len(self.services)
            monthly = 0
            for _ in range(1 + (r() < 0.5)):
                sid = len(self.services) + 1
                plan = rng.randrange(len(PLANS))
                price = PLANS[plan][1]
                if archived:
                    status = 2
                elif delinquent and r() < 0.6:
                    status = 3
                else:
                    y, acc, status = r(), 0.0, 1
                    for st, w in STATUS_WEIGHTS:
                        acc += w
                        if y < acc:
                            status = st
                            break
                a_from = reg + rng.randint(0, 30)
                a_to = anchor - rng.randint(1, 300) if status in (2, 5) else None
                if status in (0, 4, 6, 7):
                    a_from = anchor + rng.randint(1, 30)
                self.services.append([sid, cid, status, plan, price, a_from, a_to])
                if status == 3:
                    self._add_period(sid, anchor - rng.randint(1, 60), None)
                elif status == 1 and r() < 0.10:
                    st = anchor - rng.randint(90, 300)
                    self._add_period(sid, st, st + rng.randint(3, 30))
                if status in (1, 3):
                    monthly += price
            self.client_services.append((s_start, len(self.services)))
            if monthly == 0:
                monthly = PLANS[self.services[-1][S_PLAN]][1]

            # invoices (one per month, oldest first) and the payments that covered them
            i_start = len(self.invoices)
            pay_ids = []
            n_inv = rng.randint(8, 16)
            n_unpaid = rng.randint(1, 3) if delinquent else 0
            for k in range(n_inv, 0, -1):
                iid = len(self.invoices) + 1
                created = month_start_back(today, k - 1).toordinal() + rng.randint(0, 2)
                if created > anchor:
                    created = anchor
                due = created + 14
                total = monthly + (rng.randint(0, 1500) if r() < 0.1 else 0)
                status, paid = 3, total
                if k <= n_unpaid:
                    if r() < 0.3:
                        status, paid = 2, rng.randint(1, total - 1)
                    else:
                        status, paid = 1, 0
                    if due >= anchor:   # delinquent clients' unpaid invoices must be overdue
                        created, due = created - 31, created - 17
                elif k == 1 and due >= anchor and not archived and r() < 0.5:
                    status, paid = 1, 0            # current invoice, not yet due
                elif r() < 0.02:
                    status, paid = 4, 0            # void
                elif k == 1 and r() < 0.01:
                    status, paid = 0, 0            # draft
                elif r() < 0.01:
                    status, paid = 5, 0            # processed proforma
                self.invoices.append([iid, cid, created, due, total, paid, status])
                if paid > 0:
                    delay = rng.randint(15, 45) if r() < lateness * 0.4 else rng.randint(0, 13)
                    day = min(created + delay, anchor)
                    ts = (day - EPOCH_ORD) * 86400 + rng.randrange(8 * 3600, 18 * 3600)
                    pid = len(self.payments) + 1
                    self.payments.append([pid, cid, ts, paid, rng.randrange(3), ((pid, iid, paid),), 0, None])
                    pay_ids.append(pid)
            if credit:
                pid = len(self.payments) + 1
                ts = (anchor - rng.randint(1, 60) - EPOCH_ORD) * 86400 + 43200
                self.payments.append([pid, cid, ts, credit, rng.randrange(3), (), credit, None])
                pay_ids.append(pid)
                self.clients[-1][C_CREDIT] = credit
            self.client_invoices.append((i_start, len(self.invoices)))
            self.client_payments.append(pay_ids)
        self.next_cover_id = len(self.payments) + 1
        self.live_payments = len(self.payments)
        self._ensure_all_service_statuses()

    def _add_period(self, sid, start, end):
        self.periods.setdefault(sid, []).append([self.next_period_id, start, end])
        self.next_period_id += 1

    def _ensure_all_service_statuses(self):
        """Small datasets might miss a rare status; force each 0..8 onto some non-archived client's service."""
        present = {s[S_STATUS] for s in self.services}
        n = len(self.services)
        used = set()
        for st in range(9):
            if st in present or n == 0:
                continue
            i = (st * 7919) % n
            while i in used or self.clients[self.services[i][S_CLIENT] - 1][C_ARCH] or self.services[i][S_STATUS] == 3:
                i = (i + 1) % n
            used.add(i)
            svc = self.services[i]
            svc[S_STATUS] = st
            if st == 3:
                self._add_period(svc[S_ID], self.anchor - 10, None)
            if st in (2, 5):
                svc[S_TO] = self.anchor - 5

    # ---------------------------------------------------------------- lookups
    def client(self, cid):
        return self.clients[cid - 1] if 1 <= cid <= len(self.clients) else None

    def service(self, sid):
        return self.services[sid - 1] if 1 <= sid <= len(self.services) else None

    def invoice(self, iid):
        return self.invoices[iid - 1] if 1 <= iid <= len(self.invoices) else None

    def payment(self, pid):
        """The live payment with this id, or None (unknown, or deleted: ds.payments keeps None tombstones)."""
        return self.payments[pid - 1] if 1 <= pid <= len(self.payments) else None

    def live(self):
        """Every payment not deleted, in id order."""
        return [p for p in self.payments if p is not None]

    def services_of(self, cid):
        a, b = self.client_services[cid - 1]
        return self.services[a:b]

    def invoices_of(self, cid):
        a, b = self.client_invoices[cid - 1]
        return self.invoices[a:b]

    def payments_of(self, cid):
        return [p for p in (self.payments[i - 1] for i in self.client_payments[cid - 1]) if p is not None]

    def payments_by_provider_id(self, provider_payment_id):
        return [p for p in (self.payments[i - 1] for i in self.by_provider_id.get(provider_payment_id, ()))
                if p is not None]

    def plan_covers(self, cid, amount_c, invoice_ids=None, apply=True):
        """[(invoice, cents)] that a payment of amount_c would cover, oldest open invoice first; mutates nothing."""
        plan = []
        rest = amount_c
        if cid is not None and apply and rest > 0:
            cands = [i for i in self.invoices_of(cid) if i[I_STATUS] in (1, 2)]
            if invoice_ids:
                wanted = set(invoice_ids)
                cands = [i for i in cands if i[I_ID] in wanted]
            cands.sort(key=lambda i: (i[I_CREATED], i[I_ID]))
            for inv in cands:
                if rest <= 0:
                    break
                take = min(rest, inv[I_TOTAL] - inv[I_PAID])
                if take > 0:
                    plan.append((inv, take))
                    rest -= take
        return plan

    # ---------------------------------------------------------------- mutations
    def suspend(self, svc, day=None):
        svc[S_STATUS] = 3
        open_ = [p for p in self.periods.get(svc[S_ID], []) if p[2] is None]
        if not open_:
            self._add_period(svc[S_ID], day or self.anchor, None)
        self.version += 1

    def cancel_suspend(self, svc):
        svc[S_STATUS] = 1
        for p in self.periods.get(svc[S_ID], []):
            if p[2] is None:
                p[2] = max(_dt.datetime.utcnow().date().toordinal(), p[1])
        self.version += 1

    def add_payment(self, cid, amount_c, ts, method, extra, invoice_ids=None, apply=True, via_api=False):
        pid = len(self.payments) + 1
        covers = []
        rest = amount_c
        for inv, take in self.plan_covers(cid, amount_c, invoice_ids, apply):
            inv[I_PAID] += take
            inv[I_STATUS] = invoice_status(inv)
            covers.append((self.next_cover_id, inv[I_ID], take))
            self.next_cover_id += 1
            rest -= take
        credit = rest if cid is not None else 0
        if cid is not None and credit:
            self.clients[cid - 1][C_CREDIT] += credit
        self.payments.append([pid, cid, ts, amount_c, method, tuple(covers), credit, extra])
        self.live_payments += 1
        if cid is not None:
            self.client_payments[cid - 1].append(pid)
        provider_id = (extra or {}).get("providerPaymentId")
        if provider_id is not None:
            self.by_provider_id.setdefault(str(provider_id), []).append(pid)
        if via_api:
            self.api_payments.append(pid)
        self.version += 1
        return self.payments[-1]

    def delete_payment(self, pid):
        """Remove a payment and undo it: covers back off their invoices, its credit off the client.

        Returns the removed record, or None when the id is unknown or already deleted. The slot stays as a
        None tombstone so that every other payment keeps its id (ds.payments is indexed by id - 1)."""
        p = self.payment(pid)
        if p is None:
            return None
        for _cover_id, iid, take in p[P_COVERS]:
            inv = self.invoice(iid)
            if inv is None:
                continue
            inv[I_PAID] = max(0, inv[I_PAID] - take)
            if inv[I_STATUS] in (1, 2, 3):
                inv[I_STATUS] = invoice_status(inv)
        cid = p[P_CLIENT]
        if cid is not None:
            if p[P_CREDIT]:
                self.clients[cid - 1][C_CREDIT] -= p[P_CREDIT]
            ids = self.client_payments[cid - 1]
            # Newest first: the payments a test or a bank posting deletes are usually the ones it just made.
            for k in range(len(ids) - 1, -1, -1):
                if ids[k] == pid:
                    del ids[k]
                    break
        self.payments[pid - 1] = None
        self.deleted_payments.append(pid)
        self.live_payments -= 1
        self.version += 1
        return p


def invoice_status(inv):
    """An issued invoice's status from its amounts: 3 paid, 2 partially paid, 1 unpaid."""
    if inv[I_PAID] >= inv[I_TOTAL]:
        return 3
    return 2 if inv[I_PAID] > 0 else 1
