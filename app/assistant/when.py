"""When and for whom: the days, times of day and audiences people name in a message, in every
language of the assistant, as they really write them - inflected, with or without diacritics
("w sobotę", "в суботу", "в субботу", "on Saturday", "sobote"). The words of each language are
content: dialogues/lexicon/<language>.yml (app/assistant/content/lexicon.py reads them).

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

from app.assistant.content.lexicon import WORD_CHAR, Lexicon, pattern, whole
from app.assistant.nlu import fold

#: Audiences an event may be for (dialogues/knowledge/events.yml), and who else each suits.
AUDIENCE_SUITS = {
    "children": ("children", "families", "all"),
    "families": ("families", "children", "all"),
    "adults": ("adults", "all"),
    "seniors": ("adults", "all"),
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


@lru_cache(maxsize=8)
def _patterns(lexicon: Lexicon) -> dict[str, re.Pattern[str]]:
    def words(forms: list[str]) -> str:
        return pattern(forms, fold)

    months = "|".join(words(forms) for forms in lexicon.months.values() if forms) or r"(?!x)x"
    return {
        **{f"weekday{day}": whole(words(forms)) for day, forms in lexicon.weekdays.items()},
        **{f"relative{days}": whole(words(forms)) for days, forms in lexicon.days_from_today.items()},
        **{name: whole(words(forms)) for name, forms in lexicon.periods.items()},
        "iso": re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)"),
        # 5-7.12, 5.12, 05.12.2026
        "dotted": re.compile(r"(?<![\d.])(\d{1,2})(?:\s*[-–]\s*(\d{1,2}))?\.(\d{1,2})(?:\.(\d{4}))?(?![\d])"),
        # 5 grudnia, 5-7 grudnia, 5 de diciembre, 5 tháng 12; December 5
        "day_month": re.compile(
            rf"(?<!\d)(\d{{1,2}})(?:\s*[-–]\s*(\d{{1,2}}))?\.?(?:\s+(?:de|of|del))?\s+({months})(?!{WORD_CHAR})"
        ),
        "month_day": re.compile(rf"(?<!{WORD_CHAR})({months})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d)"),
        **{f"audience_{name}": whole(words(forms)) for name, forms in lexicon.audiences.items()},
    }


@lru_cache(maxsize=8)
def _month_of(lexicon: Lexicon) -> list[tuple[re.Pattern[str], int]]:
    return [(re.compile(pattern(forms, fold)), month) for month, forms in lexicon.months.items() if forms]


def _month(lexicon: Lexicon, text: str) -> int:
    return next(month for regex, month in _month_of(lexicon) if regex.fullmatch(text))


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


def find_when(text: str, today: date, lexicon: Lexicon) -> When | None:
    """Return the days text names (None when it names none): several mentions make one range from
    the first day to the last ("Saturday and Sunday", "from the 5th to 7 December")."""
    folded = fold(text)
    p = _patterns(lexicon)
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
        month = _month(lexicon, match.group(3))
        last = match.group(2)
        seen(match, _on(today, int(match.group(1)), month), _on(today, int(last), month) if last else None)
    for match in p["month_day"].finditer(folded):
        seen(match, _on(today, int(match.group(2)), _month(lexicon, match.group(1))))
    # Named days: the longest name wins where names overlap, so that a name inside a longer one is
    # read as part of it: "კვირას" (Sunday) in "შაბათ-კვირას" (the weekend) and in "ამ კვირას" (this
    # week), "tuần này" (this week) in "cuối tuần này" (this weekend).
    named: list[tuple[re.Match[str], tuple[date, ...]]] = []
    for offset in (2, 1, 0):
        named.extend((m, (today + timedelta(days=offset),)) for m in p[f"relative{offset}"].finditer(folded))
    saturday = today + timedelta(days=(5 - today.weekday()) % 7) if today.weekday() != 6 else today - timedelta(days=1)
    named.extend((m, (max(saturday, today), saturday + timedelta(days=1))) for m in p["weekend"].finditer(folded))
    for weekday in range(7):
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
        named.extend((m, (day,)) for m in p[f"weekday{weekday}"].finditer(folded))
    named.extend((m, (today, today + timedelta(days=6 - today.weekday()))) for m in p["this_week"].finditer(folded))
    monday = today + timedelta(days=7 - today.weekday())
    named.extend((m, (monday, monday + timedelta(days=6))) for m in p["next_week"].finditer(folded))
    for match, found in sorted(named, key=lambda item: (item[0].start() - item[0].end(), item[0].start())):
        if not any(s < match.end() and match.start() < e for s, e in spans):
            seen(match, *found)
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


def find_audience(text: str, lexicon: Lexicon) -> tuple[str, int, int] | None:
    """Return (audience, start, end) for the first audience text names, or None."""
    folded = fold(text)
    best: tuple[str, int, int] | None = None
    for name in AUDIENCE_SUITS:
        match = _patterns(lexicon)[f"audience_{name}"].search(folded)
        if match and (best is None or match.start() < best[1]):
            best = (name, match.start(), match.end())
    return best
