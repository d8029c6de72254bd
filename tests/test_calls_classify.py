"""Call-type classification (content/call_types.yaml, portal/calls/classify.py), the results computed from an
aggregate (portal/calls/results.py) and the heat map (portal/calls/heatmap.py)."""
import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from portal.calls.classify import (DEFAULT_PATH, RESPONSES, TableError, classify, classify_many,
                                   is_non_police_unit, load_table, normalize, parse_table, rule_error,
                                   with_overrides)
from portal.calls.heatmap import FILLS, heatmap_svg, heatmap_table, heatmap_table_markup, level
from portal.calls.aggregate import Aggregate
from portal.calls.results import CSV_HEADER, compute_results as _compute
from portal.csv_export import csv_text
from tests.conftest import keep_rendered_page

SVG = "{http://www.w3.org/2000/svg}"

# Call types as cities' CAD and calls-for-service extracts write them (TypeText, Initial Call Type, Event
# Clearance Group, nature_code and call_type_original_desc styles), and the category each must land in.
CITY_CALL_TYPES = {
    # Administrative issues
    "911 HANG UP": "administrative",
    "911 HANGUP": "administrative",
    "911 Hang-Up": "administrative",
    "911 MISDIAL": "administrative",
    "ABANDONED 911": "administrative",
    "911 OPEN LINE": "administrative",
    "FOUND PROPERTY": "administrative",
    "LOST PROPERTY": "administrative",
    "Lost Property": "administrative",
    "PROPERTY - FOUND": "administrative",
    "THEFT REPORT": "administrative",
    "THEFT - COLD": "administrative",
    "BURGLARY REPORT": "administrative",
    "VANDALISM RPT": "administrative",
    "FRAUD": "administrative",
    "IDENTITY THEFT": "administrative",
    "CIVIL MATTER": "administrative",
    "LANDLORD/TENANT": "administrative",
    "CITIZEN ASSIST": "administrative",
    "INFO": "administrative",
    "REPO": "administrative",
    "VIN VERIFICATION": "administrative",
    "PHONE REPORT": "administrative",
    "VEH LOCKOUT": "administrative",
    "STOLEN BIKE REPORT": "administrative",
    # Code violations
    "Parking Violation": "code_violation",
    "PARKING VIOL": "code_violation",
    "PARKING": "code_violation",
    "ILLEGAL PARKING": "code_violation",
    "BLOCKED DRIVEWAY": "code_violation",
    "ABANDONED VEH": "code_violation",
    "ABANDONED VEHICLE": "code_violation",
    "Abandoned Auto": "code_violation",
    "ABAND VEH": "code_violation",
    "DOUBLE PARKED": "code_violation",
    "ILLEGAL DUMPING": "code_violation",
    "CODE ENFORCEMENT": "code_violation",
    "HANDICAP PARKING": "code_violation",
    "PARKING COMPLAINT": "code_violation",
    "VEHICLE BLOCKING": "code_violation",
    "CURFEW VIOLATION": "code_violation",
    # Quality-of-life problems
    "NOISE COMPLAINT": "quality_of_life",
    "NOISE COMPL": "quality_of_life",
    "Noise": "quality_of_life",
    "LOUD MUSIC": "quality_of_life",
    "LOUD PARTY": "quality_of_life",
    "415 NOISE": "quality_of_life",
    "ANIMAL COMPLAINT": "quality_of_life",
    "ANIMAL PROBLEM": "quality_of_life",
    "BARKING DOG": "quality_of_life",
    "DOG AT LARGE": "quality_of_life",
    "DOG BITE": "quality_of_life",
    "FIREWORKS": "quality_of_life",
    "LOITERING": "quality_of_life",
    "PANHANDLING": "quality_of_life",
    "TRESPASS": "quality_of_life",
    "TRESPASSING": "quality_of_life",
    "UNWANTED PERSON": "quality_of_life",
    "UNWANTED SUBJ": "quality_of_life",
    "GRAFFITI": "quality_of_life",
    "JUVENILE PROBLEM": "quality_of_life",
    "JUV DISTURBANCE": "quality_of_life",
    "NEIGHBOR DISPUTE": "quality_of_life",
    "SOLICITOR": "quality_of_life",
    "DISCARDED NEEDLES": "quality_of_life",
    "NUISANCE": "quality_of_life",
    # Traffic crashes without injury, road hazards
    "MVA NO INJ": "traffic_no_injury",
    "MVA - NO INJURY": "traffic_no_injury",
    "TC NON INJURY": "traffic_no_injury",
    "TRAFFIC ACCIDENT - NO INJURY": "traffic_no_injury",
    "ACCIDENT PROPERTY DAMAGE": "traffic_no_injury",
    "TA PDO": "traffic_no_injury",
    "HIT AND RUN - NO INJ": "traffic_no_injury",
    "HIT & RUN PROPERTY DAMAGE": "traffic_no_injury",
    "MINOR ACCIDENT": "traffic_no_injury",
    "TRAFFIC HAZARD": "traffic_no_injury",
    "DEBRIS IN ROADWAY": "traffic_no_injury",
    "STALLED VEHICLE": "traffic_no_injury",
    "DISABLED VEH": "traffic_no_injury",
    "MOTORIST ASSIST": "traffic_no_injury",
    "TRAFFIC SIGNAL OUT": "traffic_no_injury",
    # Socially complex but non-violent incidents
    "WELFARE CHK": "socially_complex",
    "Welfare Check": "socially_complex",
    "welfare-check": "socially_complex",
    "CHECK WELFARE": "socially_complex",
    "CHECK THE WELFARE": "socially_complex",
    "WELF CHK": "socially_complex",
    "WELLBEING CHECK": "socially_complex",
    "MENTAL HEALTH CRISIS": "socially_complex",
    "MENTAL HEALTH": "socially_complex",
    "Mental Health Call": "socially_complex",
    "MH CRISIS": "socially_complex",
    "EDP": "socially_complex",
    "PERSON IN CRISIS": "socially_complex",
    "BEHAVIORAL HEALTH": "socially_complex",
    "INTOX PERSON": "socially_complex",
    "INTOXICATED PERSON": "socially_complex",
    "DRUNK": "socially_complex",
    "PUBLIC INTOX": "socially_complex",
    "HOMELESS ENCAMPMENT": "socially_complex",
    "HOMELESS PERSON": "socially_complex",
    "ENCAMPMENT": "socially_complex",
    "TRANSIENT": "socially_complex",
    "SLEEPER": "socially_complex",
    "PERSON SLEEPING": "socially_complex",
    "PSYCH PROBLEM": "socially_complex",
    # Disputes and crises that may turn dangerous (co-response)
    "DISTURBANCE": "mixed_risk",
    "DIST": "mixed_risk",
    "DISTURBANCE - GENERAL": "mixed_risk",
    "415": "mixed_risk",
    "415 FAMILY": "mixed_risk",
    "415 DOMESTIC": "mixed_risk",
    "415F": "mixed_risk",
    "FAMILY DISTURBANCE": "mixed_risk",
    "DOMESTIC DISTURBANCE": "mixed_risk",
    "DOMESTIC DISPUTE": "mixed_risk",
    "VERBAL DISPUTE": "mixed_risk",
    "SUSP PERS": "mixed_risk",
    "SUSPICIOUS PERSON": "mixed_risk",
    "SUSP VEH": "mixed_risk",
    "Suspicious Vehicle": "mixed_risk",
    "SUSPICIOUS CIRCUMSTANCES": "mixed_risk",
    "SUSPICIOUS ACTIVITY": "mixed_risk",
    "5150": "mixed_risk",
    "SUICIDE THREAT": "mixed_risk",
    "SUICIDAL SUBJ": "mixed_risk",
    "WELFARE CHECK/SUICIDAL": "mixed_risk",
    "THREATS": "mixed_risk",
    "HARASSMENT": "mixed_risk",
    "UNKNOWN TROUBLE": "mixed_risk",
    "CUSTODY DISPUTE": "mixed_risk",
    "PROWLER": "mixed_risk",
    # Violent crimes
    "ROBBERY IN PROG": "violent_crime",
    "ROBBERY": "violent_crime",
    "ASSAULT": "violent_crime",
    "ASSAULT IN PROGRESS": "violent_crime",
    "AGG ASSAULT": "violent_crime",
    "BATTERY": "violent_crime",
    "DOMESTIC VIOLENCE": "violent_crime",
    "DV": "violent_crime",
    "FIGHT": "violent_crime",
    "FIGHT IN PROGRESS": "violent_crime",
    "SEXUAL ASSAULT": "violent_crime",
    "KIDNAPPING": "violent_crime",
    "CARJACKING": "violent_crime",
    "HOMICIDE": "violent_crime",
    "STRONG ARM ROBBERY": "violent_crime",
    # Weapons
    "SHOTS FIRED": "weapons",
    "Shots Fired": "weapons",
    "SHOOTING": "weapons",
    "PERSON WITH A GUN": "weapons",
    "MAN W/ GUN": "weapons",
    "PERSON W/ KNIFE": "weapons",
    "WEAPONS VIOLATION": "weapons",
    "SHOTSPOTTER": "weapons",
    "MENTAL HEALTH W/ WEAPON": "weapons",
    "ADW": "weapons",
    "STABBING": "violent_crime",
    "DISTURBANCE W/ WEAPON": "weapons",
    # Property crimes in progress
    "BURGLARY": "property_crime",
    "BURGLARY IN PROGRESS": "property_crime",
    "BURG RES": "property_crime",
    "THEFT": "property_crime",
    "SHOPLIFTER": "property_crime",
    "SHOPLIFTING": "property_crime",
    "STOLEN VEHICLE": "property_crime",
    "AUTO THEFT": "property_crime",
    "CAR PROWL": "property_crime",
    "VANDALISM": "property_crime",
    "ARSON": "property_crime",
    # Alarms
    "ALARM-COMMERCIAL": "alarm",
    "ALARM - RESIDENTIAL": "alarm",
    "ALARM COMM": "alarm",
    "BURGLAR ALARM": "alarm",
    "AUDIBLE ALARM": "alarm",
    "PANIC ALARM": "alarm",
    "ALARM": "alarm",
    # Traffic enforcement
    "TRAFFIC STOP": "traffic_enforcement",
    "Traffic Stop": "traffic_enforcement",
    "DUI": "traffic_enforcement",
    "DRUNK DRIVER": "traffic_enforcement",
    "RECKLESS DRIVER": "traffic_enforcement",
    "SPEEDING VEHICLE": "traffic_enforcement",
    # Traffic crashes with injury or unknown injury
    "MVA PI": "traffic_injury",
    "TC W/ INJ": "traffic_injury",
    "INJURY ACCIDENT": "traffic_injury",
    "TRAFFIC ACCIDENT": "traffic_injury",
    "MVA": "traffic_injury",
    "HIT AND RUN": "traffic_injury",
    "AUTO VS PED": "traffic_injury",
    "PEDESTRIAN STRUCK": "traffic_injury",
    # Other police work
    "WARRANT SERVICE": "police_activity",
    "ATTEMPT TO LOCATE": "police_activity",
    "MISSING PERSON": "police_activity",
    "RUNAWAY JUVENILE": "police_activity",
    "EXTRA PATROL": "police_activity",
    "BUSINESS CHECK": "police_activity",
    "FOLLOW UP": "police_activity",
    "OFCR NEEDS ASSISTANCE": "police_activity",
    "ASSIST OTHER AGENCY": "police_activity",
    "NARCOTICS": "police_activity",
    "BOMB THREAT": "police_activity",
    # Fire and medical emergencies
    "STRUCTURE FIRE": "fire_medical",
    "VEHICLE FIRE": "fire_medical",
    "BRUSH FIRE": "fire_medical",
    "FIRE ALARM": "fire_medical",
    "ALARM - FIRE": "fire_medical",
    "OVERDOSE": "fire_medical",
    "OD": "fire_medical",
    "MEDICAL EMERGENCY": "fire_medical",
    "SICK PERSON": "fire_medical",
    "PERSON DOWN": "fire_medical",
    "CARDIAC ARREST": "fire_medical",
    "BREATHING PROBLEMS": "fire_medical",
    "GAS LEAK": "fire_medical",
    "ODOR OF GAS": "fire_medical",
    "UNCONSCIOUS PERSON": "fire_medical",
    "FALL": "fire_medical",
    "LIFT ASSIST": "fire_medical",
    "SUICIDE ATTEMPT": "fire_medical",
    "HAZMAT": "fire_medical",
}


