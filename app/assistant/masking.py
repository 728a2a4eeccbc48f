"""Masks personal data in newcomers' messages before content editors read them (issue 18, privacy).

Pure regular expressions compiled at import: no model, no network, never raises. Each kind of item
becomes a plain bracketed English placeholder ([name], [phone], [e-mail], [PESEL], [case],
[number], [address]) that is the same in every language and is never masked again, so masking is
idempotent. Numbers and e-mails are found by shape; names by the phrases people introduce
themselves with (in the eleven languages, typed with or without diacritics), by titles (Pan, пані,
Sra., anh...) and, in scripts with letter case, as capitalised words that do not start a sentence
and are not in the assistant's vocabulary (`vocabulary()`: its training data, lexicon and places).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation: masking imports no other module of the app at run time
    from app.assistant.data import DialogueData

__all__ = ["KINDS", "Masked", "mask", "vocabulary"]

#: The kinds of personal data, each masked as "[kind]".
KINDS = ("name", "phone", "e-mail", "PESEL", "case", "number", "address")
_PLACEHOLDER = {kind: f"[{kind}]" for kind in KINDS}
_PLACEHOLDERS = re.compile("|".join(re.escape(p) for p in _PLACEHOLDER.values()))


@dataclass(frozen=True)
class Masked:
    """A message with its personal data replaced by placeholders, and how many of each kind."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def kinds(self) -> frozenset[str]:
        """Return the kinds of personal data that were masked."""
        return frozenset(self.counts)


# --- Letters, words and folding -----------------------------------------------------------------

