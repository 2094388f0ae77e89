"""Export a batch's details as CSV (streamed) or XLSX (built on disk), both at constant memory."""
import os
import tempfile

import xlsxwriter
from flask import send_file

from ...exports import csv_response
from ...extensions import db
from .models import BillStopDetail
from .queries import details_query

CHUNK = 2000
HEADER = ["CPC customer no", "Legacy no", "Customer name", "CRP account no", "Address", "Last bill date",
          "Billing status", "Current balance"]
_d = BillStopDetail
COLUMNS = [_d.cpc_customer_no, _d.legacy_no, _d.customer_name, _d.crp_account_no, _d.address,
           _d.last_bill_date, _d.billing_status, _d.current_balance]
WIDTHS = [16, 14, 30, 16, 40, 14, 15, 16]
# Excel's limit is 1,048,576 rows a sheet; the header takes one, so more details spill onto a next sheet.
SHEET_ROWS = 1_048_575
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filename(batch, extension):
    return f"bill-stop-details-{batch.batch_date.isoformat()}.{extension}"


def _csv_row(row):
    """Plain ISO dates and two-decimal balances, which spreadsheets and scripts read back unchanged."""
    cpc, legacy, name, crp, address, last_bill, status, balance = row
    return [cpc, legacy or "", name or "", crp, address or "", last_bill.isoformat() if last_bill else "",
            status, f"{balance:.2f}"]


def csv_export(batch, filters):
    """A streamed CSV of the batch's details matching the filters (same order as the page)."""
    query = details_query(batch.id, filters, COLUMNS)
    return csv_response(query, HEADER, _csv_row, _filename(batch, "csv"), batch=CHUNK)


def xlsx_export(batch, filters):
    """An XLSX of the batch's details matching the filters, written row by row to a temporary file."""
    fd, path = tempfile.mkstemp(prefix="bill-stops-", suffix=".xlsx")
    os.close(fd)
    try:
        _write_workbook(path, details_query(batch.id, filters, COLUMNS))
        handle = open(path, "rb")
    finally:
        # Unlinked now: the open handle keeps the bytes until send_file closes it; nothing is left on disk.
        os.unlink(path)
    return send_file(handle, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=_filename(batch, "xlsx"))


def _write_workbook(path, query):
    # Text from CC&B is written as text: never as a formula or a link, whatever it starts with.
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False,
                                          "default_date_format": "yyyy-mm-dd"})
    try:
        formats = {"money": workbook.add_format({"num_format": "#,##0.00"}),
                   "bold": workbook.add_format({"bold": True})}
        sheet, row_no = _new_sheet(workbook, 1, formats), 0
        result = db.session.execute(query.execution_options(yield_per=CHUNK))
        for rows in result.partitions():
            for row in rows:
                if row_no == SHEET_ROWS:
                    sheet, row_no = _new_sheet(workbook, len(workbook.worksheets()) + 1, formats), 0
                row_no += 1
                sheet.write_row(row_no, 0, row)
    finally:
        workbook.close()


def _new_sheet(workbook, number, formats):
    """A details sheet with its header row frozen; the balance column formatted as money."""
    sheet = workbook.add_worksheet("Details" if number == 1 else f"Details {number}")
    for col, width in enumerate(WIDTHS):
        sheet.set_column(col, col, width, formats["money"] if col == len(WIDTHS) - 1 else None)
    sheet.write_row(0, 0, HEADER, formats["bold"])
    sheet.freeze_panes(1, 0)
    return sheet