@pytest.fixture(scope="module")
def table():
    return load_table()


def test_at_least_150_city_call_types():
    assert len(CITY_CALL_TYPES) >= 150
    assert len({*CITY_CALL_TYPES.values()}) == len(load_table().categories)  # every category is exercised


@pytest.mark.parametrize("name, expected", sorted(CITY_CALL_TYPES.items()))
def test_city_call_types_land_in_their_category(name, expected, table):
    category = classify(name, table)
    assert category is not None, f"{name!r} ({normalize(name)!r}) is unmapped"
    assert category.slug == expected, f"{name!r} ({normalize(name)!r}) landed in {category.slug}"


def test_the_default_file_is_well_formed(table):
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    responses = {category.response for category in table.categories.values()}
    assert responses == {"alternative", "co_response", "police", "fire_medical"}
    # The research framework's five groups are the alternative categories.
    alternative = {slug for slug, c in table.categories.items() if c.response == "alternative"}
    assert alternative == {"administrative", "code_violation", "quality_of_life", "traffic_no_injury",
                           "socially_complex"}
    assert all(category.description for category in table.categories.values())
    assert len(table.names) > 400 and len(table.patterns) == len(data["patterns"])
    assert {"chk", "dist", "veh", "mva", "tc", "ta", "inj", "pi", "susp"} <= set(table.abbreviations)


