from pathlib import Path

import pytest

from assistant.authorities import canonical_name
from assistant.metadata import expand_dates, parse_metadata
from conftest import CORPUS, LETTERS


def meta(key):
    return parse_metadata((CORPUS / LETTERS[key]).read_text(encoding="utf-8"))


def test_dudley_letter_metadata_as_printed():
    m = meta("dudley")
    assert m.authority == "Dudley"
    assert m.authority_as_written == "Dudley Metropolitan Borough Council"
    assert m.date == "2019-01-21"
    assert m.visit_dates_text == "18 and 19 December 2019"
    assert m.visit_dates == ("2019-12-18", "2019-12-19")
    assert m.kind == "focused visit"
    assert m.inspectors == ("Alison Smale", "Tara Geere")


@pytest.mark.parametrize("key, authority, date, kind, visits, inspectors", [
    ("wolverhampton", "Wolverhampton", "2018-10-04", "focused visit", ("2018-09-11", "2018-09-12"),
     ("Alison Smale", "John Roughton")),
    ("wakefield", "Wakefield", "2019-11-01", "monitoring visit", ("2019-10-09", "2019-10-10"),
     ("Lisa Summers", "Caroline Walsh")),
    ("wirral", "Wirral", "2017-06-13", "monitoring visit", ("2017-04-05", "2017-04-06"),
     ("Ian Young", "Susan Myers", "Shabana Abasi")),
])
def test_letter_metadata(key, authority, date, kind, visits, inspectors):
    m = meta(key)
    assert (m.authority, m.date, m.kind, m.visit_dates, m.inspectors) == (authority, date, kind, visits, inspectors)


def test_cabinet_report_is_about_wolverhampton_and_guesses_nothing_else():
    m = meta("cabinet")
    assert m.authority == "Wolverhampton"
    assert m.date == "2017-04-26"
    assert m.kind == "cabinet report"
    assert m.inspectors is None and m.visit_dates is None


def test_ofsted_letterhead_city_is_not_the_authority():
    # every Ofsted letterhead says Manchester; the letter is about someone else
    assert meta("wolverhampton").authority != "Manchester"


def test_unknown_fields_are_null():
    m = parse_metadata("Some notes about children's services.\n\nNothing else here.")
    assert m.authority is None and m.date is None and m.kind is None and m.inspectors is None


@pytest.mark.parametrize("written, short", [
    ("City of Wolverhampton council", "Wolverhampton"),
    ("Wirral Metropolitan Borough Council", "Wirral"),
    ("London Borough of Tower Hamlets", "Tower Hamlets"),
    ("North Ashmoor Council", "North Ashmoor"),
    ("Kent County Council", "Kent"),
])
def test_canonical_names(written, short):
    assert canonical_name(written) == short


def test_date_lists_and_ranges():
    assert expand_dates("30 November and 1 December 2018") == ["2018-11-30", "2018-12-01"]
    assert expand_dates("3 to 5 May 2019") == ["2019-05-03", "2019-05-04", "2019-05-05"]
