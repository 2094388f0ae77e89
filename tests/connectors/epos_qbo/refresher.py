"""A child process for test_concurrency_pg: `python -m tests.connectors.epos_qbo.refresher COMPANY N`
forces N renewals of the company's access token (as a run does after a 401), exiting 1 on any failure."""
import sys

from app import create_app
from app.connectors.base.connections import get_connection, read_secrets
from app.connectors.epos_qbo.tokens import TokenKeeper
from app.extensions import db


def main(company, times):
    app = create_app()
    with app.app_context():
        conn = get_connection("epos_qbo", company)
        conn_id, label = conn.id, conn.label
        db.session.rollback()
        for _ in range(times):
            keeper = TokenKeeper(conn_id, label, app.config["QBO_TOKEN_URL"], app.config["QBO_CLIENT_ID"],
                                 app.config["QBO_CLIENT_SECRET"])
            stale = read_secrets(get_connection("epos_qbo", company))["qbo_access_token"]
            db.session.rollback()
            keeper.renewed(stale)  # raises QboAuthError if it refreshed with a spent refresh token
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