def test_unmapped_names(table):
    for name in ("10-50", "XYZ", "UNKNOWN", "", "   ", "---"):
        assert classify(name, table) is None
    assert classify(None, table) is None


@pytest.mark.parametrize("spellings", [
    ("WELFARE CHK", "Welfare Check", "welfare-check", "welfare_check", "  WELFARE   CHECK ", "Welfare Chk."),
    ("SUSP PERS", "Suspicious Person", "SUSPICIOUS-PERSON", "susp. pers"),
    ("MVA NO INJ", "TC - NO INJURY", "Traffic Collision (No Injury)", "TA NO INJ", "mvc/no inj"),
    ("ROBBERY IN PROG", "Robbery - In Progress", "ROBBERY IP", "robbery inprogress"),
    ("MAN W/ GUN", "Man With Gun", "MAN WITH GUN"),
    ("HIT & RUN", "HIT AND RUN", "Hit-and-Run", "HIT N RUN"),
    ("ASSAULT W/O WEAPON", "ASSAULT WITHOUT WEAPON"),
])
def test_spellings_normalize_alike(spellings):
    forms = {normalize(spelling) for spelling in spellings}
    assert len(forms) == 1, forms


def test_normalize_details():
    assert normalize("WELFARE CHK") == "welfare check"
    assert normalize("Welfare  Check") == "welfare check"
    assert normalize("welfare-check") == "welfare check"
    assert normalize("MVA NO INJ") == "traffic collision no injury"
    assert normalize("PERSON W/ KNIFE") == "person with knife"
    assert normalize("ASSAULT W/O WEAPON") == "assault without weapon"
    assert normalize("ÉMEUTE") == "émeute"                     # letters beyond ASCII are kept
    assert normalize("ＷＥＬＦＡＲＥ") == "welfare"                # full-width forms fold
    assert normalize("415") == "415" and normalize("10-50") == "10 50"
    assert normalize("") == "" and normalize("!!") == ""
    assert normalize("CHK", {}) == "chk"                        # abbreviations come from the table


