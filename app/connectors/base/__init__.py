"""What every connector shares: its declaration, source errors, and the sync shapes
(snapshot pulls, push ledgers, uploaded files, editable connections)."""
from .connector import ConfigKey, Connector, FakeSource, NavItem, SettingSpec
from .loading import (SourceError, analyze, bulk_insert, clear_staging, copy_csv, copy_expert, fetch_pages,
                      merge_staged)

__all__ = ["ConfigKey", "Connector", "FakeSource", "NavItem", "SettingSpec", "SourceError", "analyze", "bulk_insert",
           "clear_staging", "copy_csv", "copy_expert", "fetch_pages", "merge_staged"]
