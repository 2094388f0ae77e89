"""The Overview page and its data panels."""
from flask import Blueprint, render_template

from . import overview as numbers
from .. import settings
from ..runs.freshness import job_freshness

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def overview():
    values = settings.get_many()
    return render_template("dashboard/overview.html", kpis=numbers.kpis(values), cards=numbers.job_cards(values),
                           events=numbers.recent_events(), attention=numbers.needing_attention(),
                           freshness=job_freshness())


@bp.get("/overview/panels")
def overview_panels():
    """The Overview's data area alone, re-fetched by the page after runs finish."""
    values = settings.get_many()
    return render_template("dashboard/_overview_panels.html", kpis=numbers.kpis(values),
                           cards=numbers.job_cards(values), events=numbers.recent_events(),
                           attention=numbers.needing_attention(), freshness=job_freshness())