def test_distinct_call_types_classified_once(table):
    found = classify_many(["WELFARE CHK", "WELFARE CHK", "XYZ"], table)
    assert list(found) == ["WELFARE CHK", "XYZ"]
    assert found["WELFARE CHK"].slug == "socially_complex" and found["XYZ"] is None


def test_overrides_win_over_the_default(table):
    mine = with_overrides(table, {
        "ALARM*": "administrative",             # a glob, over the default exact "alarm commercial"
        "10-50": "traffic_no_injury",           # a code the default cannot know
        "Welfare Chk": "mixed_risk",            # an exact name, normalized like the file's
        "re:^code \\d+$": "police_activity",    # a regular expression on the normalized name
        "* IN PROG*": "property_crime",         # a glob with word breaks
    })
    assert classify("ALARM-COMMERCIAL", mine).slug == "administrative"
    assert classify("alarm - residential", mine).slug == "administrative"
    assert classify("10-50", mine).slug == "traffic_no_injury"
    assert classify("10 50", mine).slug == "traffic_no_injury"
    assert classify("WELFARE CHECK", mine).slug == "mixed_risk"
    assert classify("CODE 3", mine).slug == "police_activity"
    assert classify("THEFT IN PROGRESS", mine).slug == "property_crime"
    assert classify("FIRE ALARM", mine).slug == "fire_medical"      # the glob needs the name to start so
    # The default table is untouched.
    assert classify("ALARM-COMMERCIAL", table).slug == "alarm"
    assert classify("10-50", table) is None
    # Overrides stack; an exact override beats an override pattern.
    more = with_overrides(mine, {"ALARM COMM": "alarm"})
    assert classify("ALARM COMM", more).slug == "alarm"
    assert classify("ALARM RES", more).slug == "administrative"


