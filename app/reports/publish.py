"""One month's open-data release as files: the data sets in CSV and JSON, a Data Package, a DCAT-AP catalog.

The files of period "YYYY-MM" (`files()`), each a pure function of the data sets, the period and the
settings, so that publishing the same month twice gives byte-identical files:

- `<name>.csv`: UTF-8 without a byte-order mark, RFC 4180 (comma, double quotes where needed, CRLF line
  ends), a header row of the column names, then the rows in the Dataset's order. No figure (None) is an
  empty cell.
- `<name>.json`: the same rows as a JSON array of objects {column name: value}, keys in column order,
  `ensure_ascii=False`, indented by 2, ending in a newline. No figure is null.
- `datapackage.json`: a Frictionless Data Package (v1 spec) with one resource per file (`<name>-csv`,
  `<name>-json`), each with the table schema, its byte size and its sha256 hash.
- `catalog.rdf`: DCAT-AP 2.x metadata in RDF/XML, the profile dane.gov.pl harvests: a dcat:Catalog of
  one dcat:Dataset per data set (titles and descriptions in Polish and English) with one
  dcat:Distribution per data file.

Decimal figures (floats) are written with exactly two decimals in CSV ("12.50") and as the same number
in JSON (12.5): the float nearest the two-decimal text, so that no float's binary noise
(0.30000000000000004) reaches a file. Whole numbers and text are written as given.

Suppression marks (app/reports/suppress.py) stay text in both formats: a count of people below the
threshold N (settings.open_data_min_count) is "<N" ("<5"), a count hidden so that a small one cannot be
worked out from the totals is "c". The Data Package's schema declares "", "<N" and "c" as missing
values, so a reader (or frictionless) takes them as "no figure" of an integer column, and each count
column's description says what the two marks mean.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from frictionless import FrictionlessException, Package, Resource, Schema

from app.config import Settings
from app.i18n import gettext, use_locale
from app.reports.tables import HIDDEN, Column, Dataset, Value, below, is_month

#: Where the release is served when settings.public_url is not set (a laptop).
DEFAULT_BASE_URL = "http://localhost:8000"

#: The package's version: a release of a period is one edition (corrections would bump it).
PACKAGE_VERSION = "1.0.0"

# English texts of the release's own metadata, passed through gettext at run time for the Polish
# catalog (they fall back to English until a catalog translates them).
CATALOG_TITLE = "Witaj open data: %(city)s, %(period)s"
CATALOG_DESCRIPTION = (
    "Monthly statistics of Witaj, the city's service that helps foreigners settle in %(city)s: cases, "
    "visits, referrals and the assistant's conversations. Counts of people below %(min)s are shown as "
    "'<%(min)s'; counts hidden so that a small one cannot be worked out from the totals are shown as 'c'."
)
KEYWORDS = ("foreigners", "migration", "integration", "public services", "statistics")
BELOW_MEANING = "'<%(min)s': fewer than %(min)s people (1 to %(last)s), not published to protect privacy."
HIDDEN_MEANING = "'c': hidden so that a count below %(min)s cannot be worked out from the totals."

_FORMATS = {
    # extension: (Frictionless format, IANA media type, EU file-type authority code)
    "csv": ("csv", "text/csv", "CSV"),
    "json": ("json", "application/json", "JSON"),
}

# RDF/XML namespaces, registered once so that ElementTree writes readable prefixes.
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
SPDX = "http://spdx.org/rdf/terms#"
XSD = "http://www.w3.org/2001/XMLSchema#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_PREFIXES = {"rdf": RDF, "dcat": DCAT, "dct": DCT, "foaf": FOAF, "vcard": VCARD, "spdx": SPDX}
for _prefix, _uri in _PREFIXES.items():
    ET.register_namespace(_prefix, _uri)

EU_THEME_SOCIETY = "http://publications.europa.eu/resource/authority/data-theme/SOCI"
EU_MONTHLY = "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


@dataclass(frozen=True)
class _Month:
    start: date
    end: date
    issued: date


def _month(period: str) -> _Month:
    if not is_month(period):
        raise ValueError(f"period must be a month YYYY-MM, not {period!r}")
    start = date(int(period[:4]), int(period[5:]), 1)
    issued = (start + timedelta(days=32)).replace(day=1)
    return _Month(start=start, end=issued - timedelta(days=1), issued=issued)


# --- values ---------------------------------------------------------------------------------------


def _number(value: float) -> str:
    if not math.isfinite(value):
        # NaN and infinities have no CSV or JSON spelling a reader agrees on.
        raise ValueError(f"a published figure must be finite, not {value!r}")
    text = format(value, ".2f")
    return "0.00" if text == "-0.00" else text


def _csv_cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a published figure is text or a number, not a bool")
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _json_value(value: Value) -> Value:
    if isinstance(value, bool):
        raise TypeError("a published figure is text or a number, not a bool")
    if isinstance(value, float):
        return float(_number(value))
    return value


def _csv(dataset: Dataset) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in dataset.columns])
    for row in dataset.rows:
        if len(row) != len(dataset.columns):
            width = len(dataset.columns)
            raise ValueError(f"{dataset.name}: a row has {len(row)} values for {width} columns")
        writer.writerow([_csv_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _json(dataset: Dataset) -> bytes:
    records = [{key: _json_value(value) for key, value in record.items()} for record in dataset.records()]
    return (json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")


# --- Data Package ---------------------------------------------------------------------------------


def _field(column: Column, settings: Settings) -> dict[str, object]:
    description = column.description
    if column.count:
        marks = {"min": settings.open_data_min_count, "last": settings.open_data_min_count - 1}
        description = " ".join((description, BELOW_MEANING % marks, HIDDEN_MEANING % marks)).strip()
    return {"name": column.name, "type": column.type, "title": column.title, "description": description}


def _schema(dataset: Dataset, settings: Settings) -> dict[str, object]:
    return {
        "fields": [_field(column, settings) for column in dataset.columns],
        "missingValues": ["", below(settings.open_data_min_count), HIDDEN],
    }


def _datapackage(datasets: list[Dataset], period: str, settings: Settings, data: dict[str, bytes]) -> bytes:
    month = _month(period)
    resources = []
    for dataset in datasets:
        for extension, (fmt, mediatype, _code) in _FORMATS.items():
            path = f"{dataset.name}.{extension}"
            resources.append(
                {
                    "name": f"{dataset.name}-{extension}",
                    "path": path,
                    # v1's tabular data resource must be a CSV file: the JSON one is a data resource
                    # with the same schema (validate_package checks its values against it).
                    "profile": "tabular-data-resource" if extension == "csv" else "data-resource",
                    "title": dataset.title,
                    "description": dataset.description,
                    "format": fmt,
                    "mediatype": mediatype,
                    "encoding": "utf-8",
                    "bytes": len(data[path]),
                    "hash": "sha256:" + hashlib.sha256(data[path]).hexdigest(),
                    "schema": _schema(dataset, settings),
                }
            )
    values = {"city": settings.city_name, "period": period, "min": settings.open_data_min_count}
    package = {
        "profile": "data-package",
        "name": f"witaj-{period}".lower(),
        "title": CATALOG_TITLE % values,
        "description": CATALOG_DESCRIPTION % values,
        "version": PACKAGE_VERSION,
        # The first moment after the period: the release describes a closed month, whenever it is built.
        "created": f"{month.issued.isoformat()}T00:00:00Z",
        "keywords": ["witaj", *KEYWORDS],
        "licenses": [
            {
                "name": _licence_name(settings.open_data_licence_title),
                "path": settings.open_data_licence,
                "title": settings.open_data_licence_title,
            }
        ],
        "contributors": [
            {"title": settings.open_data_publisher, "role": "publisher", "path": settings.open_data_contact}
        ],
        "resources": resources,
    }
    return (json.dumps(package, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _licence_name(title: str) -> str:
    # The v1 spec wants an Open Definition id ("CC-BY-4.0"); the title "CC BY 4.0" spells it with spaces.
    return re.sub(r"[^A-Za-z0-9.]+", "-", title).strip("-") or "licence"


# --- DCAT-AP --------------------------------------------------------------------------------------


def _el(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {_attribute(key): value for key, value in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _attribute(key: str) -> str:
    names = {"about": f"{{{RDF}}}about", "resource": f"{{{RDF}}}resource", "datatype": f"{{{RDF}}}datatype"}
    return XML_LANG if key == "lang" else names[key]


def _both(parent: ET.Element, tag: str, english: str, suffix: str = "", **variables: object) -> None:
    with use_locale("pl"):
        polish = gettext(english, **variables)
    _el(parent, tag, polish + suffix, lang="pl")
    _el(parent, tag, (english % variables if variables else english) + suffix, lang="en")


def _catalog(datasets: list[Dataset], period: str, settings: Settings, data: dict[str, bytes]) -> bytes:
    month = _month(period)
    site = (settings.public_url or DEFAULT_BASE_URL).rstrip("/")
    base = f"{site}/open-data/{period}"
    values = {"city": settings.city_name, "period": period, "min": settings.open_data_min_count}
    root = ET.Element(f"{{{RDF}}}RDF")
    catalog = _el(root, f"{{{DCAT}}}Catalog", about=f"{base}/catalog.rdf")
    _both(catalog, f"{{{DCT}}}title", CATALOG_TITLE, **values)
    _both(catalog, f"{{{DCT}}}description", CATALOG_DESCRIPTION, **values)
    _publisher(catalog, settings)
    _el(catalog, f"{{{DCT}}}issued", month.issued.isoformat(), datatype=f"{XSD}date")
    _el(catalog, f"{{{DCT}}}license", resource=settings.open_data_licence)
    _el(catalog, f"{{{FOAF}}}homepage", resource=f"{site}/")
    for dataset in datasets:
        holder = _el(catalog, f"{{{DCAT}}}dataset")
        _dataset(holder, dataset, period, month, base, settings, data)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _publisher(parent: ET.Element, settings: Settings) -> None:
    agent = _el(_el(parent, f"{{{DCT}}}publisher"), f"{{{FOAF}}}Agent")
    _el(agent, f"{{{FOAF}}}name", settings.open_data_publisher)


def _dataset(
    holder: ET.Element,
    dataset: Dataset,
    period: str,
    month: _Month,
    base: str,
    settings: Settings,
    data: dict[str, bytes],
) -> None:
    node = _el(holder, f"{{{DCAT}}}Dataset", about=f"{base}#{dataset.name}")
    _el(node, f"{{{DCT}}}identifier", f"witaj-{period}-{dataset.name}")
    # Every month's release is a data set of its own in a portal: the period tells their titles apart.
    _both(node, f"{{{DCT}}}title", dataset.title, suffix=f" ({period})")
    _both(node, f"{{{DCT}}}description", dataset.description)
    _publisher(node, settings)
    contact = _el(_el(node, f"{{{DCAT}}}contactPoint"), f"{{{VCARD}}}Kind")
    _el(contact, f"{{{VCARD}}}fn", settings.open_data_publisher)
    kind = "hasEmail" if settings.open_data_contact.startswith("mailto:") else "hasURL"
    _el(contact, f"{{{VCARD}}}{kind}", resource=settings.open_data_contact)
    for keyword in ("witaj", *KEYWORDS):
        _both(node, f"{{{DCAT}}}keyword", keyword)
    _el(node, f"{{{DCAT}}}theme", resource=EU_THEME_SOCIETY)
    _el(node, f"{{{DCT}}}accrualPeriodicity", resource=EU_MONTHLY)
    temporal = _el(_el(node, f"{{{DCT}}}temporal"), f"{{{DCT}}}PeriodOfTime")
    _el(temporal, f"{{{DCAT}}}startDate", month.start.isoformat(), datatype=f"{XSD}date")
    _el(temporal, f"{{{DCAT}}}endDate", month.end.isoformat(), datatype=f"{XSD}date")
    _el(node, f"{{{DCT}}}issued", month.issued.isoformat(), datatype=f"{XSD}date")
    for extension, (_fmt, mediatype, code) in _FORMATS.items():
        path = f"{dataset.name}.{extension}"
        url = f"{base}/{path}"
        holder = _el(node, f"{{{DCAT}}}distribution")
        dist = _el(holder, f"{{{DCAT}}}Distribution", about=f"{base}#{dataset.name}-{extension}")
        _el(dist, f"{{{DCT}}}title", path)
        _el(dist, f"{{{DCAT}}}accessURL", resource=url)
        _el(dist, f"{{{DCAT}}}downloadURL", resource=url)
        _el(dist, f"{{{DCT}}}format", resource=EU_FILE_TYPE + code)
        _el(dist, f"{{{DCAT}}}mediaType", resource=IANA_MEDIA_TYPES + mediatype)
        _el(dist, f"{{{DCT}}}license", resource=settings.open_data_licence)
        # DCAT-AP 2.x types the size as xsd:decimal (W3C DCAT 2 says nonNegativeInteger).
        _el(dist, f"{{{DCAT}}}byteSize", str(len(data[path])), datatype=f"{XSD}decimal")
        checksum = _el(_el(dist, f"{{{SPDX}}}checksum"), f"{{{SPDX}}}Checksum")
        _el(checksum, f"{{{SPDX}}}algorithm", resource=f"{SPDX}checksumAlgorithm_sha256")
        digest = hashlib.sha256(data[path]).hexdigest()
        _el(checksum, f"{{{SPDX}}}checksumValue", digest, datatype=f"{XSD}hexBinary")


# --- the release ----------------------------------------------------------------------------------


def files(*, datasets: list[Dataset], period: str, settings: Settings) -> dict[str, bytes]:
    """Return period's release by file name: CSV and JSON per data set, datapackage.json, catalog.rdf."""
    _month(period)
    names = [dataset.name for dataset in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"data set names must be unique: {sorted(names)}")
    reserved = {"datapackage", "catalog"} & set(names)
    if reserved:
        raise ValueError(f"data set name {sorted(reserved)[0]!r} is the release's own file")
    ordered = sorted(datasets, key=lambda dataset: dataset.name)
    data: dict[str, bytes] = {}
    for dataset in ordered:
        data[f"{dataset.name}.csv"] = _csv(dataset)
        data[f"{dataset.name}.json"] = _json(dataset)
    data["datapackage.json"] = _datapackage(ordered, period, settings, data)
    data["catalog.rdf"] = _catalog(ordered, period, settings, data)
    return dict(sorted(data.items()))


