"""When and for whom: the days, times of day and audiences people name in a message, in every
language of the assistant (pl uk ru en be), as they really write them - inflected, with or without
diacritics ("w sobotę", "в суботу", "в субботу", "у суботу", "on Saturday", "sobote").

`find_when` turns "tomorrow", "this weekend", "on Saturday evening", "next week", "5 grudnia",
"5-7.12" or "2027-01-09" into the days they mean (relative to today in the city's time zone);
`find_audience` turns "for kids", "dla dzieci", "для дітей" into children, families, adults or seniors.
Both return the span they read, so the NLU can mark it as an entity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from app.assistant.nlu import fold

#: Audiences an event may be for (dialogues/knowledge/events.yml), and who else each suits.
AUDIENCE_SUITS = {
    "children": ("children", "families", "all"),
    "families": ("families", "children", "all"),
    "adults": ("adults", "all"),
    "seniors": ("adults", "all"),
}

_APOSTROPHE = "['’ʼ`]?"

#: Weekday 0 (Monday) to 6 (Sunday): the word forms of each language (matched as whole words,
#: without diacritics and case).
_WEEKDAYS: dict[int, tuple[str, ...]] = {
    0: ("monday", "mon", "poniedzialek", "poniedzialku", "poniedzialki", "poniedzialkach",
        "понеділок", "понеділка", "понеділки", "понедельник", "понедельника", "понедельникам",
        "панядзелак", "панядзелка"),
    1: ("tuesday", "tue", "tues", "wtorek", "wtorku", "wtorki", "wtorkach",
        "вівторок", "вівторка", "вівторки", "вторник", "вторника", "вторникам", "аўторак", "аўторка",
        "ауторак"),
    2: ("wednesday", "wed", "sroda", "srode", "srody", "srodach",
        "середа", "середу", "середи", "среда", "среду", "среды", "средам", "серада", "сераду", "серады"),
    3: ("thursday", "thu", "thur", "thurs", "czwartek", "czwartku", "czwartki", "czwartkach", "czw",
        "четвер", "четверга", "четверги", "четверг", "четвергам", "чацвер", "чацвярга"),
    4: ("friday", "fri", "piatek", "piatku", "piatki", "piatkach",
        f"п{_APOSTROPHE}ятниця", f"п{_APOSTROPHE}ятницю", f"п{_APOSTROPHE}ятниці",
        "пятница", "пятницу", "пятницы", "пятницам", "пятніца", "пятніцу", "пятніцы"),
    5: ("saturday", "sobota", "sobote", "soboty", "sobotach", "sobotami",
        "субота", "суботу", "суботи", "суботам", "суббота", "субботу", "субботы", "субботам",
        "суботы"),
    6: ("sunday", "niedziela", "niedziele", "niedzieli", "niedzielach",
        "неділя", "неділю", "неділі", "воскресенье", "воскресенья", "воскресеньям", "воскресение",
        "нядзеля", "нядзелю", "нядзелі"),
}
#: Days counted from today.
_RELATIVE: dict[int, tuple[str, ...]] = {
    0: ("today", "tonight", "dzis", "dzisiaj", "dzisiejszy", "сьогодні", "сьогодня", "сегодня", "сёння", "сення"),
    1: ("tomorrow", "tmrw", "jutro", "jutra", "завтра", "заўтра", "заутра"),
    2: ("pojutrze", "післязавтра", "послезавтра", "паслязаўтра", "паслязаутра"),
}
_AFTER_TOMORROW_EN = r"day after tomorrow"
_WEEKEND = r"week-?ends?|weekend\w*|уикенд\w*|вікенд\w*|вихідн\w*|выходн\w*|выхадн\w*"
_EVENING = (
    r"evenings?|tonight|after work|wieczor\w*|wieczorem|po pracy|ввечері|увечері|вечір|вечор\w*|"
    r"після роботи|вечер\w*|после работы|вечар\w*|увечары|пасля працы"
)
_THIS_WEEK = (
    r"this week|w tym tygodniu|tego tygodnia|w tym tyg|цього тижня|на цьому тижні|цей тиждень|"
    r"на этой неделе|эту неделю|на гэтым тыдні|гэтага тыдня|гэты тыдзень"
)
_NEXT_WEEK = (
    r"next week|w przyszlym tygodniu|przyszly tydzien|w nastepnym tygodniu|nastepny tydzien|"
    r"наступного тижня|на наступному тижні|наступний тиждень|на следующей неделе|следующую неделю|"
    r"на будущей неделе|на наступным тыдні|наступнага тыдня|наступны тыдзень"
)
#: Month 1-12: the genitive ("5 grudnia", "5 грудня", "5 декабря", "5 снежня") and English names.
_MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "stycznia", "styczen", "січня", "января", "студзеня"),
    2: ("february", "feb", "lutego", "luty", "лютого", "февраля", "лютага"),
    3: ("march", "mar", "marca", "marzec", "березня", "марта", "сакавіка"),
    4: ("april", "apr", "kwietnia", "kwiecien", "квітня", "апреля", "красавіка"),
    5: ("may", "maja", "maj", "травня", "мая", "траўня", "трауня"),
    6: ("june", "jun", "czerwca", "czerwiec", "червня", "июня", "чэрвеня"),
    7: ("july", "jul", "lipca", "lipiec", "липня", "июля", "ліпеня"),
    8: ("august", "aug", "sierpnia", "sierpien", "серпня", "августа", "жніўня", "жніуня"),
    9: ("september", "sep", "sept", "wrzesnia", "wrzesien", "вересня", "сентября", "верасня"),
    10: ("october", "oct", "pazdziernika", "pazdziernik", "жовтня", "октября", "кастрычніка"),
    11: ("november", "nov", "listopada", "listopad", "листопада", "ноября", "лістапада"),
    12: ("december", "dec", "grudnia", "grudzien", "грудня", "декабря", "снежня"),
}
_AUDIENCES: dict[str, str] = {
    "children": (
        r"kids?|child|children|childrens|toddlers?|teens?|teenagers?|dzieci|dziecka|dzieciom|dzieckiem|"
        r"dzieciak\w*|dziecie\w*|maluch\w*|nastolat\w*|mlodziez\w*|діт\w*|дитин\w*|дитяч\w*|малюк\w*|"
        r"підлітк\w*|дет\w*|ребен\w*|малыш\w*|подрост\w*|дзец\w*|дзяц\w*|дзіця\w*|дзіцяч\w*|падлетк\w*"
    ),
    "families": (
        rf"famil\w*|rodzin\w*|сім{_APOSTROPHE}\w*|родин\w*|семь\w*|семей\w*|семейн\w*|сям{_APOSTROPHE}\w*"
    ),
    "adults": r"adults?|grown-?ups?|doros\w*|доросл\w*|взросл\w*|дарос\w*",
    "seniors": (
        r"seniors?|elderly|older people|pensioners?|retired|senior\w*|emeryt\w*|starszych|osob starszych|"
        r"пенсіонер\w*|літн\w*|сеньйор\w*|пенсионер\w*|пожил\w*|пенсіянер\w*|пажыл\w*"
    ),
}


@dataclass(frozen=True)
class When:
    """The days a message names (first to last, inclusive) and whether it asks about the evening."""

    first: date
    last: date
    evening: bool = False
    start: int = 0
    end: int = 0

    @property
    def one_day(self) -> bool:
        """Return whether the message names a single day."""
        return self.first == self.last


def _words(forms: tuple[str, ...]) -> str:
    return "|".join(sorted({fold(f) for f in forms}, key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    def whole(alternatives: str) -> re.Pattern[str]:
        return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    months = "|".join(_words(forms) for forms in _MONTHS.values())
    return {
        **{f"weekday{day}": whole(_words(forms)) for day, forms in _WEEKDAYS.items()},
        **{f"relative{days}": whole(_words(forms)) for days, forms in _RELATIVE.items()},
        "after_tomorrow": whole(_AFTER_TOMORROW_EN),
        "weekend": whole(fold(_WEEKEND)),
        "evening": whole(fold(_EVENING)),
        "this_week": whole(fold(_THIS_WEEK)),
        "next_week": whole(fold(_NEXT_WEEK)),
        "iso": re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)"),
        # 5-7.12, 5.12, 05.12.2026
        "dotted": re.compile(r"(?<![\d.])(\d{1,2})(?:\s*[-–]\s*(\d{1,2}))?\.(\d{1,2})(?:\.(\d{4}))?(?![\d])"),
        # 5 grudnia, 5-7 grudnia, December 5
        "day_month": re.compile(rf"(?<!\d)(\d{{1,2}})(?:\s*[-–]\s*(\d{{1,2}}))?\.?\s+({months})(?!\w)"),
        "month_day": re.compile(rf"(?<!\w)({months})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d)"),
        **{f"audience_{name}": whole(fold(pattern)) for name, pattern in _AUDIENCES.items()},
    }


_MONTH_OF = {fold(form): month for month, forms in _MONTHS.items() for form in forms}


def _on(today: date, day: int, month: int, year: int | None = None) -> date | None:
    """Return the date day.month (of year, else the next one from today on), or None if there is none."""
    try:
        found = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and found < today - timedelta(days=31):
        try:
            found = date(today.year + 1, month, day)
        except ValueError:
            return None
    return found


def find_when(text: str, today: date) -> When | None:
    """Return the days text names (None when it names none): several mentions make one range from
    the first day to the last ("Saturday and Sunday", "from the 5th to 7 December")."""
    folded = fold(text)
    p = _patterns()
    days: list[date] = []
    spans: list[tuple[int, int]] = []

    def seen(match: re.Match[str], *found: date | None) -> None:
        real = [d for d in found if d is not None]
        if real:
            days.extend(real)
            spans.append(match.span())

    for match in p["iso"].finditer(folded):
        try:
            seen(match, date(int(match.group(1)), int(match.group(2)), int(match.group(3))))
        except ValueError:
            continue
    for match in p["dotted"].finditer(folded):
        first, last, month, year = match.groups()
        y = int(year) if year else None
        seen(match, _on(today, int(first), int(month), y), _on(today, int(last), int(month), y) if last else None)
    for match in p["day_month"].finditer(folded):
        month = _MONTH_OF[match.group(3)]
        last = match.group(2)
        seen(match, _on(today, int(match.group(1)), month), _on(today, int(last), month) if last else None)
    for match in p["month_day"].finditer(folded):
        seen(match, _on(today, int(match.group(2)), _MONTH_OF[match.group(1)]))
    for match in p["after_tomorrow"].finditer(folded):
        seen(match, today + timedelta(days=2))
    for offset in (2, 1, 0):
        for match in p[f"relative{offset}"].finditer(folded):
            if any(s <= match.start() < e for s, e in spans):
                continue
            seen(match, today + timedelta(days=offset))
    for weekday in range(7):
        for match in p[f"weekday{weekday}"].finditer(folded):
            seen(match, today + timedelta(days=(weekday - today.weekday()) % 7))
    for match in p["weekend"].finditer(folded):
        saturday = today + timedelta(days=(5 - today.weekday()) % 7) if today.weekday() != 6 else today - timedelta(days=1)
        seen(match, max(saturday, today), saturday + timedelta(days=1))
    for match in p["this_week"].finditer(folded):
        seen(match, today, today + timedelta(days=6 - today.weekday()))
    for match in p["next_week"].finditer(folded):
        monday = today + timedelta(days=7 - today.weekday())
        seen(match, monday, monday + timedelta(days=6))
    evening = list(p["evening"].finditer(folded))
    if not days and not evening:
        return None
    if not days:  # "in the evening": this evening and the next ones of the week
        days = [today, today + timedelta(days=6)]
    spans.extend(m.span() for m in evening)
    return When(
        first=min(days),
        last=max(days),
        evening=bool(evening),
        start=min(s for s, _ in spans),
        end=max(e for _, e in spans),
    )


def find_audience(text: str) -> tuple[str, int, int] | None:
    """Return (audience, start, end) for the first audience text names, or None."""
    folded = fold(text)
    best: tuple[str, int, int] | None = None
    for name in AUDIENCE_SUITS:
        match = _patterns()[f"audience_{name}"].search(folded)
        if match and (best is None or match.start() < best[1]):
            best = (name, match.start(), match.end())
    return best