def test_glob_patterns_match_the_whole_normalized_name(table):
    mine = with_overrides(table, {"*CHK*": "administrative", "415?": "quality_of_life"})
    assert classify("ZONE CHK", mine).slug == "administrative"       # CHK spelled out on both sides
    assert classify("PATROL CHECK NORTH", mine).slug == "administrative"
    assert classify("4159", mine).slug == "quality_of_life"
    assert classify("415 FAMILY", mine).slug == "mixed_risk"         # "?" is one character


@pytest.mark.parametrize("name, category, problem", [
    ("", "administrative", "Enter a call type"),
    ("X" * 201, "administrative", "at most 200"),
    ("WELFARE", "nonsense", "Choose one of the categories"),
    ("re:([", "administrative", "not valid"),
    ("--", "administrative", "at least one letter"),
])
def test_bad_override_lines(table, name, category, problem):
    assert problem in rule_error(name, category, table)
    with pytest.raises(TableError, match=problem.split()[0]):
        with_overrides(table, {name: category})


def test_good_override_lines(table):
    assert rule_error("WELFARE CHK", "socially_complex", table) is None
    assert rule_error("ALARM*", "administrative", table) is None
    assert rule_error("re:^x", "police", table) is not None  # a response is not a category


@pytest.mark.parametrize("data, problem", [
    ({}, "list of categories"),
    ({"categories": [{"slug": "a", "response": "maybe"}]}, "response"),
    ({"categories": [{"slug": "Bad Slug", "response": "police"}]}, "slug"),
    ({"categories": [{"slug": "a", "response": "police"}, {"slug": "a", "response": "police"}]}, "twice"),
    ({"categories": [{"slug": "unmapped", "response": "police"}]}, "reserved"),
    ({"categories": [{"slug": "a", "response": "police", "names": ["WELFARE CHK"]},
                     {"slug": "b", "response": "alternative", "names": ["welfare chk"]}]}, "both"),
    ({"categories": [{"slug": "a", "response": "police"}], "patterns": [{"glob": "x*", "category": "b"}]},
     "unknown category"),
    ({"categories": [{"slug": "a", "response": "police"}], "patterns": [{"regex": "(", "category": "a"}]},
     "not a valid"),
    ({"categories": [{"slug": "a", "response": "police"}], "patterns": [{"category": "a"}]}, "exactly one"),
    ({"categories": [], "abbreviations": {"two words": "x"}}, "single word"),
])
def test_bad_tables_are_refused(data, problem):
    with pytest.raises(TableError, match=problem):
        parse_table(data)


