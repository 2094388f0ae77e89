"""The legacy club database's `dbo` tables as the customer has them: no foreign keys, no tracking columns."""
from sqlalchemy import (Boolean, Column, Date, DateTime, Index, Integer, MetaData, Numeric, String, Table, Unicode)

metadata = MetaData(schema="dbo")


def _money(name):
    return Column(name, Numeric(18, 0))


membership = Table(
    "membership", metadata, Column("IDD", Integer, primary_key=True, autoincrement=False),
    Column("personVId", Integer, nullable=False), Column("firstName", Unicode(100)), Column("lastName", Unicode(100)),
    Column("mobile", String(20)), Column("CodeMelli", String(10)), Column("gender", Integer),
    Column("organizationId", Integer), Column("membershipCode", String(20)), Column("jobTitle", Unicode(100)),
    Column("email", String(200)), Column("birthDate", Date), Column("createdAt", DateTime),
    Index("ix_membership_person", "personVId"), Index("ix_membership_mobile", "mobile"),
    Index("ix_membership_code", "CodeMelli"))
service = Table(
    "service", metadata, Column("IDD", Integer, primary_key=True, autoincrement=False), Column("title", Unicode(200)),
    Column("serviceGroup", Unicode(100)), _money("price"), Column("serviceType", Integer), Column("isActive", Boolean))
invoice_hed = Table(
    "invoiceHed", metadata, Column("IDD", Integer, primary_key=True, autoincrement=False), Column("personVId", Integer),
    Column("invoiceNo", String(30), unique=True), Column("invoiceDate", DateTime), _money("discount"), _money("tax"),
    Column("description", Unicode(400)), Index("ix_invoicehed_person", "personVId"))
invoice_item = Table(
    "invoiceItem", metadata, Column("IDD", Integer, primary_key=True, autoincrement=False),
    Column("invoiceHedId", Integer), Column("serviceId", Integer), Column("quantity", Integer), _money("unitPrice"),
    _money("discount"), Index("ix_invoiceitem_head", "invoiceHedId"))
service_invoice = Table(
    "ServiceInvoice", metadata, Column("IDD", Integer, primary_key=True, autoincrement=False),
    Column("personVId", Integer), Column("serviceId", Integer), Column("invoiceNo", String(30), unique=True),
    Column("invoiceDate", DateTime), Column("quantity", Integer), _money("unitPrice"), _money("discount"),
    _money("tax"), Index("ix_serviceinvoice_person", "personVId"))
receipt = Table(
    "receipt", metadata, Column("IDD", Integer, primary_key=True, autoincrement=False), Column("personVId", Integer),
    _money("amount"), Column("receiptDate", DateTime), Column("modeldaryaft", Integer),
    Column("description", Unicode(400)), Index("ix_receipt_person", "personVId"))
