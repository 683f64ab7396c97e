"""Denied-party screening: CSL loaders, normalisation, fuzzy matching, findings, speed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from tests.support import VALID_EXAMPLES, in_country, load_example
from tradelane.decisions.models import Severity
from tradelane.decisions.screening import (
    ScreeningEntry,
    ScreeningList,
    ScreeningListError,
    default_screening_list,
    fold_text,
    name_tokens,
    normalise_name,
    screen_parties,
)
from tradelane.models import ShipmentRequest
from tradelane.rules import DATA_DIR, RuleBook

SAMPLE_DIR = DATA_DIR / "screening"
CSV_SAMPLE = SAMPLE_DIR / "consolidated_screening_list.sample.csv"
JSON_SAMPLE = SAMPLE_DIR / "consolidated_screening_list.sample.json"
SAMPLE = ScreeningList.load(CSV_SAMPLE)


def request(destination_name: str = "Jonas Becker", company: str | None = None, country: str = "DE"
            ) -> ShipmentRequest:
    body = load_example("basic-cn-de.json")
    body["destination"] = in_country(body["destination"], country, name=destination_name, company=company)
    return ShipmentRequest.model_validate(body)


# ---- loaders ----

def test_csv_and_json_samples_give_the_same_entries():
    from_json = ScreeningList.load(JSON_SAMPLE)
    assert len(SAMPLE) == len(from_json) == 20
    assert SAMPLE.entries == from_json.entries


def test_an_entry_keeps_the_csl_fields():
    assert SAMPLE.entries[0] == ScreeningEntry(
        id="sample-0001", name="Orion Dual-Use Trading LLC",
        alt_names=["Orion DU Trading", "Орион Дуал-Юз Трейдинг", "Orion Dual Use Trading FZE"],
        source="Entity List (EL) - Bureau of Industry and Security", entity_number="990101", programs=["EAR"],
        countries=["AE", "HK"], type=None)
    individual = next(e for e in SAMPLE.entries if e.type == "Individual")
    assert (individual.name, individual.countries) == ("TESTOVY, Pyotr Samplevich", ["RU"])


def test_every_sample_entry_is_marked_fictitious():
    document = json.loads(JSON_SAMPLE.read_text(encoding="utf-8"))
    assert "FICTITIOUS SAMPLE" in document["_comment"]
    assert all(r["remarks"].startswith("FICTITIOUS SAMPLE ENTRY") for r in document["results"])
    assert all(r["id"].startswith("sample-") for r in document["results"])
    assert CSV_SAMPLE.read_text(encoding="utf-8").startswith("# FICTITIOUS SAMPLE")


def test_json_entity_number_may_be_a_number_and_a_bare_list_is_accepted(tmp_path):
    path = tmp_path / "consolidated.json"
    path.write_text(json.dumps([{"id": "x1", "name": "Example Entry", "entity_number": 4483, "alt_names": None,
                                 "addresses": [{"country": "IR", "state_or_province": None}], "programs": None,
                                 "source": "SDN", "nationalities": ["Iran"]}]), encoding="utf-8")
    [entry] = ScreeningList.load(path).entries
    assert (entry.entity_number, entry.alt_names, entry.programs, entry.countries) == ("4483", [], [], ["IR"])


@pytest.mark.parametrize(("name", "text", "error"), [
    ("bad.csv", "_id,source,name\n1,SDN,Someone\n2,SDN,\n", r"bad.csv: row 2 \(line 3\): name is empty"),
    ("bad.csv", "_id,source,title\n1,SDN,Mr\n", r"bad.csv: no CSL header with a 'name' column"),
    ("bad.json", '{"results": [{"id": "1", "name": "Someone"}, {"id": "2", "name": " "}]}',
     r"bad.json: results\[1\]: name is empty"),
    ("bad.json", '{"results": [{"id": "1", "name": "Someone"}, "oops"]}',
     r"bad.json: results\[1\]: expected an object"),
    ("bad.json", '{"entries": []}', r"bad.json: expected a 'results' list"),
    ("bad.json", '{"results": [', r"bad.json: not JSON"),
    ("bad.xml", "<sdnList/>", r"bad.xml: expected a .csv or .json CSL bulk file"),
], ids=["csv-row-without-name", "csv-without-name-column", "json-row-without-name", "json-row-not-object",
        "json-without-results", "json-truncated", "unsupported-format"])
def test_load_errors_name_the_file_and_row(tmp_path, name, text, error):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScreeningListError, match=error):
        ScreeningList.load(path)


# ---- normalisation ----

@pytest.mark.parametrize(("name", "normalised"), [
    ("Orion Dual-Use Trading L.L.C.", "dual orion trading use"),
    ("ORION DUAL USE TRADING CO., LTD.", "dual orion trading use"),
    ("ООО Квиллмарк Логистик", "kvillmark logistik"),
    ("嘉鹭澜精密仪器有限公司", "jia jing lan lu mi qi yi"),
    ("TESTOVY, Pyotr Samplevich", "pyotr samplevich testovy"),
    ("Sato Design K.K.", "design sato"),
    ("O'Brien & Sons GmbH", "obrien sons"),
], ids=["dotted-llc", "co-ltd", "cyrillic-ooo", "chinese-you-xian-gong-si", "surname-first", "japanese-kk",
        "apostrophe-gmbh"])
def test_normalise_name(name, normalised):
    assert normalise_name(name) == normalised


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=40), st.sampled_from(["LLC", "Ltd.", "GmbH", "OOO"]))
def test_a_legal_form_never_changes_the_normalised_name(name, form):
    assert normalise_name(f"{name} {form}") == normalise_name(name) == normalise_name(f"{form} {name}")


@given(st.text(max_size=60))
def test_folded_text_is_plain_ascii_words(text):
    folded = fold_text(text)
    assert folded == " ".join(folded.split())
    assert all(c.isascii() and (c.isalnum() or c == " ") and not c.isupper() for c in folded)


# ---- matching ----

@pytest.mark.parametrize(("name", "country", "entry_id", "matched", "score"), [
    ("Orion Dual-Use Trading LLC", None, "sample-0001", "Orion Dual-Use Trading LLC", 100.0),
    ("orion dual use trading company", "AE", "sample-0001", "Orion Dual-Use Trading LLC", 100.0),
    ("Quillmark Logistics", "RU", "sample-0002", "Quillmark Logistics", 100.0),
    ("Petr Testovyy", None, "sample-0005", "Пётр Тестовый", 100.0),
    ("Tundrosokol Mashzavod", "RU", "sample-0009", "АО Тундросокол Машзавод", 100.0),
    ("Jialulan Jingmi Yiqi", "CN", "sample-0003", "嘉鹭澜精密仪器有限公司", 100.0),
    ("Orion Dual Use Tradeing", None, "sample-0001", "Orion Dual-Use Trading LLC", 97.8),
    ("Oryon Dual Use Tradin", None, "sample-0001", "Orion Dual-Use Trading LLC", 93.0),
    ("Kvilmark Logistic", None, "sample-0002", "Kvillmark Logistik OOO", 91.4),
    ("Orion Dual-Use Trading LLC", "DE", "sample-0001", "Orion Dual-Use Trading LLC", 95.0),
], ids=["exact-name", "legal-form-and-case-ignored", "alt-name", "cyrillic-alias-from-latin-input",
        "cyrillic-alias-with-legal-form", "chinese-alias-from-pinyin-spaced-differently", "one-typo-still-blocks",
        "typos-within-threshold", "transliteration-variant-within-threshold", "other-country-loses-5-points"])
def test_match(name, country, entry_id, matched, score):
    [hit] = SAMPLE.match(name, country)
    assert (hit.entry.id, hit.matched_name, hit.score) == (entry_id, matched, score)


@pytest.mark.parametrize("name", ["Jonas Becker", "Acme Trading Co., Ltd.", "Northwind Electronics Inc.",
                                  "Maria Gonzalez", "Sato Haruto", "LLC", "", "Pacific Orion Foods"],
                         ids=["person", "company", "us-company", "person-2", "japanese-name", "legal-form-only",
                              "empty", "shares-one-word"])
def test_unrelated_names_do_not_match(name):
    assert SAMPLE.match(name) == []


def test_threshold_decides_what_is_kept():
    assert [m.score for m in SAMPLE.match("Oryon Dual Use Tradin", threshold=93.0)] == [93.0]
    assert SAMPLE.match("Oryon Dual Use Tradin", threshold=93.1) == []


def test_every_listed_name_matches_its_own_entry_exactly():
    for entry in SAMPLE.entries:
        for listed in (entry.name, *entry.alt_names):
            best = SAMPLE.match(listed)[0]
            assert (best.entry.id, best.score) == (entry.id, 100.0), listed


WORDS = st.text(alphabet="abcdeilmnorstu", min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(WORDS, min_size=1, max_size=4), min_size=1, max_size=30),
       st.lists(WORDS, min_size=1, max_size=4), st.floats(min_value=50, max_value=100))
def test_the_length_slice_misses_nothing(listed, query, threshold):
    # Brute force: every listed name, both forms, no length bound.
    entries = [ScreeningEntry(id=str(i), name=" ".join(words), source="test") for i, words in enumerate(listed)]
    expected = {}
    q_tokens = name_tokens(" ".join(query))
    for entry in entries:
        tokens = name_tokens(entry.name)
        if q_tokens and tokens:
            score = max(fuzz.ratio(" ".join(sorted(q_tokens)), " ".join(sorted(tokens))),
                        fuzz.ratio("".join(q_tokens), "".join(tokens)))
            if score >= threshold:
                expected[entry.id] = round(score, 1)
    found = {m.entry.id: m.score for m in ScreeningList(entries).match(" ".join(query), threshold=threshold)}
    assert found == expected


# ---- findings ----

def test_a_listed_company_blocks_with_the_entry_in_the_details():
    findings = screen_parties(request(company="Orion Dual-Use Trading LLC", country="AE"), SAMPLE)
    block, sample_note = findings
    assert (block.check, block.code, block.severity, block.field) == (
        "denied_party", "DENIED_PARTY_MATCH", Severity.BLOCK, "destination.company")
    assert block.details == {
        "list_source": "Entity List (EL) - Bureau of Industry and Security", "entity_number": "990101",
        "entry_id": "sample-0001", "entry_name": "Orion Dual-Use Trading LLC",
        "matched_name": "Orion Dual-Use Trading LLC", "score": "100.0", "programs": "EAR", "type": "",
        "countries": "AE HK"}
    assert block.message == (
        "destination.company: 'Orion Dual-Use Trading LLC' matches 'Orion Dual-Use Trading LLC' (Entity List (EL) - "
        "Bureau of Industry and Security, entity 990101, programs EAR) with score 100.0; treated as the listed "
        "party: do not ship")
    assert (sample_note.code, sample_note.severity) == ("DENIED_PARTY_SAMPLE_LIST", Severity.INFO)


def test_a_close_name_holds_for_a_person():
    [hold, _] = screen_parties(request("Kvilmark Logistic", country="RU"), SAMPLE)
    assert (hold.code, hold.severity, hold.field, hold.details["score"]) == (
        "DENIED_PARTY_POSSIBLE_MATCH", Severity.HOLD, "destination.name", "91.4")
    assert screen_parties(request("Kvilmark Logistic", country="RU"), SAMPLE, threshold=95.0)[:-1] == []


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=[p.stem for p in VALID_EXAMPLES])
def test_examples_match_nobody(path):
    findings = screen_parties(ShipmentRequest.model_validate_json(path.read_text()), default_screening_list(RuleBook()))
    assert [f.code for f in findings] == ["DENIED_PARTY_SAMPLE_LIST"]


def test_default_list_is_the_sample_loaded_once_per_book():
    book = RuleBook()
    first = default_screening_list(book)
    assert first is default_screening_list(book)
    assert first.is_sample and first.path == CSV_SAMPLE


def test_an_operator_list_in_the_rules_directory_replaces_the_sample(tmp_path):
    (tmp_path / "screening").mkdir()
    (tmp_path / "screening" / "consolidated.json").write_text(
        json.dumps({"results": [{"id": "op-1", "name": "Jonas Becker", "source": "Operator test list"}]}),
        encoding="utf-8")
    screening = default_screening_list(RuleBook(tmp_path))
    assert not screening.is_sample
    [finding] = screen_parties(request(), screening)
    assert (finding.code, finding.field, finding.details["entry_id"]) == (
        "DENIED_PARTY_MATCH", "destination.name", "op-1")


def test_sample_readme_explains_where_the_real_list_comes_from():
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    assert "consolidated.json" in readme and "TRADELANE_RULES_DIR" in readme and "fictitious" in readme


def test_loading_tolerates_a_byte_order_mark(tmp_path):
    path = tmp_path / "consolidated.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_SAMPLE.read_bytes().split(b"\n", 3)[3])
    assert ScreeningList.load(path).entries == SAMPLE.entries
