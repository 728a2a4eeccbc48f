"""Catalogs, the per-request locale, negotiation and locale-aware formatting.

The locale of the request lives in a ContextVar, so `_()` works the same in routes, services and
templates. Catalogs are the compiled `.mo` files that `make` builds; when one is missing or older
than its `.po`, the `.po` is compiled in memory so a fresh checkout never shows raw msgids.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from threading import Lock

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

from app.config import get_settings
from app.languages import RTL_LOCALES

DOMAIN = "messages"
_current_locale: ContextVar[str | None] = ContextVar("witaj_locale", default=None)
_cache: dict[tuple[Path, str], NullTranslations] = {}
_cache_lock = Lock()

def _load(locales_dir: Path, code: str) -> NullTranslations:
    folder = locales_dir / code / "LC_MESSAGES"
    po_path, mo_path = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo_path.exists() and (not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime):
        with mo_path.open("rb") as fp:
            return Translations(fp, domain=DOMAIN)
    if po_path.exists():
        with po_path.open("rb") as fp:
            catalog = read_po(fp, locale=code)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer, domain=DOMAIN)
    return NullTranslations()


def translations(code: str, locales_dir: Path | None = None) -> NullTranslations:
    """Return the (cached) translations of locale code."""
    folder = locales_dir or get_settings().locale_path
    key = (folder, code)
    found = _cache.get(key)
    if found is None:
        with _cache_lock:
            found = _cache.get(key)
            if found is None:
                found = _load(folder, code)
                _cache[key] = found
    return found


def reload_catalogs() -> None:
    """Forget loaded catalogs (after `witaj i18n compile`, and in tests)."""
    with _cache_lock:
        _cache.clear()


def get_locale() -> str:
    """Return the locale of the current request (the default locale outside one)."""
    return _current_locale.get() or get_settings().default_locale


def set_locale(code: str) -> object:
    """Set the current locale; return a token for reset_locale."""
    return _current_locale.set(code)


def reset_locale(token: object) -> None:
    """Restore the locale that was current before set_locale."""
    _current_locale.reset(token)  # type: ignore[arg-type]


@contextmanager
def use_locale(code: str) -> Iterator[None]:
    """Run a block with code as the current locale."""
    token = _current_locale.set(code)
    try:
        yield
    finally:
        _current_locale.reset(token)


def gettext(message: str, **variables: object) -> str:
    """Return message translated into the current locale, %-formatted with variables if given."""
    text = translations(get_locale()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """Return the plural form for n in the current locale, formatted with num=n and variables."""
    text = translations(get_locale()).ungettext(singular, plural, n)
    return text % {"num": n, **variables}


def pgettext(context: str, message: str, **variables: object) -> str:
    """Return message in context translated into the current locale."""
    text = translations(get_locale()).upgettext(context, message)
    return text % variables if variables else text


def lazy_gettext(message: str, **variables: object) -> LazyProxy:
    """Return a proxy translated when it is rendered (for module-level strings)."""
    return LazyProxy(gettext, message, enable_cache=False, **variables)


_ = gettext
_l = lazy_gettext


def enabled_locales() -> list[str]:
    """Return the enabled locale codes, in the configured order."""
    return list(get_settings().locales)


def text_direction(code: str | None) -> str:
    """Return 'rtl' or 'ltr' for locale code ('auto' when the language is not known: the browser
    then takes the direction from the text). Templates: `dir="{{ code|textdir }}"` beside `lang`."""
    if not code:
        return "auto"
    return "rtl" if code.replace("-", "_").split("_")[0] in RTL_LOCALES else "ltr"


_LANGUAGE_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def parse_accept_language(header: str | None) -> list[str]:
    """Return the language ranges of an Accept-Language header, best first (q=0 dropped)."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        match = _LANGUAGE_RANGE.match(part)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality <= 0:
            continue
        ranked.append((-quality, position, match.group(1).lower()))
    return [tag for _q, _p, tag in sorted(ranked)]


def negotiate(
    *,
    path_locale: str | None,
    cookie_locale: str | None,
    accept_language: str | None,
    enabled: list[str],
    default: str,
) -> str:
    """Return the locale for a request: URL prefix, then cookie, then Accept-Language, then default."""
    if path_locale in enabled:
        return path_locale  # type: ignore[return-value]
    if cookie_locale in enabled:
        return cookie_locale  # type: ignore[return-value]
    for tag in parse_accept_language(accept_language):
        primary = tag.split("-")[0]
        if primary in enabled:
            return primary
    return default


def babel_locale(code: str | None = None) -> Locale:
    """Return the Babel Locale of code (the current locale by default)."""
    return _babel_locale(code or get_locale())


@lru_cache(maxsize=64)
def _babel_locale(code: str) -> Locale:
    # One Locale per code: a new one reads its locale data again on first use.
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def format_date(value: date | datetime, format: str = "medium") -> str:  # noqa: A002
    """Return a date in the current locale (datetimes first moved to the office's time zone)."""
    if isinstance(value, datetime):
        value = value.astimezone(get_settings().zone).date()
    return babel_dates.format_date(value, format=format, locale=babel_locale())


def format_datetime(value: datetime, format: str = "medium") -> str:  # noqa: A002
    """Return a timestamp in the current locale and the office's time zone."""
    return babel_dates.format_datetime(value, format=format, tzinfo=get_settings().zone, locale=babel_locale())


def format_time(value: time | datetime, format: str = "short") -> str:  # noqa: A002
    """Return a time of day in the current locale."""
    if isinstance(value, datetime):
        value = value.astimezone(get_settings().zone)
    return babel_dates.format_time(value, format=format, locale=babel_locale())


def format_spans(spans: Iterable[tuple[time, time]]) -> str:
    """Return opening spans in the current locale ("10:00–14:00, 15:00–19:00")."""
    return ", ".join(f"{format_time(opens)}–{format_time(closes)}" for opens, closes in spans)


def format_day_groups(values: dict[int, str]) -> list[str]:
    """Return "Mon–Fri value" parts for the weekdays (Monday = 0) of values, in the current locale:
    consecutive days with the same value together, in week order."""
    names = babel_locale().days["format"]["abbreviated"]
    groups: list[tuple[list[int], str]] = []
    for day in sorted(values):
        if groups and groups[-1][1] == values[day] and groups[-1][0][-1] == day - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], values[day]))
    return [
        f"{names[days[0]] if len(days) == 1 else names[days[0]] + '–' + names[days[-1]]} {value}"
        for days, value in groups
    ]


def format_number(value: int | float | Decimal) -> str:
    """Return a number with the current locale's separators."""
    return babel_numbers.format_decimal(value, locale=babel_locale())


def format_timedelta(seconds: float) -> str:
    """Return a duration such as '3 days' in the current locale."""
    return babel_dates.format_timedelta(seconds, locale=babel_locale())