#: A letter: \w without digits and "_", plus the combining marks that are no \w characters
#: (Devanagari vowel signs, Arabic harakat, Vietnamese typed with combining accents).
_LETTER = r"(?:[^\W\d_]|[\u0300-\u036f\u0900-\u0963\u0966-\u0DFF\u064B-\u065F\u0670])"
_APOS = "'’ʼ`"
#: A word: letters, possibly joined by apostrophes (I'm, ім'я, O'Connor); hyphens split words so
#: that "MOPS-ში" and "Bielsko-Biała" are judged part by part.
_WORD = re.compile(rf"{_LETTER}+(?:[{_APOS}]{_LETTER}+)*")
#: ł has no decomposition; Belarusian ў alternates with в ("Кракаў", "у Кракаве").
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss", "ў": "в", "Ў": "в", "’": "'", "ʼ": "'", "`": "'"})


@lru_cache(maxsize=1 << 16)
def _fold(word: str) -> str:
    # Lower case, no diacritics, one apostrophe: people type "sie" for "się" and "Krakow".
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD).lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


#: Endings stripped (after folding) so an inflected form meets its vocabulary word crudely:
#: "Krakowie" ~ "Krakow", "Ukrainy" ~ "Ukraina", "Хуті" ~ "Хута" (stems, not grammar).
_ENDINGS = frozenset(
    """
    a e i o u y s es em ie ego emu ej iej ow om ach ami owi ia ii iu ym im ich ych
    а я у ю е і и ы о ой ом ем ей ью ах ях ами ями ов ев ии ия ию ого ому ую ая ий ый их ых ым им
    """.split()
)
_MIN_STEM = 3


def _stems(folded: str) -> list[str]:
    # Every way of cutting one ending off: "krakowie" -> "krakowi", "krakow"; "krakow" -> "krak".
    return [
        folded[:-n]
        for n in (1, 2, 3)
        if len(folded) - n >= _MIN_STEM and folded[-n:] in _ENDINGS
    ]


@dataclass(frozen=True)
class _Known:
    words: frozenset[str]
    stems: frozenset[str]

    def __contains__(self, word: str) -> bool:
        folded = _fold(word)
        if self._has(folded):
            return True
        # Turkish puts a proper noun's endings after an apostrophe: "Krakow'da", "Türkiye'denim".
        head = folded.split("'", 1)[0]
        if head != folded and len(head) >= 3 and self._has(head):
            return True
        # Arabic joins "and", "so", "with", "for" and "the" to the word: وأريد is أريد.
        bare = _ARABIC_PREFIX.sub("", folded)
        return bare != folded and len(bare) >= 2 and self._has(bare)

    def _has(self, folded: str) -> bool:
        if folded in self.words or folded in self.stems:
            return True
        return any(stem in self.stems for stem in _stems(folded))


_ARABIC_PREFIX = re.compile(r"^(?:وال|فال|بال|لل|ال|و|ف|ب|ل)")


@lru_cache(maxsize=8)
def _known(words: frozenset[str]) -> _Known:
    # Cached by the frozenset (whose hash Python caches): the app passes the same vocabulary each time.
    folded = frozenset(_fold(w) for w in words) | _COMMON
    return _Known(folded, frozenset(stem for w in folded for stem in (w, *_stems(w))))


#: Proper nouns newcomers name that are nobody's name: shops, apps, banks, cities, countries and
#: nationalities the training data may lack (folded; the caller's vocabulary adds its own). A title
#: ("chị Lan", "anh Nam") masks even a known word but never one of these, so no Vietnamese
#: syllable is here: "Ba Lan" and "Việt Nam" are names too.
_COMMON = frozenset(
    _fold(w)
    for w in """
    biedronka lidl zabka żabka auchan carrefour kaufland netto rossmann hebe pepco ikea allegro olx
    inpost dpd dhl poczta polska orlen pkp pks mpk jakdojade bolt uber glovo wolt google facebook
    instagram telegram whatsapp viber signal messenger youtube tiktok gmail outlook revolut pko bp
    pekao mbank santander ing millennium alior blik visa mastercard paypal zus nfz pup mops usc uw
    warszawa warsaw varsovia wroclaw gdansk poznan lodz katowice lublin rzeszow tarnow wieliczka
    krakow krakau cracow cracovia lwow lviv lvov lwiw kyiv kiev kijow kharkiv kharkov charkow odesa
    odessa dnipro zaporizhzhia mykolaiv kherson minsk brest grodno gomel vitebsk mogilev tbilisi
    batumi kutaisi istanbul ankara izmir hanoi saigon danang delhi mumbai bangalore kolkata chennai
    cairo damascus baghdad aleppo beirut amman moscow moskva berlin london paris prague praha vienna
    poland polska polonia ukraine ukraina ucrania belarus bielorussia georgia gruzja turkey turkiye
    turcja vietnam wietnam india indie syria egypt iraq russia rosja germany niemcy europe europa
    europejska unia eu ue schengen
    польша польща польшча польшы украина україна украіна беларусь білорусь беларусі белоруссия грузия
    грузія грузія россия росія расія турция туреччина турцыя германия німеччина германія европа європа
    еўропа краков краків кракаў варшава варшава вроцлав гданьск познань лодзь катовице харьков харків
    харкаў киев київ кіеў львов львів львоў одесса одеса адэса днепр дніпро минск мінськ мінск гомель
    брест тбилиси стамбул
    españa espana colombia venezuela mexico méxico peru perú argentina chile cuba ecuador latinoamerica
    latinoamérica europa hacienda cracovia varsovia ucrania rusia bielorrusia turquia turquía
    polish polski polka polak ukrainian ukrainka ukrainiec belarusian russian georgian turkish
    vietnamese indian arabic hindi english spanish german french european
    i'd i'll i've i'm
    london londyn лондон лондан madrid paris paryz париж berlin rome rzym zakopane gdynia sopot
    france francja francia франция франція germany spain hiszpania kazakhstan kazachstan казахстан
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december
    """.split()
)

# --- E-mails, case references and numbers --------------------------------------------------------

#: An e-mail, with a Unicode local part; "name (at) domain (dot) com" and "name [at] domain.pl" too.
_AT = r"\s*[(\[{<]\s*(?:at|a|małpa|malpa|собака|sobaka)\s*[)\]}>]\s*"
_DOT = r"(?:\.|\s*[(\[{<]\s*(?:dot|kropka|точка)\s*[)\]}>]\s*)"
_EMAIL = re.compile(
    r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+"
    rf"|(?<![\w.+%-])[\w.+%-]*\w(?:@|{_AT})[\w-]+(?:{_DOT}[\w-]+)+"
    # "anna at gmail dot com": only with the words at and dot and a common ending, to spare prose.
    r"|(?i:(?<![\w.+%-])[\w.+%-]*\w\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)*\s+dot\s+(?:com|pl|net|org|eu|ua|ru|by|ge|tr|vn|in|info)\b)"
)

#: A case reference as app/cases/access.py REFERENCE has it, in any letter case.
_CASE = r"(?<![\w-])(?i:[a-z]{2,5})-\d{4}-\d{6,}(?!\w)"
#: An IBAN with its country letters (PL61 1090 1014 ...); a bare one is a long digit run below.
_IBAN = r"(?<!\w)(?i:[a-z]{2})\d{2}(?:[ \u00a0]?(?=[A-Z]{0,3}\d)[A-Z0-9]{4}){3,7}(?:[ \u00a0]?\d{1,3})?(?!\w)"
#: Dates are kept and skip the runs below (12.03.2025, 2025-03-12, 12/03/25).
_DATE = r"(?<![\d.,/-])(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})(?![\d\w])"
#: A run of digits joined by single spaces, dots, dashes or slashes, with an optional "+" or "00"
#: and area codes in brackets: the candidates for phone numbers and long numbers, judged by
#: _judge(). Atomic, so "500zł" is not cut into a shorter run that happens to fit.
_SEP = r"[ \u00a0.\-/]"
_RUN = (
    rf"(?<![\w+])(?<!\d[.,\-/])(?>(?:\+[ \u00a0]?)?(?:\(\+?\d{{1,4}}\)[ \u00a0.\-]?)?\d"
    rf"(?:\d|{_SEP}(?=\d)|[ \u00a0]?\(\d{{1,4}}\)[ \u00a0.\-]?(?=\d))*)(?!\w)"
)
#: An identifier of letters and six or more digits (passports, residence cards: AB1234567).
_ID = r"(?<!\w)(?=(?:[A-Za-z]*\d){6})[A-Za-z]{1,4}\d[A-Za-z0-9]*(?!\w)"
_NUMBERS = re.compile(
    rf"(?P<case>{_CASE})|(?P<date>{_DATE})|(?P<iban>{_IBAN})|(?P<run>{_RUN})|(?P<id>{_ID})"
)
#: Whatever digits are left: no run of six or more survives, whatever surrounds it.
_DIGITS = re.compile(r"\d{6,}")
#: Sums written with thousands groups ("100 000 000") that a nine-digit phone shape would take.
_THOUSANDS = re.compile(r"\d{1,3}(?:[ \u00a0.]000)+")
#: "997 998 999": the emergency numbers listed together are not one phone number.
_EMERGENCY = frozenset({"112", "997", "998", "999", "991", "992", "993", "994", "986", "987", "116"})
_LOCAL_7 = re.compile(r"\d{3}[ \u00a0.\-]\d{2}[ \u00a0.\-]\d{2}")
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


def _pesel_valid(digits: str) -> bool:
    if len(digits) != 11 or not digits.isascii():
        return False
    total = sum(int(d) * w for d, w in zip(digits, _PESEL_WEIGHTS, strict=False))
    return (10 - total % 10) % 10 == int(digits[10])


def _judge(run: str) -> str | None:
    """Return the kind of a digit run, or None to keep it (sums, years, postcodes, dates)."""
    digits = "".join(c for c in run if c.isdigit())
    n = len(digits)
    international = run.startswith(("+", "(+")) or (run.startswith("00") and n >= 10)
    continuous = n == len(run)
    if n < 6:
        return None
    if international:
        return "phone" if n <= 15 else "number"
    if continuous:
        if n == 11:
            # Mask any eleven digits; a valid checksum or anything but a Polish dialling code is PESEL.
            return "phone" if digits.startswith("48") and not _pesel_valid(digits) else "PESEL"
        if n in (9, 10):
            return "phone"
        return "number"
    # Separated groups: phones have 9-13 digits; fewer are sums, ranges and local numbers.
    if n in (7, 8):
        return "phone" if _LOCAL_7.fullmatch(run) else None
    if n == 6:
        return None
    if n == 9 and (_THOUSANDS.fullmatch(run) or set(re.split(r"\D+", run)) <= _EMERGENCY):
        return None
    if n <= 11:
        return "phone"
    if n <= 13 and digits.startswith(("48", "380", "375", "7", "90", "84", "91", "995", "34")):
        return "phone"
    return "number"


# --- Addresses ----------------------------------------------------------------------------------

#: Street + house number after a street word ("ul. Długa 5/3", "вул. Шевченка 10, кв. 4",
#: "calle Mayor 12"); a street without a number names a place, not a home, and is kept.
_STREET_WORDS = (
    r"ul\.?|ulica|ulicy|ulicę|al\.|aleja|alei|os\.|osiedle|osiedlu|pl\.|plac|placu|"
    r"вул\.?|вулиця|вулиці|ул\.|улица|улице|просп\.?|проспект|пр-т|вуліца|вул|"
    r"calle|c/|avenida|avda\.?|street|st\.|road|rd\.|sokak|sok\.|cad\.|caddesi|đường|duong|phố|pho"
)
_ADDRESS = re.compile(
    rf"(?i:(?<!\w)(?:{_STREET_WORDS}))\s*"
    rf"(?P<street>(?:{_LETTER}[\w.'’-]*\s+){{1,3}}?\d{{1,4}}[A-Za-z]?(?:\s?/\s?\d{{1,4}}[A-Za-z]?)?"
    rf"(?:,?\s*(?i:m\.|lok\.|mieszk\.|кв\.|apt\.?|piso)\s*\d{{1,4}})?)(?![\w/])"
)

# --- Names ----------------------------------------------------------------------------------------


def _phrases(text: str) -> dict[str, list[tuple[str, ...]]]:
    # Folded word tuples by their first word, longest first: "mi nombre es" before "mi nombre".
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for line in text.strip().splitlines():
        if words := tuple(_fold(w) for w in _WORD.findall(line)):
            by_first.setdefault(words[0], []).append(words)
    return {first: sorted(p, key=len, reverse=True) for first, p in by_first.items()}


#: Phrases after which a name follows for sure: the next word is masked whatever it is, and up to
#: two more unless they are known words. Written folded-insensitive: diacritics and case are ignored.
_STRONG = _phrases(
    """
    my name is
    my name's
    my names
    my full name is
    nazywam się
    mam na imię
    moje imię to
    moje imie to
    меня зовут
    мене звати
    мене звуть
    мое имя
    моє ім'я
    моё имя
    мяне завуць
    маё імя
    menya zovut
    mene zvaty
    mene zvati
    mene zvut
    moe imya
    mne zovut
    myane zavuts
    me llamo
    mi nombre es
    mi nombre
    benim adım
    adım
    ismim
    benim ismim
    tên tôi là
    tôi tên là
    tên em là
    em tên là
    tên mình là
    mình tên là
    tên của tôi là
    اسمي
    اسمي هو
    واسمي
    ismi
    esmi
    मेरा नाम
    मेरा नाम है
    mera naam
    mera nam
    mera naam hai
    ჩემი სახელია
    ჩემი სახელი არის
    მე მქვია
    მქვია
    chemi saxelia
    chemi sakhelia
    me mqvia
    """
)
#: Phrases after which a name may follow ("I'm Anna" but "I'm looking"): the next word is masked
#: only when it is no known word and, in a script with capitals, is capitalised.
_WEAK = _phrases(
    """
    i'm
    i am
    im
    this is
    call me
    jestem
    ja jestem
    я
    soy
    yo soy
    ben
    tôi là
    em là
    mình là
    انا
    أنا
    მე ვარ
    me var
    """
)
#: Titles before a capitalised name ("Pani Anna", "пані Олена", "Sra. García", "anh Nam") and
#: Turkish titles after one ("Ahmet Bey").
_TITLES_BEFORE = frozenset(
    """
    mr mrs ms miss dr pan pani pana panią pania panu panem panie
    пан пані пана господин госпожа господина госпожи пане
    sr sra srta señor señora senor senora señorita don doña dona bay bayan anh chị ông bà cô
    """.split()
)  # Vietnamese only with its accents: folded, "cô" and "bà" would be "có" (have) and "ba" (three).
_TITLES_AFTER = frozenset({"bey", "hanim", "hanım"})
#: Words that follow "I'm", "jestem", "soy", "انا" without being a name (besides known words).
_NOT_NAMES = frozenset(
    _fold(w)
    for w in """
    a an the not no from here new very so just also still really sorry ok okay fine
    z ze nie tu tutaj sam sama bardzo już juz
    из с не тут здесь уже очень з тут вже дуже
    de un una no muy aquí aqui nuevo nueva
    ne çok cok burada yeni
    không khong đang dang rất rat ở o người nguoi
    من لا في هنا طالب طالبة جديد جديدة ساكن ساكنة عايش عايشة رايح رايحة واصل واصلة لسا مريض مريضة
    لاجئ لاجئة حامل متزوج متزوجة بدي بحاجة محتاج محتاجة عم هون هنا
    არ აქ ახალი
    """.split()
)
_START = frozenset(".!?…\n;:¿¡")
_GAP = re.compile(r"[ \u00a0]*[:,\-–—]?[ \u00a0]*[\"'«»„“”]?[ \u00a0]*")


def _cased(word: str) -> bool:
    return word[0].upper() != word[0].lower()


def _capitalised(word: str) -> bool:
    return word[0].isupper()


def _acronym(word: str) -> bool:
    # PUP, MOPS, NFZ: all-capitals words of up to five letters are institutions, not people.
    return len(word) <= 5 and word.isupper()


class _Names:
    def __init__(self, text: str, known: _Known) -> None:
        self.text = text
        self.known = known
        # Only our own placeholders are skipped: a name a newcomer typed in brackets ("[Olena]") is not one.
        inside = {i for m in _PLACEHOLDERS.finditer(text) for i in range(*m.span())}
        self.words = [m for m in _WORD.finditer(text) if m.start() not in inside]
        self.folded = [_fold(m.group()) for m in self.words]
        self.masked: set[int] = set()

    def _adjacent(self, i: int, j: int, gap: re.Pattern[str] | None = None) -> bool:
        # Word j follows word i with only a space (or a colon, comma, dash or quote) between them.
        between = self.text[self.words[i].end() : self.words[j].start()]
        return bool((gap or _SPACES).fullmatch(between))

    def _initial(self, i: int) -> bool:
        # The first word, or one after a sentence's end; a placeholder before it counts as a word,
        # so "[phone] Anna" masks Anna however often it is masked again.
        before = self.text[self.words[i - 1].end() if i else 0 : self.words[i].start()]
        return (i == 0 and not any(c.isalnum() for c in before)) or any(c in _START for c in before)

    def _unknown(self, i: int) -> bool:
        return self.folded[i] not in self.known and self.folded[i] not in _NOT_NAMES

    def run(self) -> None:
        n = len(self.words)
        self.introduced()
        for i in range(n):
            word = self.words[i].group()
            if word.lower() in _TITLES_BEFORE and i + 1 < n and self._adjacent(i, i + 1, _TITLE_GAP):
                nxt = self.words[i + 1].group()
                if _capitalised(nxt) and not _acronym(nxt) and self.folded[i + 1] not in _COMMON:
                    self.masked.add(i + 1)
                    if i + 2 < n and self._adjacent(i + 1, i + 2) and self._capital_unknown(i + 2):
                        self.masked.add(i + 2)
            if self.folded[i] in _TITLES_AFTER and i and self._adjacent(i - 1, i):
                if _capitalised(self.words[i - 1].group()) and self.folded[i - 1] not in self.known:
                    self.masked.add(i - 1)
            if not self._initial(i) and self._capital_unknown(i) and len(word) > 1:
                self.masked.add(i)
        # "Oksana Petrenko" as a whole answer: a first name starts the sentence, so it is only
        # masked when the unknown capitalised word after it is (a place is seldom two such words).
        for i in range(n - 2, -1, -1):
            if i + 1 in self.masked and i not in self.masked and self._adjacent(i, i + 1):
                if self._capital_unknown(i) and len(self.words[i].group()) > 1:
                    self.masked.add(i)

    def _capital_unknown(self, i: int) -> bool:
        word = self.words[i].group()
        return _cased(word) and _capitalised(word) and not _acronym(word) and self._unknown(i)

    def introduced(self) -> None:
        """Mark the names after the introducing phrases (the longest phrase at each word)."""
        for i in range(len(self.words)):
            for phrases, strong in ((_STRONG, True), (_WEAK, False)):
                if any(self._after_phrase(i, phrase, strong=strong) for phrase in phrases.get(self.folded[i], ())):
                    break

    def _after_phrase(self, i: int, phrase: tuple[str, ...], *, strong: bool) -> bool:
        n, k = len(self.words), len(phrase)
        if i + k > n or tuple(self.folded[i : i + k]) != phrase:
            return False
        if any(not self._adjacent(j, j + 1) for j in range(i, i + k - 1)):
            return False
        first = i + k
        if first >= n or not self._adjacent(first - 1, first, _GAP):
            return True
        word = self.words[first].group()
        if strong:
            if self.folded[first] in _NOT_NAMES and not _capitalised(word):
                return True
        elif not self._unknown(first) or (_cased(word) and (_acronym(word) or not _capitalised(word))):
            # "I'm looking", "jestem bezrobotna": in a script with capitals a name has one.
            return True
        self.masked.add(first)
        for j in range(first + 1, min(first + 3, n)):
            nxt = self.words[j].group()
            if not self._adjacent(j - 1, j):
                break
            # After "my name is", a capitalised word is the surname even when it is a word too
            # ("Văn", "Nowak"); otherwise only words the assistant does not know.
            if strong and _capitalised(nxt) and not _acronym(nxt) and self.folded[j] not in _COMMON:
                self.masked.add(j)
                continue
            if not self._unknown(j) or (_cased(nxt) and not _capitalised(nxt) and not strong):
                break
            self.masked.add(j)
        return True

    def result(self) -> tuple[str, int]:
        """Return the text with masked words as one [name] per run of adjacent ones, and the count."""
        out: list[str] = []
        pos, count, previous = 0, 0, -2
        for i in sorted(self.masked):
            m = self.words[i]
            if previous == i - 1 and self._adjacent(i - 1, i):
                pos = m.end()  # the same person's next name: one placeholder for the whole run
            else:
                out.append(self.text[pos : m.start()])
                out.append(_PLACEHOLDER["name"])
                pos = m.end()
                count += 1
            previous = i
        out.append(self.text[pos:])
        return "".join(out), count


_SPACES = re.compile(r"[ \u00a0]+|-")
_TITLE_GAP = re.compile(r"\.?[ \u00a0]+")


# --- The API ---------------------------------------------------------------------------------------


def mask(text: str, *, known_words: Collection[str] = ()) -> Masked:
    """Return text with e-mails, case references, phone and long numbers, addresses and names masked."""
    if not isinstance(text, str) or not text:
        return Masked(text if isinstance(text, str) else "")
    counts: Counter[str] = Counter()

    def sub(kind: str) -> object:
        def replace(m: re.Match[str]) -> str:
            counts[kind] += 1
            return _PLACEHOLDER[kind]

        return replace

    text = _EMAIL.sub(sub("e-mail"), text)

    def number(m: re.Match[str]) -> str:
        kind = m.lastgroup
        if kind == "date":
            return m.group()
        if kind == "run":
            judged = _judge(m.group())
            if judged is None:
                return m.group()
            kind = judged
        elif kind in ("iban", "id"):
            kind = "number"
        counts[kind] += 1
        return _PLACEHOLDER[kind]

    text = _NUMBERS.sub(number, text)

    def leftover(m: re.Match[str]) -> str:
        kind = "PESEL" if len(m.group()) == 11 else "number"
        counts[kind] += 1
        return _PLACEHOLDER[kind]

    text = _DIGITS.sub(leftover, text)

    def address(m: re.Match[str]) -> str:
        counts["address"] += 1
        return m.group()[: m.start("street") - m.start()] + _PLACEHOLDER["address"]

    text = _ADDRESS.sub(address, text)

    words = known_words if isinstance(known_words, frozenset) else frozenset(known_words)
    names = _Names(text, _known(words))
    names.run()
    text, found = names.result()
    if found:
        counts["name"] += found
    return Masked(text, dict(counts))


def vocabulary(data: DialogueData, extra: Iterable[str] = ()) -> frozenset[str]:
    """Return the lowercase words of the assistant's training examples, lexicon, responses and
    district names (plus any extra texts): the known_words that mask() leaves alone."""
    texts: list[str] = []
    for examples in data.examples.values():
        for example in examples:
            texts.append(_without_personal_data(example.text))
    for values in data.lookups.values():
        texts.extend(values)
    texts.extend(data.synonyms)
    texts.extend(data.synonyms.values())
    for variations in data.domain.responses.values():
        for response in variations:
            texts.append(response.text)
            texts.extend(button.title for button in response.buttons)
    lexicon = data.lexicon
    for forms in (
        *lexicon.weekdays.values(), *lexicon.days_from_today.values(), *lexicon.months.values(),
        *lexicon.periods.values(), *lexicon.audiences.values(), *lexicon.follow_up_cues.values(),
        lexicon.no_answers,
    ):
        texts.extend(form.rstrip("*") for form in forms)
    for joins, questions in lexicon.and_question:
        texts.extend(joins)
        texts.extend(questions)
    texts.extend(extra)
    return frozenset(_fold(w) for text in texts for w in _WORD.findall(text))


def _without_personal_data(text: str) -> str:
    # Training examples hold sample data ("mój email to anna.kowalska@example.com", "hola, me llamo
    # Ana"): those are names, not words the assistant knows.
    names = _Names(_EMAIL.sub(" ", text), _known(frozenset()))
    names.introduced()
    return names.result()[0]