def test_load_table_is_cached_and_reads_another_file(tmp_path, table):
    assert load_table() is table
    path = tmp_path / "table.yaml"
    path.write_text("categories:\n  - slug: a\n    name: A\n    response: alternative\n    names: [Foo Chk]\n"
                    "abbreviations:\n  chk: check\n")
    own = load_table(path)
    assert classify("FOO CHECK", own).slug == "a" and classify("WELFARE CHECK", own) is None


@pytest.mark.parametrize("unit, expected", [
    ("CRISIS", True), ("STAR", True), ("SCRT", True), ("CARE Team", True), ("BHU", True), ("EMS", True),
    ("FIRE", True), ("Medic 12", True), ("CSO", True), ("Community Service Officer", True),
    ("CLINICIAN", True), ("Mobile Crisis", True), ("PATROL", False), ("Police", False), ("K9", False),
    ("Crisis Intervention Officer", False), ("CO-RESPONDER", False), ("SECTOR 3", False), ("STARK", False),
    (None, None), ("", None),
])
def test_non_police_units(unit, expected, table):
    assert is_non_police_unit(unit, table) is expected


def compute_results(groups, table, *, rows, unreadable, unreadable_examples=(), code_table=None):
    aggregate = Aggregate.from_groups(groups, rows=rows, unreadable={"bad time": unreadable} if unreadable else {},
                                      examples=[list(example) for example in unreadable_examples])
    return _compute(Aggregate.from_json(aggregate.to_json()), table, code_table=code_table)


# A small aggregate, worked by hand: (call_type, hour, weekday, priority, disposition, unit_type, calls).
GROUPS = [
    ("WELFARE CHK", 8, 0, "2", "Advised", "STAR", 30),         # alternative, non-police unit
    ("Welfare Check", 8, 0, "2", "Advised", "PATROL", 10),     # alternative, police unit
    ("NOISE COMPLAINT", 23, 5, "3", "Gone on arrival", "PATROL", 20),  # alternative
    ("DISTURBANCE", 23, 5, "1", "Report", "PATROL", 15),       # co-response
    ("SHOTS FIRED", 2, 6, "1", "Report", "PATROL", 5),         # police
    ("STRUCTURE FIRE", 14, 2, "1", None, "ENGINE", 5),         # fire/medical, non-police unit
    ("ZZ CODE 77", 9, 1, "10", "Advised", None, 12),           # unmapped, no unit type
    ("QQ OTHER", None, None, None, None, None, 3),             # unmapped, no time, nothing else
]


def test_results_worked_by_hand(table):
    results = compute_results(GROUPS, table, rows=102, unreadable=2,
                              unreadable_examples=[[5, "bad time"], [9, "missing call type"]])
    assert results.calls == 100 and results.rows == 102 and results.unreadable == 2
    assert results.by_response == {"alternative": 60, "co_response": 15, "police": 5, "fire_medical": 5,
                                   "unmapped": 15}
    assert results.alternative_share == pytest.approx(0.60)
    assert results.co_response_share == pytest.approx(0.15)
    assert results.mapped_calls == 85 and results.coverage == pytest.approx(0.85)
    # Unit type given on 85 calls (30 + 10 + 20 + 15 + 5 + 5); STAR and ENGINE are not police: 35.
    assert results.has_unit_type and results.unit_type_calls == 85 and results.non_police_calls == 35
    assert results.non_police_share == pytest.approx(35 / 85)
    assert [(u.value, u.calls, u.non_police) for u in results.by_unit_type] == [
        ("PATROL", 50, False), ("STAR", 30, True), ("ENGINE", 5, True)]
    # Call types as written, biggest first; the two welfare spellings stay apart but land alike.
    assert [(c.call_type, c.calls, c.category) for c in results.call_types] == [
        ("WELFARE CHK", 30, "socially_complex"), ("NOISE COMPLAINT", 20, "quality_of_life"),
        ("DISTURBANCE", 15, "mixed_risk"), ("ZZ CODE 77", 12, None), ("Welfare Check", 10, "socially_complex"),
        ("SHOTS FIRED", 5, "weapons"), ("STRUCTURE FIRE", 5, "fire_medical"), ("QQ OTHER", 3, None)]
    assert [(c.call_type, c.calls) for c in results.unmapped] == [("ZZ CODE 77", 12), ("QQ OTHER", 3)]
    assert [(c.category, c.calls, c.call_types) for c in results.by_category] == [
        ("socially_complex", 40, 2), ("quality_of_life", 20, 1), ("mixed_risk", 15, 1), ("weapons", 5, 1),
        ("fire_medical", 5, 1), (None, 15, 2)]  # ties in the table's order; unmapped last
    # The heat map: weekday rows (0 = Monday), hour columns; calls without a time are left out.
    assert results.heatmap_calls == 97
    assert results.heatmap[0][8] == 40 and results.heatmap[5][23] == 35 and results.heatmap[6][2] == 5
    assert results.heatmap[2][14] == 5 and results.heatmap[1][9] == 12
    assert sum(map(sum, results.heatmap)) == 97 and results.by_hour[23] == 35 and results.by_weekday[0] == 40
    # Priorities in reading order ("2" before "10"), "not given" last; dispositions biggest first.
    assert [(p.value, p.calls) for p in results.by_priority] == [("1", 25), ("2", 40), ("3", 20), ("10", 12),
                                                                   (None, 3)]
    assert [(d.value, d.calls) for d in results.by_disposition] == [("Advised", 52), ("Gone on arrival", 20),
                                                                      ("Report", 20), (None, 8)]