def write(*, datasets: list[Dataset], period: str, settings: Settings, out: Path) -> list[Path]:
    """Return the paths of period's release files, written into out (created if missing), sorted."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files(datasets=datasets, period=period, settings=settings).items():
        path = out / name
        path.write_bytes(content)
        written.append(path)
    return sorted(written)


def validate_package(path: Path) -> list[str]:
    """Return the errors frictionless finds in the Data Package at path (datapackage.json), if any."""
    try:
        report = Package(str(path)).validate()
    except FrictionlessException as exc:
        return [f"{path.name}: {exc.error.message}"]
    problems = [f"{path.name}: {error.message}" for error in report.errors]
    for task in report.tasks:
        problems.extend(f"{task.name}: {error.message}" for error in task.errors)
    problems.extend(_json_problems(path))
    return problems


def _json_problems(path: Path) -> list[str]:
    # frictionless reads a JSON file as a table only with its optional json extra (ijson), so it
    # checks a JSON resource's size and hash but not its values: check them against the schema as
    # inline rows, which the core library validates.
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for entry in descriptor.get("resources", []):
        if entry.get("format") != "json" or "schema" not in entry:
            continue
        name = entry.get("name", entry["path"])
        names = [field["name"] for field in entry["schema"]["fields"]]
        if Path(entry["path"]).is_absolute() or ".." in Path(entry["path"]).parts:
            continue  # frictionless has reported a path outside the package's folder
        try:
            records = json.loads((path.parent / entry["path"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{name}: cannot read {entry['path']}: {exc}")
            continue
        if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
            problems.append(f"{name}: {entry['path']} is not an array of objects")
            continue
        for number, record in enumerate(records, start=1):
            if list(record) != names:
                problems.append(f"{name}: record {number} has the keys {list(record)}, not {names}")
        rows = [[record.get(key) for key in names] for record in records]
        table = Resource(data=[names, *rows], schema=Schema.from_descriptor(entry["schema"]))
        report = table.validate()
        problems.extend(f"{name}: {error.message}" for task in report.tasks for error in task.errors)
    return problems
