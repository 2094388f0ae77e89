"""What each UISP object looks like on the wire, rendered from the compact dataset rows."""
import datetime as _dt

from . import data as D
from .data import (C_ACTIVE, C_ARCH, C_COMPANY, C_CREDIT, C_FIRST, C_GRACE, C_ID, C_LAST, C_REG, C_TYPE,
                   C_VIP, I_CLIENT, I_CREATED, I_DUE, I_ID, I_PAID, I_STATUS, I_TOTAL, P_AMOUNT, P_CLIENT,
                   P_COVERS, P_CREATED, P_CREDIT, P_EXTRA, P_ID, P_METHOD, S_CLIENT, S_FROM, S_ID, S_PLAN,
                   S_PRICE, S_STATUS, S_TO)
from .wire import money

ORG_NAME = "Syncdeck Demo ISP"


def render_client(ds, c):
    cid = c[C_ID]
    first, last = D.FIRST[c[C_FIRST]], D.LAST[c[C_LAST]]
    company = D.COMPANIES[c[C_COMPANY]] if c[C_COMPANY] >= 0 else None
    invs = ds.invoices_of(cid)
    outstanding = sum(i[I_TOTAL] - i[I_PAID] for i in invs if i[I_STATUS] in (1, 2))
    overdue = any(i[I_STATUS] in (1, 2) and i[I_DUE] < ds.anchor for i in invs)
    suspended = any(s[S_STATUS] == 3 for s in ds.services_of(cid))
    email = "%s.%s%d@example.com" % (first.lower(), last.lower().replace(" ", "").replace("'", ""), cid)
    contacts = [{"id": cid * 10 + 1, "clientId": cid, "email": email, "phone": "+27 82 %03d %04d" % (cid % 1000, cid % 10000),
                 "name": "%s %s" % (first, last), "isBilling": True, "isContact": True,
                 "types": [{"id": 1, "name": "Billing"}, {"id": 2, "name": "General"}]}]
    if company and cid % 2 == 0:
        contacts.append({"id": cid * 10 + 2, "clientId": cid, "email": "accounts%d@example.com" % cid, "phone": "",
                         "name": "Accounts", "isBilling": True, "isContact": False,
                         "types": [{"id": 1, "name": "Billing"}]})
    attrs = []
    if c[C_VIP]:
        attrs.append({"id": cid * 10 + 1, "clientId": cid, "customAttributeId": 1, "name": "VIP", "key": "vip",
                      "value": "1" if c[C_VIP] == 2 else "0", "clientZoneVisible": False})
    if c[C_GRACE]:
        attrs.append({"id": cid * 10 + 2, "clientId": cid, "customAttributeId": 2, "name": "Grace Payment Day",
                      "key": "gracePaymentDay", "value": str(c[C_GRACE]), "clientZoneVisible": False})
    credit = c[C_CREDIT]
    return {
        "id": cid, "userIdent": "ABC%d" % (1000 + cid), "previousIsp": None, "isLead": False,
        "clientType": c[C_TYPE], "companyName": company, "companyRegistrationNumber": None, "companyTaxId": None,
        "companyWebsite": None, "companyContactFirstName": first if company else None,
        "companyContactLastName": last if company else None, "firstName": first, "lastName": last,
        "street1": "%d Main Road" % (cid % 300 + 1), "street2": None, "city": "Cape Town", "countryId": 203,
        "stateId": None, "zipCode": "%04d" % (7000 + cid % 999),
        "fullAddress": "%d Main Road, Cape Town, South Africa" % (cid % 300 + 1),
        "invoiceAddressSameAsContact": True, "note": None, "sendInvoiceByPost": None, "invoiceMaturityDays": 14,
        "stopServiceDue": True, "stopServiceDueDays": 0, "organizationId": 1, "organizationName": ORG_NAME,
        "registrationDate": D.fmt_day(c[C_REG]), "username": email if c[C_ACTIVE] else None,
        "avatarColor": "#FFC107", "isActive": bool(c[C_ACTIVE]), "contacts": contacts, "attributes": attrs,
        "accountBalance": money(credit - outstanding), "accountCredit": money(credit),
        "accountOutstanding": money(outstanding), "currencyCode": "ZAR", "bankAccounts": [],
        "tags": [{"id": 1, "name": "VIP", "colorBackground": "#000000", "colorText": "#ffffff"}] if c[C_VIP] == 2 else [],
        "invitationEmailSentDate": None, "isArchived": bool(c[C_ARCH]), "usesProforma": False,
        "hasOverdueInvoice": overdue, "hasOutage": False, "hasSuspendedService": suspended,
        "hasServiceWithoutDevices": False, "leadConvertedAt": None, "hasPaymentSubscription": False,
        "hasAutopayCreditCard": False,
    }


