"""Tests for geo.inputs.catalogue: reading and validating indicators.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo.errors import CatalogueError, NotFoundError
from geo.inputs.catalogue import Catalogue, Indicator, SumRule, Variable, load_catalogue

VARIABLES = """
[[variables]]
id = "auslaender"
name = "Ausländer:innen"
sensitive = true
source = "Einwohnermelderegister"

[[variables]]
id = "einwohner"
name = "Einwohner:innen"
sensitive = false

[[variables]]
id = "sgb2"
name = "SGB-II-Leistungsberechtigte"
estimate = true
year_note = "31.12.2020"
"""

INDICATOR = """
[[indicators]]
id = "auslaenderanteil"
name = "Anteil Ausländer:innen"
theme = "Rechtsstatus und Aufenthalt"
numerator = "auslaender"
denominator = "einwohner"
per = 100
unit = "%"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "indicators.toml"
    path.write_text(text, encoding="utf-8")
    return path


def indicator(ind_id: str, theme: str, numerator: str = "auslaender", **extra: object) -> str:
    lines = [
        "[[indicators]]",
        f'id = "{ind_id}"',
        f'name = "{ind_id}"',
        f'theme = "{theme}"',
        f'numerator = "{numerator}"',
        'denominator = "einwohner"',
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n" + "\n".join(lines) + "\n"


def test_reads_the_example_of_the_issue(tmp_path: Path) -> None:
    """The catalogue example from the issue loads into Variable and Indicator values."""
    cat = load_catalogue(write(tmp_path, VARIABLES + INDICATOR))
    assert cat.variables[0] == Variable(
        "auslaender", "Ausländer:innen", sensitive=True, source="Einwohnermelderegister"
    )
    assert cat.indicators == (
        Indicator(
            "auslaenderanteil",
            "Anteil Ausländer:innen",
            "Rechtsstatus und Aufenthalt",
            "auslaender",
            "einwohner",
        ),
    )
    assert cat.path == tmp_path / "indicators.toml"


def test_variables_are_sensitive_unless_declared_otherwise(tmp_path: Path) -> None:
    """A variable without `sensitive` is subject to disclosure control (the safe default)."""
    cat = load_catalogue(write(tmp_path, VARIABLES + INDICATOR))
    assert cat.sensitive_ids == ("auslaender", "sgb2")
    assert cat.variable_ids == ("auslaender", "einwohner", "sgb2")


def test_estimate_and_year_note_are_read(tmp_path: Path) -> None:
    """`estimate` and `year_note` label counts derived from published shares."""
    sgb2 = load_catalogue(write(tmp_path, VARIABLES + INDICATOR)).variable("sgb2")
    assert sgb2.estimate is True
    assert sgb2.year_note == "31.12.2020"


def test_indicator_defaults(tmp_path: Path) -> None:
    """An indicator without per, unit and kind is a proportion in percent."""
    text = VARIABLES + indicator("a", "T")
    ind = load_catalogue(write(tmp_path, text)).indicator("a")
    assert (ind.per, ind.unit, ind.kind, ind.description) == (100.0, "%", "proportion", "")
    assert isinstance(ind.per, float)


def test_rate_kind_and_per(tmp_path: Path) -> None:
    """kind = "rate" and a per other than 100 are kept."""
    text = VARIABLES + indicator("r", "T", kind="rate", per=1000, unit="je 1.000")
    ind = load_catalogue(write(tmp_path, text)).indicator("r")
    assert (ind.kind, ind.per, ind.unit) == ("rate", 1000.0, "je 1.000")


def test_sums_are_read(tmp_path: Path) -> None:
    """A [[sums]] table becomes a SumRule with its parts in order."""
    text = (
        VARIABLES + INDICATOR + '\n[[sums]]\ntotal = "einwohner"\nparts = ["auslaender", "sgb2"]\n'
    )
    cat = load_catalogue(write(tmp_path, text))
    assert cat.sums == (SumRule("einwohner", ("auslaender", "sgb2")),)


def test_a_variable_may_be_the_total_of_two_sums(tmp_path: Path) -> None:
    """Einwohner = men + women and Einwohner = age bands may both be declared."""
    text = (
        VARIABLES
        + '[[variables]]\nid = "m"\nname = "m"\n[[variables]]\nid = "w"\nname = "w"\n'
        + '[[sums]]\ntotal = "einwohner"\nparts = ["m", "w"]\n'
        + '[[sums]]\ntotal = "einwohner"\nparts = ["auslaender", "sgb2"]\n'
    )
    assert len(load_catalogue(write(tmp_path, text)).sums) == 2


def test_themes_follow_the_declared_order(tmp_path: Path) -> None:
    """A top-level `themes` list orders themes(); themes without indicators are left out."""
    text = (
        'themes = ["Bildung", "Arbeit", "Quartiere"]\n'
        + VARIABLES
        + indicator("a", "Arbeit")
        + indicator("b", "Bildung")
        + indicator("c", "Arbeit")
    )
    themes = load_catalogue(write(tmp_path, text)).themes()
    assert list(themes) == ["Bildung", "Arbeit"]
    assert [i.id for i in themes["Arbeit"]] == ["a", "c"]


def test_themes_follow_the_file_without_a_themes_list(tmp_path: Path) -> None:
    """Without `themes`, themes() keeps the order in which themes first appear."""
    text = VARIABLES + indicator("a", "Z") + indicator("b", "A") + indicator("c", "Z")
    assert list(load_catalogue(write(tmp_path, text)).themes()) == ["Z", "A"]


def test_lookup_of_an_unknown_indicator_lists_the_known_ones(tmp_path: Path) -> None:
    """indicator() raises NotFoundError naming the known ids."""
    cat = load_catalogue(write(tmp_path, VARIABLES + INDICATOR))
    with pytest.raises(NotFoundError, match="'quote'.*known: auslaenderanteil"):
        cat.indicator("quote")


def test_lookup_of_an_unknown_variable_lists_the_known_ones(tmp_path: Path) -> None:
    """variable() raises NotFoundError naming the known ids and a close match."""
    cat = load_catalogue(write(tmp_path, VARIABLES + INDICATOR))
    with pytest.raises(NotFoundError, match="did you mean 'einwohner'.*known: auslaender, einw"):
        cat.variable("einwohnr")


def test_round_trip_through_json(tmp_path: Path) -> None:
    """to_dict() -> JSON -> from_dict() gives an equal catalogue."""
    text = (
        'themes = ["T"]\n'
        + VARIABLES
        + indicator("a", "T", kind="rate", per=1000, description="x")
        + '\n[[sums]]\ntotal = "einwohner"\nparts = ["auslaender", "sgb2"]\n'
    )
    cat = load_catalogue(write(tmp_path, text))
    again = Catalogue.from_dict(json.loads(json.dumps(cat.to_dict())))
    assert again == cat
    assert again.themes() == cat.themes()


def test_from_dict_validates(tmp_path: Path) -> None:
    """from_dict() applies the same checks and names indicators.json."""
    cat = load_catalogue(write(tmp_path, VARIABLES + INDICATOR)).to_dict()
    cat["indicators"][0]["numerator"] = "elb"
    with pytest.raises(CatalogueError, match="^indicators.json: indicators\\[1\\]"):
        Catalogue.from_dict(cat)


def test_unknown_numerator_names_file_entry_and_variable(tmp_path: Path) -> None:
    """An indicator over an undeclared variable is an error naming file, entry and variable."""
    text = (
        VARIABLES + indicator("a", "T") + indicator("b", "T") + indicator("sgb2_quote", "T", "elb")
    )
    with pytest.raises(CatalogueError) as err:
        load_catalogue(write(tmp_path, text))
    assert str(err.value) == (
        "indicators.toml: indicators[3] 'sgb2_quote': numerator 'elb' is not a declared variable"
    )


def test_per_must_be_positive(tmp_path: Path) -> None:
    """per <= 0 is an error."""
    with pytest.raises(CatalogueError, match="indicators\\[1\\] 'a': per must be a positive"):
        load_catalogue(write(tmp_path, VARIABLES + indicator("a", "T", per=0)))


def test_duplicate_variable_ids(tmp_path: Path) -> None:
    """Two variables with the same id are an error naming the first."""
    text = VARIABLES + '[[variables]]\nid = "einwohner"\nname = "again"\n'
    with pytest.raises(CatalogueError, match="variables\\[4\\] 'einwohner': duplicate id.*\\[2\\]"):
        load_catalogue(write(tmp_path, text))


def test_duplicate_indicator_ids(tmp_path: Path) -> None:
    """Two indicators with the same id are an error."""
    text = VARIABLES + indicator("a", "T") + indicator("a", "U")
    with pytest.raises(CatalogueError, match="indicators\\[2\\] 'a': duplicate id"):
        load_catalogue(write(tmp_path, text))


def test_unknown_kind(tmp_path: Path) -> None:
    """kind must be proportion, rate, value or ratio."""
    with pytest.raises(CatalogueError,
                       match="kind must be one of proportion, rate, value, ratio.*'share'"):
        load_catalogue(write(tmp_path, VARIABLES + indicator("a", "T", kind="share")))


def test_missing_required_key(tmp_path: Path) -> None:
    """An indicator without a denominator is an error naming the key."""
    text = (
        VARIABLES + '[[indicators]]\nid = "a"\nname = "a"\ntheme = "T"\nnumerator = "einwohner"\n'
    )
    with pytest.raises(
        CatalogueError, match="indicators\\[1\\] 'a': missing required key 'denominator'"
    ):
        load_catalogue(write(tmp_path, text))


def test_misspelt_key_is_an_error(tmp_path: Path) -> None:
    """An unknown key such as `sensitiv` is reported with the likely key, not ignored."""
    text = VARIABLES + '[[variables]]\nid = "m"\nname = "m"\nsensitiv = false\n' + INDICATOR
    with pytest.raises(CatalogueError, match="unknown key 'sensitiv' \\(did you mean 'sensitive'"):
        load_catalogue(write(tmp_path, text))


def test_sensitive_must_be_a_boolean(tmp_path: Path) -> None:
    """sensitive = "no" is not silently read as true."""
    text = VARIABLES + '[[variables]]\nid = "m"\nname = "m"\nsensitive = "no"\n'
    with pytest.raises(CatalogueError, match="'sensitive' must be bool"):
        load_catalogue(write(tmp_path, text))


def test_sum_with_unknown_part(tmp_path: Path) -> None:
    """A sum over an undeclared variable is an error."""
    text = VARIABLES + '[[sums]]\ntotal = "einwohner"\nparts = ["auslaender", "deutsche"]\n'
    with pytest.raises(
        CatalogueError, match="sums\\[1\\] 'einwohner': part 'deutsche' is not a declared"
    ):
        load_catalogue(write(tmp_path, text))


def test_sum_whose_total_is_a_part(tmp_path: Path) -> None:
    """A sum listing its total among its parts is an error."""
    text = VARIABLES + '[[sums]]\ntotal = "einwohner"\nparts = ["einwohner", "sgb2"]\n'
    with pytest.raises(CatalogueError, match="total 'einwohner' is also one of its parts"):
        load_catalogue(write(tmp_path, text))


def test_sums_may_not_form_a_cycle(tmp_path: Path) -> None:
    """a = b + c together with b = a + c is an error."""
    text = (
        VARIABLES
        + '[[sums]]\ntotal = "einwohner"\nparts = ["auslaender", "sgb2"]\n'
        + '[[sums]]\ntotal = "auslaender"\nparts = ["einwohner", "sgb2"]\n'
    )
    with pytest.raises(CatalogueError, match="cycle: einwohner -> auslaender -> einwohner"):
        load_catalogue(write(tmp_path, text))


def test_theme_not_in_the_themes_list(tmp_path: Path) -> None:
    """With a `themes` list, an indicator's theme must be in it (catches typos)."""
    text = 'themes = ["Bildung"]\n' + VARIABLES + indicator("a", "Bildug")
    with pytest.raises(CatalogueError, match="theme 'Bildug' is not listed in themes"):
        load_catalogue(write(tmp_path, text))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Several mistakes give one error listing all of them."""
    text = VARIABLES + indicator("a", "T", "x", per=-1) + indicator("a", "T")
    with pytest.raises(CatalogueError) as err:
        load_catalogue(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith("indicators.toml: 3 problems")
    assert "numerator 'x'" in message and "per must be" in message and "duplicate id" in message


def test_invalid_toml(tmp_path: Path) -> None:
    """A TOML syntax error names the file."""
    with pytest.raises(CatalogueError, match="indicators.toml: not valid TOML"):
        load_catalogue(write(tmp_path, "[[variables]\nid = 1"))


def test_missing_file(tmp_path: Path) -> None:
    """A missing catalogue is a CatalogueError, not a bare OSError."""
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "indicators.toml")


def test_higher_is_and_population_round_trip(tmp_path: Path) -> None:
    """``higher_is`` per indicator and the top-level ``population`` survive indicators.json."""
    text = 'population = "einwohner"\n' + VARIABLES + indicator("q", "T", higher_is="worse")
    cat = load_catalogue(write(tmp_path, text))
    assert cat.population == "einwohner"
    assert cat.indicators[0].higher_is == "worse"
    again = Catalogue.from_dict(cat.to_dict())
    assert again.population == "einwohner" and again.indicators[0].higher_is == "worse"


def test_higher_is_and_population_are_checked(tmp_path: Path) -> None:
    """An unknown ``higher_is`` word or population variable is named with what is allowed."""
    text = 'population = "einwohnr"\n' + VARIABLES + indicator("q", "T", higher_is="good")
    with pytest.raises(CatalogueError) as err:
        load_catalogue(write(tmp_path, text))
    assert "higher_is must be one of better, worse, neutral" in str(err.value)
    assert "did you mean 'einwohner'" in str(err.value)


@pytest.mark.parametrize("bad", ["=1+2<b>x", "a b", "../x", "", " x", "ä", "_x", "x" * 65,
                                 "<script>"])
def test_indicator_ids_must_be_plain(tmp_path: Path, bad: str) -> None:
    """Ids name URLs, files, CSV cells and JS: formulas, markup and paths are refused."""
    with pytest.raises(CatalogueError, match=r"indicators.toml: indicators\[1\].*: 'id' .* is "
                                             r"not a valid id \(1 to 64 letters"):
        load_catalogue(write(tmp_path, VARIABLES + indicator(bad, "T")))


def test_variable_ids_must_be_plain(tmp_path: Path) -> None:
    """A variable id that a spreadsheet would run as a formula is refused."""
    text = VARIABLES.replace('id = "sgb2"', 'id = "=HYPERLINK(1)"')
    with pytest.raises(CatalogueError, match=r"variables\[3\] '=HYPERLINK\(1\)': 'id' "
                                             r"'=HYPERLINK\(1\)' is not a valid id"):
        load_catalogue(write(tmp_path, text))


def test_ids_may_use_dots_dashes_and_capitals(tmp_path: Path) -> None:
    """The rule keeps ids such as 'SGB2.quote-2023' valid."""
    text = VARIABLES + indicator("SGB2.quote-2023", "T")
    assert load_catalogue(write(tmp_path, text)).indicators[0].id == "SGB2.quote-2023"


def test_names_stay_free_text(tmp_path: Path) -> None:
    """Names are display text (escaped on output), so markup in a name is accepted."""
    text = VARIABLES.replace('name = "Einwohner:innen"', 'name = "<b>Einwohner</b> & Co"')
    assert load_catalogue(write(tmp_path, text)).variable("einwohner").name.startswith("<b>")


def test_bundled_catalogues_keep_valid_ids() -> None:
    """Every bundled indicators.toml passes the id rule."""
    root = Path(__file__).resolve().parents[1] / "boundaries"
    for path in sorted(root.glob("*/indicators.toml")):
        assert load_catalogue(path).variables


def test_catalogue_not_utf8(tmp_path: Path) -> None:
    """A catalogue in Latin-1 is a CatalogueError naming the byte, not a UnicodeDecodeError."""
    path = tmp_path / "indicators.toml"
    path.write_bytes(VARIABLES.encode("utf-8").replace("ä".encode(), b"\xe4"))
    with pytest.raises(CatalogueError, match=r"indicators.toml: not UTF-8 text \(byte \d+\)"):
        load_catalogue(path)


def test_catalogue_nested_too_deeply(tmp_path: Path) -> None:
    """Deeply nested TOML is a CatalogueError, not a RecursionError."""
    with pytest.raises(CatalogueError, match="nested too deeply"):
        load_catalogue(write(tmp_path, "themes = " + "[" * 100_000 + "]" * 100_000))


def test_a_long_chain_of_sums_is_checked_without_recursion_error(tmp_path: Path) -> None:
    """2,000 sums chained total -> part (deeper than Python's recursion limit) are checked."""
    n = 2000
    variables = "".join(f'[[variables]]\nid = "v{i}"\nname = "V{i}"\n' for i in range(n + 1))
    sums = "".join(f'[[sums]]\ntotal = "v{i}"\nparts = ["v{i + 1}", "x"]\n' for i in range(n))
    text = variables + '[[variables]]\nid = "x"\nname = "X"\n' + sums
    assert len(load_catalogue(write(tmp_path, text)).sums) == n
    looped = text + f'[[sums]]\ntotal = "v{n}"\nparts = ["v0", "x"]\n'
    with pytest.raises(CatalogueError, match=r"sums form a cycle: v0 -> v1 -> .* -> v0"):
        load_catalogue(write(tmp_path, looped))