def test_results_change_with_the_mapping(table):
    before = compute_results(GROUPS, table, rows=100, unreadable=0)
    after = compute_results(GROUPS, with_overrides(table, {"ZZ CODE 77": "administrative"}), rows=100,
                            unreadable=0)
    assert before.alternative_share == pytest.approx(0.60) and after.alternative_share == pytest.approx(0.72)
    assert after.coverage == pytest.approx(0.97) and [c.call_type for c in after.unmapped] == ["QQ OTHER"]


def test_results_json_and_csv(table):
    results = compute_results(GROUPS, table, rows=102, unreadable=2, unreadable_examples=[(5, "bad time")])
    data = json.loads(json.dumps(results.to_json()))
    assert data["calls"] == 100 and data["unreadable"] == 2 and data["unreadable_examples"] == [[5, "bad time"]]
    assert {c["response"] for c in data["call_types"]} <= set(RESPONSES)
    assert data["call_types"][0] == {"call_type": "WELFARE CHK", "calls": 30, "category": "socially_complex",
                                     "category_name": "Socially complex but non-violent incidents",
                                     "response": "alternative", "share": 0.3}
    assert {"call_type": "ZZ CODE 77", "calls": 12, "category": None, "category_name": "Not mapped",
            "response": "unmapped", "share": 0.12} in data["call_types"]
    assert sum(c["calls"] for c in data["call_types"]) == data["calls"]
    assert data["heatmap"]["cells"][0][8] == 40 and data["non_police"]["non_police_calls"] == 35
    header, rows = results.to_csv_rows()
    assert header == CSV_HEADER and len(rows) == 8
    assert rows[0] == ["WELFARE CHK", "", 30, "0.300000", "socially_complex",
                       "Socially complex but non-violent incidents", "alternative"]
    text = csv_text(header, rows)
    assert text.startswith("call_type,description,calls,share,category,category_name,response\r\n")


def test_results_with_a_code_table(table):
    groups = [("10-50", 1, 0, None, None, None, 4), ("1033", 1, 0, None, None, None, 6),
              ("415", 1, 0, None, None, None, 2)]
    results = compute_results(groups, table, rows=12, unreadable=0,
                              code_table={"10-50": "Traffic accident, no injury", " 1033 ": "Alarm - commercial"})
    found = {c.call_type: (c.description, c.category) for c in results.call_types}
    assert found == {"10-50": ("Traffic accident, no injury", "traffic_no_injury"),
                     "1033": ("Alarm - commercial", "alarm"), "415": (None, "mixed_risk")}
    assert results.to_json()["call_types"][0]["description"] == "Alarm - commercial"