def render_service(ds, s):
    name, plan_price = D.PLANS[s[S_PLAN]]
    periods = [{"id": p[0], "startDate": D.fmt_day(p[1]), "endDate": D.fmt_day(p[2])}
               for p in ds.periods.get(s[S_ID], [])]
    open_ = any(p[2] is None for p in ds.periods.get(s[S_ID], []))
    return {
        "id": s[S_ID], "servicePlanId": s[S_PLAN] + 1, "clientId": s[S_CLIENT], "status": s[S_STATUS],
        "prepaid": False, "servicePlanPeriodId": s[S_PLAN] * 10 + 1, "activeFrom": D.fmt_day(s[S_FROM]),
        "activeTo": D.fmt_day(s[S_TO]), "name": name, "price": money(s[S_PRICE]), "note": None,
        "invoicingStart": D.fmt_day(s[S_FROM]), "invoicingPeriodType": 2, "invoicingPeriodStartDay": 1,
        "contractLengthType": 1, "discountType": 0, "hasIndividualPrice": False,
        "totalPrice": money(round(s[S_PRICE] * 1.15)), "servicePlanName": name,
        "servicePlanPrice": money(plan_price), "servicePlanPeriod": 1, "servicePlanType": "Internet",
        "currencyCode": "ZAR", "hasOutage": False, "lastInvoicedDate": None, "attributes": [],
        "suspensionReasonId": 1 if open_ else None, "suspensionPeriods": periods, "surcharges": [],
    }


def render_invoice(ds, i):
    c = ds.clients[i[I_CLIENT] - 1]
    total, paid = i[I_TOTAL], i[I_PAID]
    return {
        "id": i[I_ID], "clientId": i[I_CLIENT],
        "number": "%d%06d" % (_dt.date.fromordinal(i[I_CREATED]).year, i[I_ID]),
        "createdDate": D.fmt_day(i[I_CREATED]), "emailSentDate": D.fmt_day(i[I_CREATED]), "maturityDays": 14,
        "notes": None, "adminNotes": None, "organizationName": ORG_NAME,
        "clientFirstName": D.FIRST[c[C_FIRST]], "clientLastName": D.LAST[c[C_LAST]],
        "clientCompanyName": D.COMPANIES[c[C_COMPANY]] if c[C_COMPANY] >= 0 else None,
        "proforma": i[I_STATUS] == 5, "payAutomatically": False,
        "dueDate": D.fmt_day(i[I_DUE]), "taxableSupplyDate": D.fmt_day(i[I_CREATED]),
        "items": [], "subtotal": money(total), "taxes": [], "total": money(total), "amountPaid": money(paid),
        "amountToPay": money(total - paid), "totalUntaxed": money(total), "totalDiscount": 0.0,
        "totalTaxAmount": 0.0, "currencyCode": "ZAR", "status": i[I_STATUS], "paymentCovers": [],
        "uncollectible": False, "proformaInvoiceId": None, "generatedInvoiceId": None, "attributes": [],
        "appliedVatReverseCharge": False,
    }


def render_payment(ds, p):
    extra = p[P_EXTRA] or {}
    return {
        "id": p[P_ID], "currencyCode": "ZAR", "receiptSentDate": None,
        "paymentCovers": [{"id": cv[0], "paymentId": p[P_ID], "creditNoteId": None, "invoiceId": cv[1],
                           "refundId": None, "amount": money(cv[2])} for cv in p[P_COVERS]],
        "creditAmount": money(p[P_CREDIT]), "attributes": [], "clientId": p[P_CLIENT],
        "methodId": D.METHODS[p[P_METHOD]], "checkNumber": extra.get("checkNumber"),
        "createdDate": D.fmt_epoch(p[P_CREATED]), "amount": money(p[P_AMOUNT]),
        "note": extra.get("note", "Payment %d" % p[P_ID]), "providerName": extra.get("providerName"),
        "providerPaymentId": extra.get("providerPaymentId"),
        "providerPaymentTime": extra.get("providerPaymentTime"), "userId": extra.get("userId"),
    }


# ------------------------------------------------------------------------ app
