"""The open-data release's files: a valid Data Package, the same bytes every time, DCAT-AP, CSV = JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest
import rdflib

from app.config import get_settings
from app.reports import publish
from app.reports.tables import Column, Dataset

PERIOD = "2025-01"
MONTH = Column("month", "string", "Month", "The month, YYYY-MM.")


def _datasets() -> list[Dataset]:
    # Given out of name order: the release must not depend on it.
    return [
        Dataset(
            "visits-by-band",
            "Visits by time of day",
            "Visits booked at the office, by hour band.",
            (
                MONTH,
                Column("band", "string", "Hour band", "morning, afternoon or evening."),
                Column("visits", "integer", "Visits", "Visits booked.", count=True),
                Column("median_minutes", "number", "Median length (minutes)", "Half took at most this long."),
            ),
            (
                ("2025-01", "afternoon", 17, 22.5),
                ("2025-01", "evening", "c", None),
                ("2025-01", "morning", "<5", 0.1 + 0.2),
            ),
        ),
        Dataset(
            "cases-by-language",
            "Cases",
            "Cases opened, by the language of the person.",
            (
                MONTH,
                Column("language", "string", "Language", "The language, as a BCP 47 code; \"x, y\" quoted."),
                Column("cases", "integer", "Cases", "Cases opened.", count=True),
            ),
            (("2025-01", "pl", 40), ("2025-01", "uk", "<5"), ("2025-01", "ąę, \"cudzysłów\"", None)),
        ),
        Dataset("empty", "Nothing yet", "A table without rows.", (MONTH,)),
    ]


def _files() -> dict[str, bytes]:
    return publish.files(datasets=_datasets(), period=PERIOD, settings=get_settings())


def test_the_release_is_a_valid_data_package(tmp_path):
    out = tmp_path / "2025-01"
    paths = publish.write(datasets=_datasets(), period=PERIOD, settings=get_settings(), out=out)
    assert [path.name for path in paths] == sorted(_files())
    assert publish.validate_package(tmp_path / "2025-01" / "datapackage.json") == []

    package = json.loads((tmp_path / "2025-01" / "datapackage.json").read_bytes())
    assert package["name"] == "witaj-2025-01"
    assert package["created"] == "2025-02-01T00:00:00Z"
    names = [resource["name"] for resource in package["resources"]]
    assert names[:2] == ["cases-by-language-csv", "cases-by-language-json"]
    schema = package["resources"][0]["schema"]
    assert schema["missingValues"] == ["", "<5", "c"]
    cases = next(field for field in schema["fields"] if field["name"] == "cases")
    assert "'<5'" in cases["description"] and "'c'" in cases["description"]


def test_a_wrong_value_is_an_error(tmp_path):
    folder = tmp_path / "release"
    publish.write(datasets=_datasets(), period=PERIOD, settings=get_settings(), out=folder)
    csv_path = folder / "cases-by-language.csv"
    csv_path.write_bytes(csv_path.read_bytes().replace(b",40\r\n", b",abc\r\n"))
    json_path = folder / "visits-by-band.json"
    json_path.write_bytes(json_path.read_bytes().replace(b'"visits": 17', b'"visits": "many"'))

    problems = publish.validate_package(folder / "datapackage.json")

    assert any("cases-by-language-csv" in p and '"abc"' in p for p in problems), problems
    # The changed file no longer has the size and hash the package declares.
    assert any("cases-by-language-csv" in p and "hash" in p for p in problems), problems
    assert any("visits-by-band-json" in p and '"many"' in p for p in problems), problems


def test_a_broken_descriptor_is_an_error_not_an_exception(tmp_path):
    (tmp_path / "datapackage.json").write_text("{not json", encoding="utf-8")
    assert publish.validate_package(tmp_path / "datapackage.json") != []


def test_two_runs_give_the_same_bytes():
    first = _files()
    second = publish.files(datasets=list(reversed(_datasets())), period=PERIOD, settings=get_settings())
    assert sorted(first) == [
        "cases-by-language.csv",
        "cases-by-language.json",
        "catalog.rdf",
        "datapackage.json",
        "empty.csv",
        "empty.json",
        "visits-by-band.csv",
        "visits-by-band.json",
    ]
    assert first == second


def test_a_period_is_a_month():
    for wrong in ("2025-13", "2025-1", "25-01", "2025-01-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            publish.files(datasets=_datasets(), period=wrong, settings=get_settings())


def test_the_catalog_is_dcat_ap():
    # rdflib's namespaces as locals: pytest trips over them at module level when collecting.
    DCAT, DCTERMS, RDF = rdflib.DCAT, rdflib.DCTERMS, rdflib.RDF  # noqa: N806
    settings = get_settings()
    release = _files()
    graph = rdflib.Graph().parse(data=release["catalog.rdf"], format="xml")

    catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1
    datasets = list(graph.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 3
    assert set(graph.objects(catalogs[0], DCAT.dataset)) == set(datasets)
    for dataset in datasets:
        languages = {title.language for title in graph.objects(dataset, DCTERMS.title)}
        assert languages == {"pl", "en"}
        assert {d.language for d in graph.objects(dataset, DCTERMS.description)} == {"pl", "en"}
        assert graph.value(dataset, DCAT.theme) == rdflib.URIRef(publish.EU_THEME_SOCIETY)
        period = graph.value(dataset, DCTERMS.temporal)
        assert str(graph.value(period, DCAT.startDate)) == "2025-01-01"
        assert str(graph.value(period, DCAT.endDate)) == "2025-01-31"
    # Titles are translated with the app's catalogs ("Cases" has a Polish translation).
    identifier = rdflib.Literal("witaj-2025-01-cases-by-language")
    cases = next(d for d in datasets if graph.value(d, DCTERMS.identifier) == identifier)
    titles = {title.language: str(title) for title in graph.objects(cases, DCTERMS.title)}
    assert titles == {"pl": "Sprawy (2025-01)", "en": "Cases (2025-01)"}

    distributions = list(graph.subjects(RDF.type, DCAT.Distribution))
    base = f"{(settings.public_url or 'http://localhost:8000').rstrip('/')}/open-data/2025-01/"
    downloads = {str(graph.value(d, DCAT.downloadURL)) for d in distributions}
    data_files = {name for name in release if name.endswith((".csv", ".json")) and name != "datapackage.json"}
    assert downloads == {base + name for name in data_files}
    for distribution in distributions:
        assert graph.value(distribution, DCTERMS.license) == rdflib.URIRef(settings.open_data_licence)
        name = str(graph.value(distribution, DCAT.downloadURL)).removeprefix(base)
        assert graph.value(distribution, DCAT.byteSize).toPython() == len(release[name])


def test_csv_and_json_carry_the_same_values():
    release = _files()
    for dataset in _datasets():
        rows = list(csv.reader(io.StringIO(release[f"{dataset.name}.csv"].decode("utf-8"), newline="")))
        records = json.loads(release[f"{dataset.name}.json"])
        assert rows[0] == [column.name for column in dataset.columns]
        assert len(rows) - 1 == len(records) == len(dataset.rows)
        for row, record in zip(rows[1:], records, strict=True):
            assert list(record) == rows[0]
            for column, cell in zip(dataset.columns, row, strict=True):
                value = record[column.name]
                if value is None:
                    assert cell == ""
                elif isinstance(value, str):
                    assert cell == value
                else:
                    assert float(cell) == value

    assert b"\r\n" in release["cases-by-language.csv"]
    assert '"ąę, ""cudzysłów""",' in release["cases-by-language.csv"].decode("utf-8")
    visits = json.loads(release["visits-by-band.json"])
    # Suppression marks stay text, no figure stays null, decimals are rounded to two places.
    assert [v["visits"] for v in visits] == [17, "c", "<5"]
    assert [v["median_minutes"] for v in visits] == [22.5, None, 0.3]
    assert release["visits-by-band.csv"].decode("utf-8").splitlines()[1:] == [
        "2025-01,afternoon,17,22.50",
        "2025-01,evening,c,",
        "2025-01,morning,<5,0.30",
    ]