def test_results_of_nothing(table):
    results = compute_results([], table, rows=0, unreadable=0)
    assert results.calls == 0 and results.coverage is None and results.alternative_share is None
    assert not results.has_unit_type and results.non_police_share is None and not results.has_times
    assert results.by_priority == [] and results.by_disposition == []
    data = results.to_json()
    assert data["call_types"] == [] and data["heatmap"] is None and data["non_police"] is None
    # Without unit types, times, priorities or dispositions, those parts stay empty.
    plain = compute_results([("WELFARE CHK", None, None, None, None, None, 7)], table, rows=7, unreadable=0)
    assert plain.calls == 7 and not plain.has_unit_type and not plain.has_times and plain.by_priority == []


def test_unreadable_examples_are_capped(table):
    results = compute_results([], table, rows=0, unreadable=50, unreadable_examples=[[n, "x"] for n in range(50)])
    assert results.unreadable == 50 and len(results.unreadable_examples) == 20


def _cells():
    cells = [[0] * 24 for _ in range(7)]
    cells[0][8] = 40
    cells[5][23] = 35
    cells[6][2] = 5
    return cells


def test_heatmap_svg_parses_and_describes_itself():
    svg = heatmap_svg(_cells(), title="Calls <by> hour & day", id_prefix="hm")
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "hm-title hm-desc"
    assert root.find(f"{SVG}title").text == "Calls <by> hour & day"           # escaped, then parsed back
    assert root.find(f"{SVG}title").get("id") == "hm-title"
    desc = root.find(f"{SVG}desc").text
    assert "80 calls" in desc and "Monday 08:00 to 08:59 with 40 calls" in desc
    cells = [rect for rect in root.iter(f"{SVG}rect") if rect.get("data-calls") is not None]
    assert len(cells) == 7 * 24
    by_place = {(int(r.get("y")), int(r.get("x"))): r for r in cells}
    monday_8 = by_place[(22, 44 + 8 * 24)]
    assert monday_8.get("data-calls") == "40" and monday_8.get("fill") == FILLS[-1]
    assert monday_8.find(f"{SVG}title").text == "Monday 08:00 to 08:59: 40 calls"
    assert by_place[(22 + 6 * 24, 44 + 2 * 24)].get("fill") == FILLS[0]         # 5 of 40: the lightest step
    assert by_place[(22, 44)].get("fill") == "#ffffff"                         # no calls
    assert "<script" not in svg and "style=" not in svg


def test_heatmap_escapes_everything():
    svg = heatmap_svg(_cells(), title='"><script>alert(1)</script>', desc="a & b", id_prefix='x" onload="y')
    assert "<script>" not in svg and 'onload="' not in svg
    root = ET.fromstring(str(svg))
    assert root.find(f"{SVG}desc").text == "a & b"


def test_heatmap_levels_and_empty_map():
    assert [level(n, 40) for n in (0, 1, 8, 9, 40)] == [0, 1, 1, 2, 5]
    root = ET.fromstring(str(heatmap_svg([])))
    assert "No calls" in root.find(f"{SVG}desc").text


def test_heatmap_table_data_and_markup():
    data = heatmap_table(_cells())
    assert data.rows[0] == ("Monday", _cells()[0], 40) and data.hour_totals[23] == 35 and data.total == 80
    markup = heatmap_table_markup(_cells(), caption="Calls <by> hour", id_prefix="hm")
    table = ET.fromstring(str(markup))
    assert table.get("role") == "region" and table.get("aria-labelledby") == "hm-caption"
    caption = table.find("table/caption")
    assert caption.get("id") == "hm-caption" and caption.text.startswith("Calls <by> hour")
    body = table.findall("table/tbody/tr")
    assert [row.find("th").text for row in body][0] == "Monday" and len(body) == 7
    assert [td.text for td in body[0].findall("td")][8] == "40" and body[0].findall("td")[-1].text == "40"
    assert table.findall("table/tfoot/tr/td")[-1].text == "80"
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Heat map</title></head>"
            f"<body><main><h1>Heat map</h1>{heatmap_svg(_cells(), id_prefix='hm')}{markup}</main></body></html>")
    keep_rendered_page(page, "calls-heatmap")
