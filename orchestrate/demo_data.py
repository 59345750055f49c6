"""Deterministic synthetic GA4 BigQuery export ("events_*" shards) for Random Truffle.

`generate_export` writes what a GA4 property linked to BigQuery would export for a small
e-commerce business (a web site and an Android/iOS app), one shard per day, plus a
``manifest.json`` holding the ground truth, computed while generating (never by reading the
files back).

Files (nothing else is written; stale ``events_*`` files in the directory are removed):

* ``events_YYYYMMDD.parquet``: one daily table per day, with `EXPORT_SCHEMA` (the full current
  column set, newer columns after ``items``);
* ``events_YYYYMMDD.json`` instead, for the ``json_days`` oldest days: BigQuery
  newline-delimited JSON (INT64 as strings, FLOAT as numbers, nulls as null);
* ``events_intraday_YYYYMMDD.parquet`` for the ``intraday_days`` newest days: the first
  60-80% (by time) of that day's events, the same rows as in the daily table except that
  ``traffic_source``, ``user_ltv`` and ``is_active_user`` are null (the daily table exists too);
* ``manifest.json``.

Streams: web ``WEB_STREAM_ID`` (platform 'WEB', ``device.web_info`` set, ``app_info`` null,
``page_view``, ``first_visit``, page_location/page_title/page_referrer params) and app
``APP_STREAM_ID`` (platforms 'ANDROID' and 'IOS', ``app_info`` set, ``web_info`` null,
``screen_view``, ``first_open``, firebase_screen/firebase_screen_class params).

How the data exercises each modelling pitfall (design/ga4_pitfalls.md):

1. ``ga_session_id`` is the unix-seconds session start, so different devices share values
   (some pairs are forced); ~1% of the ``ga_session_id`` params are ``string_value`` instead of
   ``int_value``.
2. Duplicates: ~1% of the rows of each daily table are written twice, identically (SDK
   retries), and the intraday shards repeat daily rows.
3. Sessions cross local midnight: their events are in two daily tables.
4. Late data: intraday shards coexist with their daily tables.
5. ``session_engaged`` is ``string_value`` '0'/'1' on web and ``int_value`` 1 on apps.
6. ``traffic_source`` is the device's first touch; the session source is in the
   ``source``/``medium``/``campaign``/``gclid`` params of the session's first events, in
   ``collected_traffic_source`` (same events) and in ``session_traffic_source_last_click``
   (every event of a session with a known source, null on the oldest half of the days: a
   column not populated yet). ``gclid`` alone (no source/medium) means google / cpc.
7. ``is_active_user`` is set on daily rows only.
8. Consent mode: ~3% of the events come from visitors with ``analytics_storage`` = 'No' (no
   ``user_pseudo_id``, no session params, no ``user_id``); ~15% of the devices have
   ``ads_storage`` = 'No'.
9. ``event_date`` is the local date in ``GeneratorConfig.time_zone``; ``event_timestamp`` is
   UTC microseconds.
10. ~10% of the purchases are resent (a reload sends ``purchase`` again, same
    ``transaction_id``, later timestamp, same session); a few have ``transaction_id``
    '(not set)'.
11. Purchases in USD, MXN and COP: the ``currency`` param and ``ecommerce.purchase_revenue``
    are local, ``*_in_usd`` use `RATES_USD_PER_UNIT`; ``event_value_in_usd`` is also set on
    add_to_cart and the checkout steps, so it is not revenue.
12. Noise: ``debug_mode`` = 1 on every event of ~5% of the devices.
13. Stitching: ~20% of the devices log in (``login`` event) in a later session and carry
    ``user_id`` from then on; their earlier sessions are anonymous; a few user ids use two
    devices; a few returning devices carry ``user_id`` from their first event.

Everything is derived from one ``random.Random(seed)``: the same config gives byte-identical
files (with the same pyarrow version). Days are generated one at a time (only the current
and the next day are in memory); Arrow tables are built column-wise in chunks.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import gc
import json
import pathlib
import random
import zoneinfo
from array import array
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrate.export_schema import EXPORT_SCHEMA

__all__ = [
    "APP_STREAM_ID",
    "RATES_USD_PER_UNIT",
    "USD_PER_COP",
    "USD_PER_MXN",
    "WEB_HOSTNAME",
    "WEB_STREAM_ID",
    "GeneratorConfig",
    "generate_export",
]

WEB_STREAM_ID = "1234567890"
"""stream_id of the web data stream (platform 'WEB')."""
APP_STREAM_ID = "9876543210"
"""stream_id of the app data stream (platforms 'ANDROID' and 'IOS')."""
WEB_HOSTNAME = "shop.randomtruffle.example"
APP_ID = "com.randomtruffle.shop"

USD_PER_MXN = 0.055
"""Fixed conversion rate used for ``*_in_usd`` of MXN amounts."""
USD_PER_COP = 0.00025
"""Fixed conversion rate used for ``*_in_usd`` of COP amounts."""
RATES_USD_PER_UNIT: dict[str, float] = {"USD": 1.0, "MXN": USD_PER_MXN, "COP": USD_PER_COP}
CURRENCIES = ("USD", "MXN", "COP")
_T = TypeVar("_T")
NOT_SET = "(not set)"

# the Arrow types the generated columns are built with (the schema: orchestrate.export_schema)
_STR = pa.string()
_INT = pa.int64()
_FLOAT = pa.float64()
_BOOL = pa.bool_()


def _json_type(dtype: pa.DataType) -> pa.DataType:
    """The same type with every int64 leaf turned into a string (BigQuery JSON writes INT64
    values as strings)."""
    if pa.types.is_int64(dtype):
        return _STR
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(_json_type(f.type)) for f in dtype])
    if pa.types.is_list(dtype):
        return pa.list_(dtype.value_field.with_type(_json_type(dtype.value_type)))
    return dtype


_JSON_SCHEMA = pa.schema([f.with_type(_json_type(f.type)) for f in EXPORT_SCHEMA])
_PROFILE_COLUMNS = (
    "user_pseudo_id",
    "privacy_info",
    "user_properties",
    "user_first_touch_timestamp",
    "device",
    "geo",
    "app_info",
    "traffic_source",
    "stream_id",
    "platform",
    "event_dimensions",
)
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    # min/max statistics where readers can prune on them (nested leaves would only cost time)
    "write_statistics": [
        "event_date",
        "event_timestamp",
        "event_name",
        "user_id",
        "user_pseudo_id",
        "stream_id",
        "platform",
    ],
    "data_page_size": 1 << 20,
    "version": "2.6",
}
_CHUNK_ROWS = 65_536  # rows per Arrow table built, and per Parquet row group

# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------
# Reference tables (kept one entry per line).
# fmt: off
# country, continent, sub_continent, currency index, weight, language, tz offset s, regions
_COUNTRIES: tuple[tuple[Any, ...], ...] = (
    ("United States", "Americas", "Northern America", 0, 45, "en-us", -21600, (
        ("California", "Los Angeles"), ("California", "San Francisco"), ("New York", "New York"),
        ("Texas", "Houston"), ("Texas", "Austin"), ("Florida", "Miami"), ("Illinois", "Chicago"),
    )),
    ("Mexico", "Americas", "Central America", 1, 30, "es-mx", -21600, (
        ("Mexico City", "Mexico City"), ("Jalisco", "Guadalajara"), ("Nuevo Leon", "Monterrey"),
        ("Puebla", "Puebla"), ("Yucatan", "Merida"),
    )),
    ("Colombia", "Americas", "South America", 2, 20, "es-co", -18000, (
        ("Bogota", "Bogota"), ("Antioquia", "Medellin"), ("Valle del Cauca", "Cali"),
    )),
    ("Canada", "Americas", "Northern America", 0, 2, "en-ca", -18000, (("Ontario", "Toronto"),)),
    ("Spain", "Europe", "Southern Europe", 0, 2, "es-es", 3600, (("Madrid", "Madrid"),)),
    ("Chile", "Americas", "South America", 0, 1, "es-cl", -10800,
     (("Santiago Metropolitan Region", "Santiago"),)),
)

# item_id, name, brand, category, category2, price in USD, variants
_PRODUCTS: tuple[tuple[str, str, str, str, str, float, tuple[str, ...]], ...] = (
    ("RT-1001", "Dark Chocolate Truffles 12 pc", "Random Truffle", "Chocolate", "Truffles", 23.99,
     ("Classic", "Sea Salt")),
    ("RT-1002", "Milk Chocolate Truffles 24 pc", "Random Truffle", "Chocolate", "Truffles", 41.99,
     ("Classic",)),
    ("RT-1003", "Champagne Truffles 9 pc", "Random Truffle", "Chocolate", "Truffles", 28.5,
     ("Classic",)),
    ("RT-1004", "Vegan Truffle Sampler", "Random Truffle", "Chocolate", "Truffles", 33.99,
     ("Assorted",)),
    ("RT-1101", "Cacao Nibs 250 g", "Random Truffle", "Pantry", "Baking", 11.99, ("250 g",)),
    ("RT-1102", "Black Truffle Oil 250 ml", "Tartufo Nero", "Pantry", "Oils", 30.99, ("250 ml",)),
    ("RT-1103", "White Truffle Honey", "Tartufo Nero", "Pantry", "Sweet", 26.5, ("120 g",)),
    ("RT-1104", "Truffle Salt 100 g", "Tartufo Nero", "Pantry", "Seasoning", 15.99, ("100 g",)),
    ("RT-1105", "Hot Cocoa Mix", "Random Truffle", "Pantry", "Drinks", 13.99,
     ("Original", "Spicy")),
    ("RT-1201", "Holiday Gift Box", "Random Truffle", "Gifts", "Boxes", 67.99, ("Red", "Gold")),
    ("RT-1202", "Chocolate Tasting Kit", "Random Truffle", "Gifts", "Kits", 54.99, ("Standard",)),
    ("RT-1203", "Truffle Lover Hamper", "Random Truffle", "Gifts", "Hampers", 88.99,
     ("Standard",)),
    ("RT-1301", "Random Truffle Apron", "Random Truffle", "Apparel", "Kitchen", 21.99,
     ("Black", "Natural")),
    ("RT-1302", "Cocoa Tote Bag", "Random Truffle", "Apparel", "Bags", 17.99, ("Natural",)),
    ("RT-1303", "Chef Hoodie", "Random Truffle", "Apparel", "Hoodies", 47.99, ("S", "M", "L")),
)
_CATEGORIES = ("Chocolate", "Pantry", "Gifts", "Apparel")
_SEARCH_TERMS = ("truffle oil", "vegan", "gift box", "dark chocolate", "hoodie", "cocoa")
_SHIPPING = {0: 5.99, 1: 99.0, 2: 12000.0}  # flat shipping fee by currency index
_TAX_RATE = {0: 0.08, 1: 0.16, 2: 0.19}


class _Channel(NamedTuple):
    """A session traffic source. source None means no source/medium/campaign params."""

    name: str
    weight: int
    source: str | None
    medium: str | None
    campaign: str | None
    gclid: bool
    referrer: str | None
    landing: str
    group: str  # default channel group


_CHANNELS: tuple[_Channel, ...] = (
    _Channel("direct", 32, None, None, None, False, None, "home", "Direct"),
    _Channel("google_organic", 24, "google", "organic", "(organic)", False,
             "https://www.google.com/", "category", "Organic Search"),
    _Channel("bing_organic", 3, "bing", "organic", "(organic)", False,
             "https://www.bing.com/", "home", "Organic Search"),
    _Channel("google_cpc", 7, "google", "cpc", "brand_search", True,
             "https://www.google.com/", "product", "Paid Search"),
    _Channel("gclid_only", 7, None, None, None, True,
             "https://www.google.com/", "product", "Paid Search"),
    _Channel("newsletter", 8, "newsletter", "email", "weekly_digest", False,
             None, "category", "Email"),
    _Channel("paid_social", 6, "facebook", "paid_social", "retargeting_q1", False,
             "https://m.facebook.com/", "product", "Paid Social"),
    _Channel("organic_social", 4, "instagram", "social", "(referral)", False,
             "https://l.instagram.com/", "home", "Organic Social"),
    _Channel("referral", 5, "blog.cocoalovers.example", "referral", "(referral)", False,
             "https://blog.cocoalovers.example/best-truffles", "product", "Referral"),
    _Channel("affiliate", 4, "dealsite.example", "affiliate", "spring_deals", False,
             "https://dealsite.example/chocolate", "product", "Affiliates"),
)
# operating_system, operating_system_version, mobile_brand_name, mobile_model_name, browser,
# browser version (web devices, by category)
_WEB_DEVICES: dict[str, tuple[tuple[str, str, str, str, str, str], ...]] = {
    "desktop": (
        ("Windows", "Windows 11", "Google", "Chrome", "Chrome", "131.0"),
        ("Windows", "Windows 10", "Microsoft", "Edge", "Edge", "131.0"),
        ("Macintosh", "Macintosh Intel 10.15", "Apple", "Safari", "Safari", "18.1"),
        ("Macintosh", "Macintosh Intel 10.15", "Google", "Chrome", "Chrome", "131.0"),
        ("Linux", "Linux x86_64", "Mozilla", "Firefox", "Firefox", "133.0"),
    ),
    "mobile": (
        ("iOS", "iOS 18.1", "Apple", "iPhone", "Safari", "18.1"),
        ("Android", "Android 14", "Samsung", "SM-S921B", "Chrome", "131.0"),
        ("Android", "Android 13", "Motorola", "moto g84", "Chrome", "130.0"),
        ("Android", "Android 14", "Xiaomi", "Redmi Note 13", "Chrome", "131.0"),
    ),
    "tablet": (("iOS", "iOS 17.6", "Apple", "iPad", "Safari", "17.6"),),
}
# mobile_brand_name, mobile_model_name, mobile_marketing_name, mobile_os_hardware_model
_ANDROID_PHONES = (
    ("Samsung", "SM-S921B", "Galaxy S24", "SM-S921B"),
    ("Samsung", "SM-A546E", "Galaxy A54 5G", "SM-A546E"),
    ("Motorola", "moto g84 5G", "moto g84 5G", "XT2347-2"),
    ("Xiaomi", "23124RA7EO", "Redmi Note 13", "23124RA7EO"),
    ("Google", "Pixel 8", "Pixel 8", "Pixel 8"),
)
_ANDROID_TABLET = ("Samsung", "SM-X710", "Galaxy Tab S9", "SM-X710")
_IPHONES = (
    ("Apple", "iPhone", "iPhone 15", "iPhone15,4"),
    ("Apple", "iPhone", "iPhone 14 Pro", "iPhone15,2"),
    ("Apple", "iPhone", "iPhone 13", "iPhone14,5"),
)
_IPAD = ("Apple", "iPad", "iPad Air", "iPad13,16")
# id, versions, install_store, firebase_app_id, install_source
_APP_INFO = {
    1: (APP_ID, ("3.4.1", "3.5.0", "3.5.2"), "com.android.vending",
        "1:987654321:android:5f3e2a1b0c9d8e7f", "com.android.vending"),
    2: ("com.randomtruffle.Shop", ("3.4.0", "3.5.1"), "iTunes",
        "1:987654321:ios:9a8b7c6d5e4f3a2b", "iTunes"),
}
# fmt: on


def _cumulative(weights: list[int]) -> list[int]:
    out: list[int] = []
    for w in weights:
        out.append((out[-1] if out else 0) + w)
    return out


_COUNTRY_CUM = _cumulative([c[4] for c in _COUNTRIES])
_CHANNEL_CUM = _cumulative([ch.weight for ch in _CHANNELS])

# Local-hour weights of session starts (property time zone).
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 8, 9, 9, 8, 6)
_HOUR_CUM = _cumulative(list(_HOUR_WEIGHTS))

_US = 1_000_000
_WEB, _ANDROID, _IOS = 0, 1, 2
_PLATFORM_NAMES = ("WEB", "ANDROID", "IOS")
_ALWAYS = -2  # login_ordinal of a device logged in from its first event
_NEVER = -1

# Frequently used event parameters, already in the nested (key, value) form.
_P_ENGAGED_WEB = (("session_engaged", ("1", None, None, None)),)
_P_NOT_ENGAGED_WEB = (("session_engaged", ("0", None, None, None)),)
_P_ENGAGED_APP = (("session_engaged", (None, 1, None, None)),)
_P_ENGAGED_EVENT = (("engaged_session_event", (None, 1, None, None)),)
_P_DEBUG = (("debug_mode", (None, 1, None, None)),)
_P_ENTRANCES = (("entrances", (None, 1, None, None)),)
_P_SCROLL = (("percent_scrolled", (None, 90, None, None)),)
_NO_ITEMS: tuple[()] = ()

# path, title, app screen of the fixed pages
_PAGES: dict[str, tuple[str, str, str]] = {
    "home": ("/", "Random Truffle | Chocolate & Truffles", "Home"),
    "search": ("/search", "Search results | Random Truffle", "Search"),
    "login": ("/account/login", "Sign in | Random Truffle", "Login"),
    "cart": ("/cart", "Your cart | Random Truffle", "Cart"),
    "checkout": ("/checkout", "Checkout | Random Truffle", "Checkout"),
    "shipping": ("/checkout/shipping", "Shipping | Random Truffle", "CheckoutShipping"),
    "payment": ("/checkout/payment", "Payment | Random Truffle", "CheckoutPayment"),
    "confirmation": ("/checkout/confirmation", "Thank you | Random Truffle", "OrderConfirmation"),
}
# Page params repeated on every event of a page.
_KEEP_ON_PAGE = frozenset(
    (
        "page_location",
        "page_title",
        "page_referrer",
        "firebase_screen",
        "firebase_screen_class",
        "firebase_screen_id",
    )
)

# Row tuple layout of one logical event inside a day buffer.
_R_TS = 0
_ROW_FIELDS = 17


def _rand(rng: random.Random, lo: int, hi: int | None = None) -> int:
    """Like rng.randrange(lo, hi) (or randrange(lo)), several times faster; deterministic."""
    if hi is None:
        lo, hi = 0, lo
    return lo + int(rng.random() * (hi - lo))


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    """Like rng.choice, several times faster; deterministic."""
    return options[int(rng.random() * len(options))]


def _record_tuple(column: str, **values: Any) -> tuple[Any, ...]:
    """A struct value of a top-level column as a tuple in schema order (missing fields null)."""
    return tuple(values.get(f.name) for f in EXPORT_SCHEMA.field(column).type)


def _cart_ecommerce(quantity: int, unique_items: int) -> tuple[Any, ...]:
    """The ecommerce record of a pre-purchase event (item counts only)."""
    return (quantity, None, None, None, None, None, None, None, None, unique_items, None)


def _sval(value: str) -> tuple[str | None, int | None, None, float | None]:
    return (value, None, None, None)


def _ival(value: int) -> tuple[str | None, int | None, None, float | None]:
    return (None, value, None, None)


def _dval(value: float) -> tuple[str | None, int | None, None, float | None]:
    return (None, None, None, value)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """What to generate.

    Attributes:
        end_date: last export day (property time zone).
        days: number of daily tables, ending at ``end_date``.
        users: number of distinct consented devices (``user_pseudo_id``) over the period.
        seed: seed of the single ``random.Random`` driving everything.
        json_days: how many of the oldest daily tables are written as BigQuery NDJSON.
        intraday_days: the newest N days also get an ``events_intraday_YYYYMMDD.parquet``.
        time_zone: property time zone (``event_date`` is the local date of the event).
    """

    end_date: datetime.date
    days: int = 14
    users: int = 1000
    seed: int = 7
    json_days: int = 1
    intraday_days: int = 2
    time_zone: str = "America/Mexico_City"

    def validate(self) -> None:
        """Raise ValueError for an impossible configuration."""
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.users < 1:
            raise ValueError("users must be >= 1")
        if not 0 <= self.json_days <= self.days:
            raise ValueError("json_days must be between 0 and days")
        if not 0 <= self.intraday_days <= self.days:
            raise ValueError("intraday_days must be between 0 and days")
        zoneinfo.ZoneInfo(self.time_zone)


class _DayBuffer:
    """The logical (unique) events of one export day, as row tuples."""

    __slots__ = ("active", "date", "index", "rows")

    def __init__(self, index: int, date: datetime.date) -> None:
        self.index = index
        self.date = date
        self.rows: list[tuple[Any, ...]] = []
        self.active: set[int] = set()


class _Session:
    """Mutable state of the session being generated."""

    __slots__ = (
        "batch_index",
        "bundle",
        "consented",
        "dates",
        "debug",
        "engaged",
        "engaged_written",
        "gsid_int",
        "gsid_str",
        "is_web",
        "lc",
        "ordering",
        "page_id",
        "prev_ts",
        "profile",
        "sn_param",
        "uid",
        "uid_written",
    )


class _Generator:
    def __init__(
        self,
        out_dir: pathlib.Path,
        config: GeneratorConfig,
        progress: Callable[[str], None] | None,
    ) -> None:
        config.validate()
        self.out_dir = out_dir
        self.cfg = config
        self.progress = progress
        self.rng = random.Random(config.seed)
        tz = zoneinfo.ZoneInfo(config.time_zone)
        first = config.end_date - datetime.timedelta(days=config.days - 1)
        self.dates = [first + datetime.timedelta(days=i) for i in range(config.days + 1)]
        self.bounds = [
            int(datetime.datetime.combine(d, datetime.time(0), tzinfo=tz).timestamp()) * _US
            for d in self.dates
        ]
        self._build_catalogs()

    # -----------------------------------------------------------------------------------------
    # Catalogs
    # -----------------------------------------------------------------------------------------
    def _build_catalogs(self) -> None:
        # Local prices and cached item records (view-only items: quantity 1, no revenue).
        self.prices: list[list[float]] = []
        for product in _PRODUCTS:
            usd = product[5]
            self.prices.append([usd, round(usd / USD_PER_MXN, -1), round(usd / USD_PER_COP, -3)])
        # Channel-level constant records.
        self.lc_records: list[tuple[Any, ...] | None] = []
        self.first_touch: list[tuple[str, str, str]] = []
        for ch in _CHANNELS:
            name, _w, source, medium, campaign, gclid, _ref, _land, group = ch
            if name == "direct":
                self.lc_records.append(None)
                self.first_touch.append(("(none)", "(direct)", "(direct)"))
                continue
            if source is None:  # gclid only: Google Ads auto-tagging
                source, medium, campaign = "google", "cpc", "pmax_all_products"
                manual = None
            else:
                manual = (None, campaign, source, medium, None, None, "Manual", None, None)
            ads = (
                ("5551234567", "Random Truffle Ads", "21900017", campaign, "1337001", "all")
                if gclid
                else None
            )
            cross = (
                "21900017" if gclid else None,
                campaign,
                source,
                medium,
                "Google Ads" if gclid else "Manual",
                group,
                group,
            )
            self.lc_records.append((manual, ads, cross, None, None, None))
            self.first_touch.append((medium, campaign, source))
        self.last_click_catalog = pa.array(
            self.lc_records, EXPORT_SCHEMA.field("session_traffic_source_last_click").type
        )

    # -----------------------------------------------------------------------------------------
    # Plan: devices and session start times
    # -----------------------------------------------------------------------------------------
    def _plan(self) -> None:
        rng = self.rng
        cfg = self.cfg
        period_start, period_end = self.bounds[0], self.bounds[-1]
        n_days = cfg.days
        min_gap = 3 * 3600 * _US

        platform = bytearray()
        country = bytearray()
        consent = bytearray()  # 0 denied, 1 ads granted, 2 ads denied
        debug = bytearray()
        returning = bytearray()
        channel0 = bytearray()  # first-touch channel
        s_start = array("q")
        s_prof = array("q")
        s_ord = array("l")
        n_sessions_of: list[int] = []

        def draw_start(day: int) -> int:
            hour = bisect.bisect_right(_HOUR_CUM, rng.random() * _HOUR_CUM[-1])
            day_len = self.bounds[day + 1] - self.bounds[day]
            offset = (hour * 3600 + rng.random() * 3600) * _US
            return self.bounds[day] + min(int(offset), day_len - _US)

        for i in range(cfg.users):
            r = rng.random()
            platform.append(_WEB if r < 0.70 else _ANDROID if r < 0.88 else _IOS)
            if i < 3:  # make sure the three currencies exist even for tiny configs
                country.append(i)
            else:
                country.append(bisect.bisect_right(_COUNTRY_CUM, rng.random() * _COUNTRY_CUM[-1]))
            consent.append(2 if rng.random() < 0.15 else 1)
            debug.append(1 if rng.random() < 0.05 else 0)
            returning.append(1 if rng.random() < 0.30 else 0)
            channel0.append(bisect.bisect_right(_CHANNEL_CUM, rng.random() * _CHANNEL_CUM[-1]))
            wanted = rng.choices((1, 2, 3, 4), cum_weights=(35, 65, 85, 100))[0]
            starts = sorted(draw_start(_rand(rng, n_days)) for _ in range(wanted))
            kept: list[int] = []
            for s in starts:
                if kept and s < kept[-1] + min_gap:
                    s = kept[-1] + min_gap + _rand(rng, 3600 * _US)
                if s >= period_end - 60 * _US:
                    break
                kept.append(s)
            for k, s in enumerate(kept):
                s_start.append(s)
                s_prof.append(i)
                s_ord.append(k)
            n_sessions_of.append(len(kept))

        n_consented_sessions = len(s_start)
        # Consent-denied visitors: one session each, ~3% of the sessions.
        n_denied = max(1, round(n_consented_sessions * 0.03))
        for _ in range(n_denied):
            i = len(platform)
            platform.append(_WEB if rng.random() < 0.9 else _ANDROID)
            country.append(bisect.bisect_right(_COUNTRY_CUM, rng.random() * _COUNTRY_CUM[-1]))
            consent.append(0)
            debug.append(0)
            returning.append(0)
            channel0.append(bisect.bisect_right(_CHANNEL_CUM, rng.random() * _CHANNEL_CUM[-1]))
            s_start.append(draw_start(_rand(rng, n_days)))
            s_prof.append(i)
            s_ord.append(0)
            n_sessions_of.append(1)

        flags = bytearray(len(s_start))  # bit0 late night; bits 1-2 forced purchase kind
        taken: set[int] = set()

        def fits(k: int, new_start: int) -> bool:
            """A device's sessions are contiguous in s_start: keep them ordered and apart."""
            p = s_prof[k]
            if k in taken or not period_start <= new_start < period_end - 60 * _US:
                return False
            if k > 0 and s_prof[k - 1] == p and new_start < s_start[k - 1] + min_gap:
                return False
            return not (
                k + 1 < n_consented_sessions
                and s_prof[k + 1] == p
                and new_start > s_start[k + 1] - min_gap
            )

        # Sessions starting shortly before a local midnight that is not the last one.
        if n_days >= 2:
            wanted_late = max(3, round(0.005 * n_consented_sessions))
            for _ in range(50 * wanted_late):
                if wanted_late == 0:
                    break
                k = _rand(rng, n_consented_sessions)
                new_start = self.bounds[_rand(rng, 1, n_days)] - _rand(rng, 5 * _US, 60 * _US)
                if fits(k, new_start):
                    s_start[k] = new_start
                    flags[k] |= 1
                    taken.add(k)
                    wanted_late -= 1
        # Devices sharing a ga_session_id: start a session in the same second as another
        # device's session.
        wanted_shared = max(3, round(0.003 * n_consented_sessions))
        for _ in range(50 * wanted_shared):
            if wanted_shared == 0 or n_consented_sessions < 2:
                break
            a = _rand(rng, n_consented_sessions)
            b = _rand(rng, n_consented_sessions)
            new_start = (s_start[a] // _US) * _US + _rand(rng, _US)
            if a not in taken and s_prof[a] != s_prof[b] and fits(b, new_start):
                s_start[b] = new_start
                taken.update((a, b))
                wanted_shared -= 1
        # Forced purchases so that tiny configs still show every case.
        last_ok = self.bounds[-2] if n_days >= 2 else self.bounds[-1] - 3 * 3600 * _US
        candidates = [
            k for k in range(n_consented_sessions) if k not in taken and s_start[k] < last_ok
        ]
        rng.shuffle(candidates)
        used: set[int] = set()
        for cur in range(3):
            for k in candidates:
                if k not in used and _COUNTRIES[country[s_prof[k]]][3] == cur:
                    flags[k] |= 1 << 1  # plain purchase
                    used.add(k)
                    break
        forced = [k for k in candidates if k not in used][:3]
        for j, k in enumerate(forced):
            flags[k] |= (2 if j < 2 else 3) << 1  # 2 = resent purchase, 3 = '(not set)' id
        self.flags = flags

        # First touch (after the start times are final) and identifiers.
        n_profiles = len(platform)
        first_start = [0] * n_profiles
        for k in range(len(s_start)):
            p = s_prof[k]
            if first_start[p] == 0 or s_start[k] < first_start[p]:
                first_start[p] = s_start[k]
        first_touch: list[int | None] = []
        for p in range(n_profiles):
            if consent[p] == 0:
                first_touch.append(None)
            elif returning[p]:
                first_touch.append(period_start - _rand(rng, 86_400 * _US, 400 * 86_400 * _US))
            else:
                first_touch.append(first_start[p])
        base_sn = [
            (_rand(rng, 2, 40) if returning[p] else 1) if consent[p] else 0
            for p in range(n_profiles)
        ]

        # Logins: ~20% of the devices, in a later session; some user ids on two devices.
        login_ordinal = [_NEVER] * n_profiles
        user_ids: list[str | None] = [None] * n_profiles
        multi = [p for p in range(cfg.users) if n_sessions_of[p] >= 2]
        rng.shuffle(multi)
        n_login = min(len(multi), max(3, round(0.20 * cfg.users)))
        login_devices = sorted(multi[:n_login])
        next_uid = 0
        previous_shared = True
        for j, p in enumerate(login_devices):
            login_ordinal[p] = _rand(rng, 1, n_sessions_of[p])
            # ~8% of the logins (at least one) are a user already seen on another device.
            if not previous_shared and (rng.random() < 0.08 or j == 2):
                user_ids[p] = user_ids[login_devices[j - 1]]
                previous_shared = True
            else:
                next_uid += 1
                user_ids[p] = f"u_{next_uid:06d}"
                previous_shared = False
        # Returning devices already logged in (persisted login): user_id from the first event.
        for p in range(cfg.users):
            if login_ordinal[p] == _NEVER and returning[p] and rng.random() < 0.04:
                login_ordinal[p] = _ALWAYS
                next_uid += 1
                user_ids[p] = f"u_{next_uid:06d}"

        self.platform = platform
        self.country = country
        self.consent = consent
        self.debug = debug
        self.returning = returning
        self.channel0 = channel0
        self.s_start = s_start
        self.s_prof = s_prof
        self.s_ord = s_ord
        self.base_sn = base_sn
        self.login_ordinal = login_ordinal
        self.user_ids = user_ids
        self.first_touch_ts = first_touch
        self.ltv = [0.0] * n_profiles
        self.bundle = [_rand(rng, 1, 5000) for _ in range(n_profiles)]
        self.first_null = bytearray(n_profiles)  # 1: first written event had no user_id
        self.seen_uid = bytearray(n_profiles)
        self.seen_any = bytearray(n_profiles)
        self.anon_sessions = array("l", [0]) * n_profiles
        self._build_profiles()

    def _device(
        self, plat: int, language: str | None, tz_offset: int
    ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
        """The device record and app_info of a new device."""
        rng = self.rng
        if plat == _WEB:
            r = rng.random()
            category = "desktop" if r < 0.52 else "mobile" if r < 0.94 else "tablet"
            os_name, osv, brand, model, browser, version = _pick(rng, _WEB_DEVICES[category])
            web = _record_tuple(
                "device",
                category=category,
                mobile_brand_name=brand,
                mobile_model_name=model,
                mobile_marketing_name=NOT_SET,
                operating_system=os_name,
                operating_system_version=osv,
                language=language,
                is_limited_ad_tracking="No",
                web_info=(browser, version, WEB_HOSTNAME),
            )
            return web, None
        tablet = rng.random() < 0.08
        app_id, versions, store, firebase_id, source = _APP_INFO[plat]
        app_info = (app_id, _pick(rng, versions), store, firebase_id, source)
        if plat == _ANDROID:
            brand, model, marketing, hardware = (
                _ANDROID_TABLET if tablet else _pick(rng, _ANDROID_PHONES)
            )
            os_name, osv = "Android", _pick(rng, ("Android 13", "Android 14", "Android 15"))
            limited = "Yes" if rng.random() < 0.1 else "No"
            advertising_id = f"{rng.getrandbits(128):032x}" if limited == "No" else None
            vendor_id = None
        else:
            brand, model, marketing, hardware = _IPAD if tablet else _pick(rng, _IPHONES)
            os_name, osv = "iOS", _pick(rng, ("iOS 17.6.1", "iOS 18.1", "iOS 18.2"))
            limited = "Yes" if rng.random() < 0.6 else "No"
            advertising_id = None
            vendor_id = f"{rng.getrandbits(128):032X}"
        app = _record_tuple(
            "device",
            category="tablet" if tablet else "mobile",
            mobile_brand_name=brand,
            mobile_model_name=model,
            mobile_marketing_name=marketing,
            mobile_os_hardware_model=hardware,
            operating_system=os_name,
            operating_system_version=osv,
            vendor_id=vendor_id,
            advertising_id=advertising_id,
            language=language,
            is_limited_ad_tracking=limited,
            time_zone_offset_seconds=tz_offset,
        )
        return app, app_info

    def _build_profiles(self) -> None:
        """Per-device constant columns, as an Arrow table indexed by profile number."""
        rng = self.rng
        cols: dict[str, list[Any]] = {name: [] for name in _PROFILE_COLUMNS}
        used_ids: set[str] = set()
        for p in range(len(self.platform)):
            plat = self.platform[p]
            c = _COUNTRIES[self.country[p]]
            consented = self.consent[p] != 0
            region, city = _pick(rng, c[7])
            ft = self.first_touch_ts[p]
            if consented:
                while True:
                    if plat == _WEB:
                        upid = f"{_rand(rng, 10**8, 2**31)}.{(ft or 0) // _US}"
                    else:
                        upid = f"{rng.getrandbits(128):032x}"
                    if upid not in used_ids:
                        used_ids.add(upid)
                        break
            else:
                upid = None
            language = c[5] if rng.random() < 0.85 else None
            device, app_info = self._device(plat, language, c[6])
            stream, dims = (
                (WEB_STREAM_ID, (WEB_HOSTNAME,)) if plat == _WEB else (APP_STREAM_ID, None)
            )
            if consented:
                privacy = ("Yes", "Yes" if self.consent[p] == 1 else "No", "No")
                if self.returning[p] and rng.random() < 0.03:
                    traffic = _pick(rng, ((NOT_SET, NOT_SET, NOT_SET), ("(data deleted)",) * 3))
                else:
                    traffic = self.first_touch[self.channel0[p]]
                props: list[tuple[Any, ...]] = []
                if plat != _WEB:
                    open_ms = (ft or 0) // 1000 // 3_600_000 * 3_600_000
                    props.append(("first_open_time", (None, open_ms, None, None, ft)))
                if rng.random() < 0.3:
                    tier = _pick(rng, ("bronze", "silver", "gold"))
                    props.append(("loyalty_tier", (tier, None, None, None, ft)))
            else:
                privacy = ("No", "No", "No")
                traffic = None
                props = []
            cols["user_pseudo_id"].append(upid)
            cols["privacy_info"].append(privacy)
            cols["user_properties"].append(props)
            cols["user_first_touch_timestamp"].append(ft)
            cols["device"].append(device)
            cols["geo"].append((c[1], c[2], c[0], region, city, NOT_SET))
            cols["app_info"].append(app_info)
            cols["traffic_source"].append(traffic)
            cols["stream_id"].append(stream)
            cols["platform"].append(_PLATFORM_NAMES[plat])
            cols["event_dimensions"].append(dims)
        self.upids: list[str | None] = cols["user_pseudo_id"]
        self.profile_table = pa.table(
            {
                name: pa.array(values, type=EXPORT_SCHEMA.field(name).type)
                for name, values in cols.items()
            }
        )

    # -----------------------------------------------------------------------------------------
    # Event emission
    # -----------------------------------------------------------------------------------------
    def _emit(
        self,
        s: _Session,
        ts: int,
        name: str,
        params: list[tuple[str, tuple[Any, ...]]],
        new_batch: bool = True,
        items: Any = _NO_ITEMS,
        ecom: tuple[Any, ...] | None = None,
        value_usd: float | None = None,
        cts: tuple[Any, ...] | None = None,
    ) -> bool:
        """Append one logical event to the buffer of its local day; False if past the end."""
        if ts < self.cur_end:
            buf = self.cur
        elif ts < self.next_end:
            buf = self.next
        else:
            return False
        if new_batch:
            s.ordering += 1
            s.bundle += 1
            s.batch_index = 0
        else:
            s.batch_index += 1
        p = s.profile
        if s.consented:
            rng_r = self.rng.random()
            head = [s.gsid_str if rng_r < 0.01 else s.gsid_int, s.sn_param]
            head += params
            if s.engaged:
                head += _P_ENGAGED_WEB if s.is_web else _P_ENGAGED_APP
                head += _P_ENGAGED_EVENT
                s.engaged_written = True
                buf.active.add(p)
            elif s.is_web:
                head += _P_NOT_ENGAGED_WEB
            if s.debug:
                head += _P_DEBUG
            if name == "first_visit" or name == "first_open":
                buf.active.add(p)
            params = head
            uid = s.uid
            if uid is None:
                if not self.seen_any[p]:
                    self.first_null[p] = 1
            else:
                s.uid_written = True
                self.seen_uid[p] = 1
            self.seen_any[p] = 1
            ltv = self.ltv[p]
            s.dates.add(buf.index)
        else:
            uid = None
            ltv = None
            self.denied_events += 1
        if s.is_web:
            prev = None
            srv = None
            batch = (s.batch_index, s.page_id, s.ordering)
        else:
            prev = s.prev_ts.get(name)
            s.prev_ts[name] = ts
            srv = 400_000 + (ts % 1_600_000)
            batch = (None, None, None)
        buf.rows.append(
            (
                ts,
                name,
                params,
                prev,
                value_usd,
                s.bundle,
                srv,
                uid,
                p,
                ltv,
                ecom,
                items,
                cts,
                s.lc,
                *batch,
            )
        )
        return True

    # -----------------------------------------------------------------------------------------
    # Sessions
    # -----------------------------------------------------------------------------------------
    def _item(self, product: int, cur: int, qty: int, revenue: bool) -> tuple[Any, ...]:
        """One element of ``items`` (with item_revenue only on purchases)."""
        pid, pname, brand, cat, cat2, _usd, variants = _PRODUCTS[product]
        price = self.prices[product][cur]
        rate = RATES_USD_PER_UNIT[CURRENCIES[cur]]
        params: tuple[Any, ...] = ()
        if cat == "Apparel":
            params = (("size_group", ("adult", None, None, None)),)
        elif cat == "Gifts":
            params = (("gift_wrap", ("yes", None, None, None)),)
        return (
            pid,
            pname,
            brand,
            variants[product % len(variants)],
            cat,
            cat2,
            NOT_SET,
            NOT_SET,
            NOT_SET,
            round(price * rate, 2),
            price,
            qty,
            round(price * qty * rate, 2) if revenue else None,
            round(price * qty, 2) if revenue else None,
            None,
            None,
            NOT_SET,
            "Online Store",
            NOT_SET,
            NOT_SET,
            NOT_SET,
            NOT_SET,
            NOT_SET,
            NOT_SET,
            NOT_SET,
            NOT_SET,
            params,
        )

    def _page_params(
        self, s: _Session, kind: str, product: int | None, referrer: str | None, query: str = ""
    ) -> tuple[list[tuple[str, tuple[Any, ...]]], str]:
        if kind == "product":
            assert product is not None
            path = f"/p/{_PRODUCTS[product][0].lower()}"
            title = f"{_PRODUCTS[product][1]} | Random Truffle"
            screen = "ProductDetail"
        elif kind == "category":
            cat = _CATEGORIES[(product or 0) % len(_CATEGORIES)]
            path = f"/c/{cat.lower()}"
            title = f"{cat} | Random Truffle"
            screen = "Category"
        else:
            path, title, screen = _PAGES[kind]
        if s.is_web:
            url = f"https://{WEB_HOSTNAME}{path}{query}"
            params = [("page_location", _sval(url)), ("page_title", _sval(title))]
            if referrer is not None:
                params.append(("page_referrer", _sval(referrer)))
            return params, url
        s.page_id += 1
        return [
            ("firebase_screen", _sval(screen)),
            ("firebase_screen_class", _sval(f"{screen}Activity")),
            ("firebase_screen_id", _ival(-(4_000_000_000_000 + s.page_id))),
        ], ""

    def _run_session(self, k: int) -> None:
        rng = self.rng
        start = self.s_start[k]
        p = self.s_prof[k]
        ordinal = self.s_ord[k]
        force = self.flags[k] >> 1
        late = bool(self.flags[k] & 1)
        plat = self.platform[p]
        cur = _COUNTRIES[self.country[p]][3]
        s = _Session()
        s.profile = p
        s.is_web = plat == _WEB
        s.consented = self.consent[p] != 0
        s.debug = bool(self.debug[p])
        s.engaged = False
        s.engaged_written = False
        s.uid_written = False
        s.dates = set()
        s.ordering = 0
        s.page_id = 0
        s.bundle = self.bundle[p]
        s.batch_index = 0
        s.prev_ts = {}
        gsid = start // _US
        s.gsid_int = ("ga_session_id", _ival(gsid))
        s.gsid_str = ("ga_session_id", _sval(str(gsid)))
        s.sn_param = ("ga_session_number", _ival(self.base_sn[p] + ordinal))
        login_ord = self.login_ordinal[p]
        uid = self.user_ids[p]
        logged_in = login_ord == _ALWAYS or (login_ord >= 0 and ordinal > login_ord)
        s.uid = uid if logged_in else None
        do_login = login_ord == ordinal
        new_device = s.consented and not self.returning[p] and ordinal == 0
        if new_device:
            channel = self.channel0[p]
        else:
            channel = bisect.bisect_right(_CHANNEL_CUM, rng.random() * _CHANNEL_CUM[-1])
        ch = _CHANNELS[channel]
        _name, _w, source, medium, campaign, has_gclid, referrer, landing, _group = ch
        s.lc = channel

        # Traffic params on the first batch of the session.
        traffic: list[tuple[str, tuple[Any, ...]]] = []
        query = ""
        cts = None
        gclid = None
        if has_gclid:
            gclid = f"Cj0KCQiA{rng.getrandbits(96):024x}"
        if source is not None:
            traffic = [
                ("source", _sval(source)),
                ("medium", _sval(medium)),
                ("campaign", _sval(campaign)),
            ]
            if medium not in ("organic", "referral", "social"):
                query = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
        if gclid is not None:
            traffic.append(("gclid", _sval(gclid)))
            query = f"{query}&gclid={gclid}" if query else f"?gclid={gclid}"
        if traffic:
            cts = _record_tuple(
                "collected_traffic_source",
                manual_campaign_name=campaign,
                manual_source=source,
                manual_medium=medium,
                gclid=gclid,
            )

        # Funnel decisions.
        bounce = (
            not late and not force and not do_login and rng.random() < (0.28 if s.is_web else 0.2)
        )
        view_item = force or (not bounce and rng.random() < 0.6)
        add_to_cart = force or (view_item and rng.random() < 0.35)
        checkout = force or (add_to_cart and rng.random() < 0.55)
        purchase = force or (checkout and rng.random() < 0.45)
        resend = purchase and (force == 2 or (not force and rng.random() < 0.10))
        not_set_id = purchase and (force == 3 or (not force and rng.random() < 0.03))
        if not_set_id:
            resend = False

        # Pages: (kind, product, actions). Actions are event names handled below.
        landing_product = _rand(rng, len(_PRODUCTS))
        n_products = _pick(rng, (1, 1, 2, 3)) if view_item else 0
        # A product landing page already is the first product view.
        first_product = 1 if landing == "product" and view_item else 0
        landing_actions: tuple[str, ...] = ()
        if first_product:
            only = add_to_cart and n_products == 1
            landing_actions = ("view_item", "add_to_cart") if only else ("view_item",)
        steps: list[tuple[str, int | None, tuple[str, ...]]] = [
            (landing, landing_product, landing_actions)
        ]
        if not bounce:
            if rng.random() < 0.15:
                steps.append(("search", None, ("view_search_results",)))
            if do_login:
                steps.append(
                    ("login", None, ("sign_up", "login") if rng.random() < 0.4 else ("login",))
                )
            for _ in range(_rand(rng, 0, 3)):
                steps.append(("category", _rand(rng, len(_CATEGORIES)), ()))
            for j in range(first_product, n_products):
                acts = (
                    ("view_item", "add_to_cart")
                    if add_to_cart and (j == n_products - 1 or rng.random() < 0.3)
                    else ("view_item",)
                )
                steps.append(("product", _rand(rng, len(_PRODUCTS)), acts))
            if checkout:
                steps.append(("cart", None, ()))
                steps.append(("checkout", None, ("begin_checkout",)))
                if purchase or rng.random() < 0.9:
                    steps.append(("shipping", None, ("add_shipping_info",)))
                    if purchase or rng.random() < 0.5:
                        steps.append(("payment", None, ("add_payment_info",)))
                if purchase:
                    steps.append(("confirmation", None, ("purchase",)))
                    if resend:
                        steps.append(("confirmation", None, ("purchase_resend",)))
            if len(steps) == 1:
                steps.append(("category", _rand(rng, len(_CATEGORIES)), ()))

        # Emit.
        t = start
        prev_url: str | None = referrer
        cart: list[tuple[int, int]] = []
        purchase_record: tuple[Any, ...] | None = None
        for step_no, (kind, product, actions) in enumerate(steps):
            if step_no == 1 and not bounce:
                s.engaged = True
            page_params, url = self._page_params(
                s, kind, product, prev_url, query if step_no == 0 else ""
            )
            if s.is_web:
                s.page_id += 1
                s.ordering = 0
            if step_no == 0:
                page_params = (
                    page_params + traffic + list(_P_ENTRANCES)
                    if s.is_web
                    else page_params + traffic
                )
                first_batch = []
                if new_device:
                    first_batch.append("first_visit" if s.is_web else "first_open")
                first_batch.append("session_start")
                for j, ev in enumerate(first_batch):
                    self._emit(s, t, ev, page_params, new_batch=j == 0, cts=cts)
                self._emit(
                    s,
                    t,
                    "page_view" if s.is_web else "screen_view",
                    page_params,
                    new_batch=False,
                    cts=cts,
                )
            else:
                self._emit(s, t, "page_view" if s.is_web else "screen_view", page_params)
            prev_url = url if s.is_web else None
            base = [pp for pp in page_params if pp[0] in _KEEP_ON_PAGE]
            if bounce:
                dwell = _rand(rng, 1 * _US, 9 * _US)
            elif late and step_no == 0:
                dwell = _rand(rng, 65 * _US, 120 * _US)
            else:
                dwell = _rand(rng, 8 * _US, 90 * _US)
            tt = t
            for act in actions:
                tt += _rand(rng, dwell // 8, dwell // 3)
                ms = ("engagement_time_msec", _ival(_rand(rng, 200, 8000)))
                if act == "view_search_results":
                    term = _pick(rng, _SEARCH_TERMS)
                    self._emit(s, tt, act, [*base, ("search_term", _sval(term)), ms])
                elif act in ("login", "sign_up"):
                    if act == "login":
                        s.uid = uid
                    method = "Google" if rng.random() < 0.5 else "email"
                    self._emit(s, tt, act, [*base, ("method", _sval(method)), ms])
                elif act == "view_item":
                    assert product is not None
                    item = self._item(product, cur, 1, False)
                    price = item[10]
                    self._emit(
                        s,
                        tt,
                        act,
                        [*base, ("currency", _sval(CURRENCIES[cur])), ("value", _dval(price)), ms],
                        items=(item,),
                        ecom=_cart_ecommerce(1, 1),
                    )
                elif act == "add_to_cart":
                    assert product is not None
                    qty = 1 if rng.random() < 0.75 else 2
                    cart.append((product, qty))
                    item = self._item(product, cur, qty, False)
                    value = round(item[10] * qty, 2)
                    self._emit(
                        s,
                        tt,
                        act,
                        [*base, ("currency", _sval(CURRENCIES[cur])), ("value", _dval(value)), ms],
                        items=(item,),
                        ecom=_cart_ecommerce(qty, 1),
                        value_usd=round(value * RATES_USD_PER_UNIT[CURRENCIES[cur]], 2),
                    )
                elif act in ("begin_checkout", "add_shipping_info", "add_payment_info"):
                    if not cart:
                        cart.append((landing_product, 1))
                    items = tuple(self._item(pr, cur, q, False) for pr, q in cart)
                    value = round(sum(self.prices[pr][cur] * q for pr, q in cart), 2)
                    qty = sum(q for _, q in cart)
                    extra: list[tuple[str, tuple[Any, ...]]] = [
                        ("currency", _sval(CURRENCIES[cur])),
                        ("value", _dval(value)),
                    ]
                    if act == "add_shipping_info":
                        extra.append(("shipping_tier", _sval(_pick(rng, ("Standard", "Express")))))
                    elif act == "add_payment_info":
                        extra.append(
                            ("payment_type", _sval(_pick(rng, ("Credit Card", "PayPal", "OXXO"))))
                        )
                    self._emit(
                        s,
                        tt,
                        act,
                        [*base, *extra, ms],
                        items=items,
                        ecom=_cart_ecommerce(qty, len(items)),
                        value_usd=round(value * RATES_USD_PER_UNIT[CURRENCIES[cur]], 2),
                    )
                elif act == "purchase":
                    if not cart:
                        cart.append((landing_product, 1))
                    purchase_record = self._purchase_record(s, cart, cur, not_set_id, base)
                    self._emit_purchase(s, tt, purchase_record, resent=False)
                else:  # purchase_resend: the confirmation page was reloaded
                    assert purchase_record is not None
                    self._emit_purchase(s, tt, purchase_record, resent=True)
            if s.is_web and not bounce and rng.random() < 0.35:
                self._emit(
                    s,
                    t + dwell * 7 // 10,
                    "scroll",
                    [*base, *_P_SCROLL, ("engagement_time_msec", _ival(dwell * 7 // 10_000))],
                )
            if not bounce or rng.random() < 0.5:
                self._emit(
                    s,
                    t + dwell,
                    "user_engagement",
                    [*base, ("engagement_time_msec", _ival(dwell // 1000))],
                )
            if kind == "confirmation" and resend and actions == ("purchase",):
                t += dwell + _rand(rng, 5 * _US, 240 * _US)
            else:
                t += dwell + _rand(rng, 200_000, 2 * _US)

        self.bundle[p] = s.bundle
        if s.consented:
            self.sessions += 1
            if s.engaged_written:
                self.engaged_sessions += 1
            if len(s.dates) > 1:
                self.crossing += 1
            if not s.uid_written:
                self.anon_sessions[p] += 1
            other = self.gsid_owner.setdefault(gsid, p)
            if other != p:
                self.shared_today.add(gsid)

    def _purchase_record(
        self,
        s: _Session,
        cart: list[tuple[int, int]],
        cur: int,
        not_set_id: bool,
        base: list[tuple[str, tuple[Any, ...]]],
    ) -> tuple[Any, ...]:
        rng = self.rng
        code = CURRENCIES[cur]
        rate = RATES_USD_PER_UNIT[code]
        items = tuple(self._item(pr, cur, q, True) for pr, q in cart)
        revenue = round(sum(self.prices[pr][cur] * q for pr, q in cart), 2)
        tax = round(revenue * _TAX_RATE[cur], 2)
        shipping = 0.0 if revenue * rate > 75 else _SHIPPING[cur]
        if not_set_id:
            tid = NOT_SET
        else:
            self.next_tid += 1
            tid = f"T{self.next_tid:06d}"
        revenue_usd = round(revenue * rate, 2)
        params = [
            *base,
            ("transaction_id", _sval(tid)),
            ("currency", _sval(code)),
            ("value", _dval(revenue)),
            ("tax", _dval(tax)),
            ("shipping", _dval(shipping)),
            ("payment_type", _sval(_pick(rng, ("Credit Card", "PayPal", "OXXO")))),
            ("engagement_time_msec", _ival(_rand(rng, 200, 4000))),
        ]
        ecom = _record_tuple(
            "ecommerce",
            total_item_quantity=sum(q for _, q in cart),
            purchase_revenue_in_usd=revenue_usd,
            purchase_revenue=revenue,
            shipping_value_in_usd=round(shipping * rate, 2),
            shipping_value=shipping,
            tax_value_in_usd=round(tax * rate, 2),
            tax_value=tax,
            unique_items=len(items),
            transaction_id=tid,
        )
        return (params, items, ecom, revenue_usd, tid, code, revenue)

    def _emit_purchase(self, s: _Session, ts: int, record: tuple[Any, ...], resent: bool) -> None:
        params, items, ecom, revenue_usd, tid, code, revenue = record
        if not resent and s.consented:
            self.ltv[s.profile] = round(self.ltv[s.profile] + revenue_usd, 2)
        if not self._emit(s, ts, "purchase", params, items=items, ecom=ecom, value_usd=revenue_usd):
            return
        self.purchase_events += 1
        # the items of every purchase event written (a resent purchase is an event too)
        for item in items:
            self.purchased_item_rows += 1
            self.purchased_quantity += item[11]
            self.purchased_item_ids.add(item[0])
            self.item_revenue[code] += item[13]
        if resent:
            self.resent += 1
        if tid == NOT_SET:
            self.not_set_purchases += 1
        elif tid in self.seen_tids:
            return
        else:
            self.seen_tids.add(tid)
        self.revenue[code] += revenue
        self.revenue_usd[code] += revenue_usd

    # -----------------------------------------------------------------------------------------
    # Day tables
    # -----------------------------------------------------------------------------------------
    def _build_table(
        self, rows: list[tuple[Any, ...]], buf: _DayBuffer, intraday: bool = False
    ) -> pa.Table:
        """Arrow table of the given rows of one day (intraday: no user-scoped columns)."""
        n = len(rows)
        (
            ts,
            names,
            params,
            prev,
            value_usd,
            bundle,
            srv,
            uid,
            prof,
            ltv,
            ecom,
            items,
            cts,
            channel,
            bei,
            bpi,
            boi,
        ) = (list(map(itemgetter(j), rows)) for j in range(_ROW_FIELDS))
        schema = EXPORT_SCHEMA
        profiles = self.profile_table.take(pa.array(prof, _INT))
        arrays = {name: profiles.column(name).combine_chunks() for name in _PROFILE_COLUMNS}
        if intraday:
            # Intraday shards carry no user-scoped attributes.
            for name in ("traffic_source", "user_ltv", "is_active_user"):
                arrays[name] = pa.nulls(n, schema.field(name).type)
        else:
            revenue = pa.array(ltv, _FLOAT)
            arrays["user_ltv"] = pa.StructArray.from_arrays(
                [revenue, pa.repeat(pa.scalar("USD", _STR), n)],
                fields=list(schema.field("user_ltv").type),
                mask=revenue.is_null(),
            )
            consent = self.consent
            active = buf.active
            arrays["is_active_user"] = pa.array(
                [(q in active) if consent[q] else None for q in prof], _BOOL
            )
        if buf.index < self.cfg.days // 2:  # column not yet populated in older exports
            last_click = pa.nulls(n, schema.field("session_traffic_source_last_click").type)
        else:
            last_click = self.last_click_catalog.take(pa.array(channel, _INT))
        arrays.update(
            {
                "event_date": pa.array([buf.date.strftime("%Y%m%d")] * n, _STR),
                "event_timestamp": pa.array(ts, _INT),
                "event_name": pa.array(names, _STR),
                "event_params": pa.array(params, schema.field("event_params").type),
                "event_previous_timestamp": pa.array(prev, _INT),
                "event_value_in_usd": pa.array(value_usd, _FLOAT),
                "event_bundle_sequence_id": pa.array(bundle, _INT),
                "event_server_timestamp_offset": pa.array(srv, _INT),
                "user_id": pa.array(uid, _STR),
                "ecommerce": _sparse_struct(ecom, schema.field("ecommerce").type),
                "items": pa.array(items, schema.field("items").type),
                "collected_traffic_source": _sparse_struct(
                    cts, schema.field("collected_traffic_source").type
                ),
                "batch_event_index": pa.array(bei, _INT),
                "batch_page_id": pa.array(bpi, _INT),
                "batch_ordering_id": pa.array(boi, _INT),
                "session_traffic_source_last_click": last_click,
                "publisher": pa.nulls(n, schema.field("publisher").type),
            }
        )
        return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)

    def _write_day(self, buf: _DayBuffer) -> None:
        rng = self.rng
        cfg = self.cfg
        rows = buf.rows
        rows.sort(key=itemgetter(_R_TS))
        n = len(rows)
        stamp = buf.date.strftime("%Y%m%d")
        # Exact duplicates (SDK retries): ~1% of the rows, sent again a little later.
        later: dict[int, list[tuple[Any, ...]]] = {}
        n_dup = 0
        for i in range(n):
            if rng.random() < 0.01:
                later.setdefault(min(n - 1, i + _rand(rng, 0, 40)), []).append(rows[i])
                n_dup += 1
        if n_dup:
            daily_rows: list[tuple[Any, ...]] = []
            for i, row in enumerate(rows):
                daily_rows.append(row)
                if i in later:
                    daily_rows.extend(later[i])
        else:
            daily_rows = rows
        self.unique_events += n
        self.unique_by_date[buf.date.isoformat()] = n
        self.duplicates += n_dup
        if buf.index < cfg.json_days:
            self._write_json(daily_rows, buf, f"events_{stamp}.json")
        else:
            self._write_parquet(daily_rows, buf, f"events_{stamp}.parquet", "daily")
        del daily_rows
        if buf.index >= cfg.days - cfg.intraday_days:
            # The intraday shard: the first 60-80% of the day's events, by time.
            k = int(n * (0.6 + 0.2 * rng.random()))
            self.overlap += k
            self._write_parquet(rows[:k], buf, f"events_intraday_{stamp}.parquet", "intraday")

    def _chunks(
        self, rows: list[tuple[Any, ...]], buf: _DayBuffer, intraday: bool
    ) -> Iterator[pa.Table]:
        """Arrow tables of at most _CHUNK_ROWS rows each (bounded memory, better locality)."""
        for first in range(0, max(len(rows), 1), _CHUNK_ROWS):
            yield self._build_table(rows[first : first + _CHUNK_ROWS], buf, intraday)

    def _record_file(self, name: str, fmt: str, kind: str, rows: int) -> None:
        self.files.append({"name": name, "format": fmt, "kind": kind, "rows": rows})
        self.raw_rows += rows
        if self.progress is not None:
            self.progress(f"{name}: {rows:,} rows")

    def _write_parquet(
        self, rows: list[tuple[Any, ...]], buf: _DayBuffer, name: str, kind: str
    ) -> None:
        with pq.ParquetWriter(self.out_dir / name, EXPORT_SCHEMA, **_PARQUET_OPTIONS) as writer:
            for table in self._chunks(rows, buf, intraday=kind == "intraday"):
                writer.write_table(table, row_group_size=_CHUNK_ROWS)
        self._record_file(name, "parquet", kind, len(rows))

    def _write_json(self, rows: list[tuple[Any, ...]], buf: _DayBuffer, name: str) -> None:
        """BigQuery newline-delimited JSON: INT64 as strings, FLOAT as numbers, nulls as null."""
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        with open(self.out_dir / name, "w", encoding="utf-8", newline="\n") as fh:
            for table in self._chunks(rows, buf, intraday=False):
                for batch in table.cast(_JSON_SCHEMA).to_batches(max_chunksize=16_384):
                    fh.writelines(dumps(row) + "\n" for row in batch.to_pylist())
        self._record_file(name, "json", "daily", len(rows))

    # -----------------------------------------------------------------------------------------
    # Driver
    # -----------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in sorted(self.out_dir.glob("events_*")):
            if stale.suffix in (".parquet", ".json") and stale.is_file():
                stale.unlink()
        self._plan()
        self.sessions = 0
        self.engaged_sessions = 0
        self.crossing = 0
        self.shared = 0
        self.unique_events = 0
        self.unique_by_date: dict[str, int] = {}
        self.duplicates = 0
        self.overlap = 0
        self.raw_rows = 0
        self.files: list[dict[str, Any]] = []
        self.denied_events = 0
        self.purchase_events = 0
        self.purchased_item_rows = 0
        self.purchased_quantity = 0
        self.purchased_item_ids: set[str] = set()
        self.item_revenue: dict[str, float] = dict.fromkeys(CURRENCIES, 0.0)
        self.resent = 0
        self.not_set_purchases = 0
        self.next_tid = 0
        self.seen_tids: set[str] = set()
        self.revenue = dict.fromkeys(CURRENCIES, 0.0)
        self.revenue_usd = dict.fromkeys(CURRENCIES, 0.0)

        s_start = self.s_start
        order = sorted(range(len(s_start)), key=s_start.__getitem__)
        pos = 0
        self.cur = _DayBuffer(0, self.dates[0])
        for d in range(cfg.days):
            self.cur_end = self.bounds[d + 1]
            last = d == cfg.days - 1
            self.next = _DayBuffer(d + 1, self.dates[d + 1])
            self.next_end = self.cur_end if last else self.bounds[d + 2]
            self.gsid_owner: dict[int, int] = {}
            self.shared_today: set[int] = set()
            while pos < len(order) and s_start[order[pos]] < self.cur_end:
                self._run_session(order[pos])
                pos += 1
            self.shared += len(self.shared_today)
            self._write_day(self.cur)
            self.cur = self.next

        return self._manifest()

    def _manifest(self) -> dict[str, Any]:
        cfg = self.cfg
        consented = [p for p in range(len(self.platform)) if self.consent[p] and self.seen_any[p]]
        stitched = {
            self.upids[p]: self.user_ids[p]
            for p in consented
            if self.first_null[p] and self.seen_uid[p]
        }
        logged_in = {self.user_ids[p] for p in consented if self.seen_uid[p]}
        config = dataclasses.asdict(cfg)
        config["end_date"] = cfg.end_date.isoformat()
        unique_transactions = len(self.seen_tids) + self.not_set_purchases
        manifest: dict[str, Any] = {
            "generator": "orchestrate.demo_data",
            "config": config,
            "files": self.files,
            "raw_rows": self.raw_rows,
            "unique_events": self.unique_events,
            "unique_events_by_date": self.unique_by_date,
            "duplicate_rows_injected": self.duplicates,
            "intraday_overlap_rows": self.overlap,
            "consent_denied_events": self.denied_events,
            "sessions": self.sessions,
            "engaged_sessions": self.engaged_sessions,
            "sessions_crossing_midnight": self.crossing,
            "shared_ga_session_ids": self.shared,
            "devices": len(consented),
            "logged_in_users": len(logged_in),
            "stitched_devices": dict(sorted(stitched.items())),
            "anonymous_sessions_stitched": sum(
                self.anon_sessions[p] for p in consented if self.first_null[p] and self.seen_uid[p]
            ),
            "purchases": {
                "events": self.purchase_events,
                "resent": self.resent,
                "unique_transactions": unique_transactions,
                "not_set_transaction_events": self.not_set_purchases,
            },
            "purchased_items": {
                "rows": self.purchased_item_rows,
                "quantity": self.purchased_quantity,
                "distinct_item_ids": len(self.purchased_item_ids),
                "item_revenue_by_currency": {c: round(v, 2) for c, v in self.item_revenue.items()},
            },
            "revenue_by_currency": {c: round(v, 2) for c, v in self.revenue.items()},
            "revenue_in_usd_by_currency": {c: round(v, 2) for c, v in self.revenue_usd.items()},
            "rates_usd_per_unit": dict(RATES_USD_PER_UNIT),
            "stream_ids": {"web": WEB_STREAM_ID, "app": APP_STREAM_ID},
        }
        with open(self.out_dir / "manifest.json", "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
        return manifest


def _sparse_struct(values: list[Any], dtype: pa.StructType) -> pa.Array:
    """Struct array from a column that is mostly None: convert the non-null rows, then take."""
    index: list[int | None] = []
    dense: list[Any] = []
    for v in values:
        if v is None:
            index.append(None)
        else:
            index.append(len(dense))
            dense.append(v)
    if not dense:
        return pa.nulls(len(values), dtype)
    return pa.array(dense, dtype).take(pa.array(index, _INT))


def generate_export(
    out_dir: pathlib.Path,
    config: GeneratorConfig,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the export files into out_dir (created if missing) and return the manifest (also
    written to out_dir/manifest.json).

    Existing ``events_*.parquet`` / ``events_*.json`` files in out_dir are removed first, so the
    directory holds exactly one export. ``progress``, when given, receives one line per file.
    """
    # The generator allocates millions of small tuples and no reference cycles: the cyclic
    # garbage collector would only rescan them over and over (about 25% of the run time).
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(pathlib.Path(out_dir), config, progress).run()
    finally:
        if gc_enabled:
            gc.enable()
