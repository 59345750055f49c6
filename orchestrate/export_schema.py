"""The GA4 BigQuery export's daily / intraday table schema, declared once.

From Google's "[GA4] BigQuery Export schema" (shared/design/ga4_export_schema.md), in the
2020-21 public sample's column and field order, with the newer columns appended. The
generator writes its shards with it (`demo_data`); the offline BigQuery proof resolves the
`events_*` wildcard table with it (`bigquery.catalog`, through `bigquery_type_text`).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["EXPORT_SCHEMA", "NEWER_COLUMNS", "bigquery_type_text", "export_columns"]

_STR = pa.string()
_INT = pa.int64()
_FLOAT = pa.float64()
_BOOL = pa.bool_()


def _record(*fields: tuple[str, pa.DataType]) -> pa.StructType:
    return pa.struct([pa.field(name, dtype) for name, dtype in fields])


def _strings(*names: str) -> pa.StructType:
    return _record(*((name, _STR) for name in names))


def _repeated(record: pa.StructType) -> pa.ListType:
    # BigQuery REPEATED RECORD: a list whose elements are never null (as in Google's Parquet).
    return pa.list_(pa.field("element", record, nullable=False))


_PARAM_VALUE = _record(
    ("string_value", _STR), ("int_value", _INT), ("float_value", _FLOAT), ("double_value", _FLOAT)
)
_PARAMS = _repeated(_record(("key", _STR), ("value", _PARAM_VALUE)))
_ITEM = _record(
    *((name, _STR) for name in ("item_id", "item_name", "item_brand", "item_variant")),
    *((f"item_category{s}", _STR) for s in ("", "2", "3", "4", "5")),
    ("price_in_usd", _FLOAT),
    ("price", _FLOAT),
    ("quantity", _INT),
    ("item_revenue_in_usd", _FLOAT),
    ("item_revenue", _FLOAT),
    ("item_refund_in_usd", _FLOAT),
    ("item_refund", _FLOAT),
    *(
        (name, _STR)
        for name in (
            "coupon",
            "affiliation",
            "location_id",
            "item_list_id",
            "item_list_name",
            "item_list_index",
            "promotion_id",
            "promotion_name",
            "creative_name",
            "creative_slot",
        )
    ),
    ("item_params", _PARAMS),
)
_LAST_CLICK = _record(
    (
        "manual_campaign",
        _strings(
            "campaign_id",
            "campaign_name",
            "source",
            "medium",
            "term",
            "content",
            "source_platform",
            "creative_format",
            "marketing_tactic",
        ),
    ),
    (
        "google_ads_campaign",
        _strings(
            "customer_id",
            "account_name",
            "campaign_id",
            "campaign_name",
            "ad_group_id",
            "ad_group_name",
        ),
    ),
    (
        "cross_channel_campaign",
        _strings(
            "campaign_id",
            "campaign_name",
            "source",
            "medium",
            "source_platform",
            "default_channel_group",
            "primary_channel_group",
        ),
    ),
    (
        "sa360_campaign",
        _strings(
            "campaign_id",
            "campaign_name",
            "source",
            "medium",
            "ad_group_id",
            "ad_group_name",
            "creative_format",
            "engine_account_name",
            "engine_account_type",
            "manager_account_name",
        ),
    ),
    (
        "cm360_campaign",
        _strings(
            "campaign_id",
            "campaign_name",
            "source",
            "medium",
            "account_id",
            "account_name",
            "advertiser_id",
            "advertiser_name",
            "creative_id",
            "creative_format",
            "creative_name",
            "creative_type",
            "creative_type_id",
            "creative_version",
            "placement_id",
            "placement_cost_structure",
            "placement_name",
            "rendering_id",
            "site_id",
            "site_name",
        ),
    ),
    (
        "dv360_campaign",
        _strings(
            "campaign_id",
            "campaign_name",
            "source",
            "medium",
            "advertiser_id",
            "advertiser_name",
            "creative_id",
            "creative_format",
            "creative_name",
            "exchange_id",
            "exchange_name",
            "insertion_order_id",
            "insertion_order_name",
            "line_item_id",
            "line_item_name",
            "partner_id",
            "partner_name",
        ),
    ),
)

EXPORT_SCHEMA: pa.Schema = pa.schema(
    [
        ("event_date", _STR),
        ("event_timestamp", _INT),
        ("event_name", _STR),
        ("event_params", _PARAMS),
        ("event_previous_timestamp", _INT),
        ("event_value_in_usd", _FLOAT),
        ("event_bundle_sequence_id", _INT),
        ("event_server_timestamp_offset", _INT),
        ("user_id", _STR),
        ("user_pseudo_id", _STR),
        ("privacy_info", _strings("analytics_storage", "ads_storage", "uses_transient_token")),
        (
            "user_properties",
            _repeated(
                _record(
                    ("key", _STR),
                    (
                        "value",
                        _record(
                            ("string_value", _STR),
                            ("int_value", _INT),
                            ("float_value", _FLOAT),
                            ("double_value", _FLOAT),
                            ("set_timestamp_micros", _INT),
                        ),
                    ),
                )
            ),
        ),
        ("user_first_touch_timestamp", _INT),
        ("user_ltv", _record(("revenue", _FLOAT), ("currency", _STR))),
        (
            "device",
            _record(
                *(
                    (name, _STR)
                    for name in (
                        "category",
                        "mobile_brand_name",
                        "mobile_model_name",
                        "mobile_marketing_name",
                        "mobile_os_hardware_model",
                        "operating_system",
                        "operating_system_version",
                        "vendor_id",
                        "advertising_id",
                        "language",
                        "is_limited_ad_tracking",
                    )
                ),
                ("time_zone_offset_seconds", _INT),
                ("browser", _STR),
                ("browser_version", _STR),
                ("web_info", _strings("browser", "browser_version", "hostname")),
            ),
        ),
        ("geo", _strings("continent", "sub_continent", "country", "region", "city", "metro")),
        (
            "app_info",
            _strings("id", "version", "install_store", "firebase_app_id", "install_source"),
        ),
        ("traffic_source", _strings("medium", "name", "source")),
        ("stream_id", _STR),
        ("platform", _STR),
        ("event_dimensions", _strings("hostname")),
        (
            "ecommerce",
            _record(
                ("total_item_quantity", _INT),
                ("purchase_revenue_in_usd", _FLOAT),
                ("purchase_revenue", _FLOAT),
                ("refund_value_in_usd", _FLOAT),
                ("refund_value", _FLOAT),
                ("shipping_value_in_usd", _FLOAT),
                ("shipping_value", _FLOAT),
                ("tax_value_in_usd", _FLOAT),
                ("tax_value", _FLOAT),
                ("unique_items", _INT),
                ("transaction_id", _STR),
            ),
        ),
        ("items", _repeated(_ITEM)),
        (
            "collected_traffic_source",
            _strings(
                "manual_campaign_id",
                "manual_campaign_name",
                "manual_source",
                "manual_medium",
                "manual_term",
                "manual_content",
                "manual_source_platform",
                "manual_creative_format",
                "manual_marketing_tactic",
                "gclid",
                "dclid",
                "srsltid",
            ),
        ),
        ("is_active_user", _BOOL),
        ("batch_event_index", _INT),
        ("batch_page_id", _INT),
        ("batch_ordering_id", _INT),
        ("session_traffic_source_last_click", _LAST_CLICK),
        (
            "publisher",
            _record(
                ("ad_revenue_in_usd", _FLOAT),
                ("ad_format", _STR),
                ("ad_source_name", _STR),
                ("ad_unit_id", _STR),
            ),
        ),
    ]
)
"""Arrow schema of every written shard (BigQuery types: STRING→string, INTEGER→int64,
FLOAT→float64, BOOLEAN→bool, RECORD→struct, REPEATED RECORD→list<struct>)."""


# Columns of newer exports (2023 on) that the 2020-21 sample export does not have.
NEWER_COLUMNS = (
    "collected_traffic_source",
    "is_active_user",
    "batch_event_index",
    "batch_page_id",
    "batch_ordering_id",
    "session_traffic_source_last_click",
    "publisher",
)


def export_columns(*, newer_columns: bool = True) -> pa.Schema:
    """The export's columns; without the newer columns it is the 2020-21 vintage (the public
    sample's columns 1-23)."""
    if newer_columns:
        return EXPORT_SCHEMA
    return pa.schema([f for f in EXPORT_SCHEMA if f.name not in NEWER_COLUMNS])


_BIGQUERY_SCALARS = {
    pa.string(): "STRING",
    pa.int64(): "INT64",
    pa.float64(): "FLOAT64",
    pa.bool_(): "BOOL",
}


def bigquery_type_text(dtype: pa.DataType) -> str:
    """BigQuery type text of an Arrow type of the schema (a list is a REPEATED field, a struct
    a RECORD)."""
    if pa.types.is_struct(dtype):
        return f"STRUCT<{', '.join(f'{f.name} {bigquery_type_text(f.type)}' for f in dtype)}>"
    if pa.types.is_list(dtype):
        return f"ARRAY<{bigquery_type_text(dtype.value_type)}>"
    try:
        return _BIGQUERY_SCALARS[dtype]
    except KeyError:
        raise ValueError(f"no BigQuery type for the export schema's Arrow type {dtype}") from None
