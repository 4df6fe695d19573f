"""Templates: PEST ``ptf`` fields and ``{{ }}`` placeholders (calibration layer)."""
import math
import random

import pytest

from lsqbox.calibration.template import (Template, TemplateError, check_coverage,
                                         format_in_width)

PEST_INPUT = """\
ptf ~
MODEL INPUT FILE
3, 19                            no. of layers, no. of spacings
~res1      ~,~t1        ~ resistivity, thickness: layer 1
~res2      ~,~t2        ~ resistivity, thickness: layer 2
~res3      ~                      resistivity: layer 3
1.0                              electrode spacing
"""


def render_lines(text, values, name="model.tpl"):
    return Template.from_text(text, name=name).render(values).splitlines()


# -- PEST templates ----------------------------------------------------------------
class TestPestTemplate:
    def test_fields_are_replaced_in_place_and_ptf_line_dropped(self):
        values = {"res1": 1.0, "t1": 2.5, "res2": 40.0, "t2": 20.0, "res3": 5.0}
        template = Template.from_text(PEST_INPUT, name="ves.tpl")
        out = template.render(values)
        lines = out.splitlines()
        tpl_lines = PEST_INPUT.splitlines()[1:]
        assert len(lines) == len(tpl_lines)
        assert lines[0] == "MODEL INPUT FILE"
        assert lines[1] == tpl_lines[1]
        # every line keeps its length: values fill exactly the field width
        assert [len(a) for a in lines] == [len(b) for b in tpl_lines]
        assert lines[2] == "         1.0,         2.5 resistivity, thickness: layer 1"
        assert lines[4].startswith("         5.0 ")
        assert template.syntax == "pest"
        assert out.endswith("\n")

    def test_parameters_and_locations(self):
        template = Template.from_text(PEST_INPUT, name="ves.tpl")
        assert template.parameters == {"res1", "t1", "res2", "t2", "res3"}
        assert template.locations("res1") == [4]  # line numbers of the template file
        assert template.locations("res3") == [6]
        assert template.locations("nope") == []

    def test_twelve_char_field_gets_as_many_digits_as_fit(self):
        (line,) = render_lines("ptf #\n#    k    #\n", {"k": 1.23456789012})
        assert len("#    k    #") == 11
        (line12,) = render_lines("ptf #\n#    k     #\n", {"k": 1.23456789012})
        assert line12 == "1.2345678901"          # 12 characters, 11 significant digits
        assert line == "1.234567890"             # 11 characters: one digit fewer
        assert abs(float(line12) - 1.23456789012) <= 1e-10

    def test_negative_numbers(self):
        (line,) = render_lines("ptf #\n#    k     #\n", {"k": -1.23456789012})
        assert line == "-1.234567890"
        assert abs(float(line) + 1.23456789012) <= 1e-9

    def test_tiny_and_huge_values_switch_to_exponent(self):
        (tiny,) = render_lines("ptf #\n#   k    #\n", {"k": 1.234567e-10})   # width 10
        assert tiny == "1.2346e-10"
        assert float(tiny) == pytest.approx(1.234567e-10, rel=1e-5)
        (huge,) = render_lines("ptf #\n#   k    #\n", {"k": -6.02214076e23})
        assert huge == "-6.0221e23"
        assert float(huge) == pytest.approx(-6.02214076e23, rel=1e-5)
        (small,) = render_lines("ptf #\n#   k    #\n", {"k": 0.000123456789})
        assert float(small) == pytest.approx(0.000123456789, rel=1e-5)

    def test_exact_value_is_written_in_its_shortest_form(self):
        (line,) = render_lines("ptf $\n$ k          $\n", {"k": 0.5})
        assert line == "0.5".rjust(14)
        (line,) = render_lines("ptf $\n$ k          $\n", {"k": 3})
        assert line.strip() == "3.0"      # always a decimal point (Fortran F/E input)

    def test_narrow_field_drops_leading_zero_to_keep_a_digit(self):
        (line,) = render_lines("ptf #\n# k #\n", {"k": 0.3})          # width 5
        assert float(line) == 0.3
        (line,) = render_lines("ptf #\n#k#\n", {"k": 0.25})           # width 3
        assert line == ".25"

    def test_value_always_has_a_decimal_point(self):
        for value in (7.0, 1e20, -3e-300, 123456.0):
            text = format_in_width(value, 12)
            mantissa = text.split("e")[0]
            assert "." in mantissa, text
            assert float(text) == value

    def test_too_narrow_field_names_file_and_line(self):
        template = Template.from_text("ptf #\nfirst line\nx = #k# end\n", name="in.tpl")
        with pytest.raises(TemplateError) as err:
            template.render({"k": 123456.0})       # needs "1.e5": 4 characters
        message = str(err.value)
        assert "in.tpl:3" in message and "'k'" in message and "width 3" in message

    def test_precision_grows_with_width_and_is_exact_at_24(self):
        rng = random.Random(1234)
        for _ in range(300):
            value = rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300)
            previous = math.inf
            for width in range(8, 25):
                text = format_in_width(value, width)
                assert len(text) <= width
                error = abs(float(text) - value)
                assert error <= previous
                previous = error
            assert float(format_in_width(value, 24)) == value   # bit for bit

    def test_relative_precision_for_moderate_values(self):
        rng = random.Random(99)
        for _ in range(200):
            value = rng.uniform(0.1, 1000.0)
            text = format_in_width(value, 12)
            assert float(text) == pytest.approx(value, rel=1e-9)

    def test_non_finite_value_is_an_error(self):
        template = Template.from_text("ptf #\n#  k   #\n", name="a.tpl")
        with pytest.raises(TemplateError, match=r"a\.tpl:2: .*'k'.*not finite"):
            template.render({"k": float("nan")})

    def test_abutting_fixed_format_fields(self):
        # three F10.0 fields without separators, as a Fortran READ (3F10.0) expects
        text = "ptf ~\n~   A    ~~   B    ~~   C    ~\n~ D      ~, ~ E      ~\n"
        out = Template.from_text(text).render(
            {"A": 6.32, "B": 1.42e-5, "C": 123.456789, "D": 34.567, "E": 1.2e17})
        first, second = out.splitlines()
        assert len(first) == 30
        assert [float(first[i:i + 10]) for i in (0, 10, 20)] == [6.32, 1.42e-5, 123.456789]
        d, e = second.split(",")
        assert float(d) == 34.567 and float(e) == 1.2e17
        (narrow,) = render_lines("ptf ~\n~ E ~\n", {"E": 1.2e17})      # width 5
        assert narrow == "1.e17"

    def test_same_parameter_gets_the_same_text_sized_for_the_narrowest_field(self):
        text = "ptf #\nwide = #k             #\nnarrow = #k      #\n"
        wide, narrow = render_lines(text, {"k": 2.0 / 3.0})
        assert wide.split("=")[1].strip() == narrow.split("=")[1].strip() == ".66666667"
        assert narrow == "narrow = .66666667"

    def test_delimiter_rules(self):
        with pytest.raises(TemplateError, match=r"t\.tpl:1: .*must not be a letter"):
            Template.from_text("ptf a\n", name="t.tpl")
        with pytest.raises(TemplateError, match=r"t\.tpl:1: expected 'ptf X'"):
            Template.from_text("ptf ##\n", name="t.tpl")
        with pytest.raises(TemplateError, match=r"t\.tpl:3: unmatched parameter delimiter"):
            Template.from_text("ptf #\nok\n# k # and # j\n", name="t.tpl")
        with pytest.raises(TemplateError, match=r"t\.tpl:2: bad parameter field '#   #'"):
            Template.from_text("ptf #\n#   #\n", name="t.tpl")
        with pytest.raises(TemplateError, match=r"t\.tpl:2: bad parameter field"):
            Template.from_text("ptf #\n# a b #\n", name="t.tpl")

    def test_uppercase_ptf_and_crlf_line_endings(self):
        out = Template.from_text("PTF @\r\nx @k   @\r\ny\r\n").render({"k": 1.5})
        assert out == "x    1.5\r\ny\r\n"

    def test_braces_are_plain_text_in_pest_templates(self):
        out = Template.from_text("ptf #\n{{ k }} #k   #\n").render({"k": 2.0})
        assert out == "{{ k }} " + "2.0".rjust(6) + "\n"


# -- {{ }} templates ----------------------------------------------------------------
class TestBraceTemplate:
    def test_default_format_round_trips_bit_for_bit(self):
        template = Template.from_text("value = {{ k }}\n", name="in.txt.tpl")
        rng = random.Random(7)
        values = [0.1 + 0.2, 1 / 3, -2.5e-310, 1.7976931348623157e308, 5e-324, 0.0, -0.0,
                  123456789.123456789, 6.02214076e23]
        values += [rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300) for _ in range(500)]
        for value in values:
            text = template.render({"k": value})
            number = float(text.split("=")[1])
            assert number == value and math.copysign(1, number) == math.copysign(1, value)

    def test_format_specs(self):
        text = "a={{ a:.8e }} b={{b:10.4f}} c={{ c : g }} d={{ d }}\n"
        out = Template.from_text(text).render({"a": 1234.5678901234, "b": math.pi,
                                               "c": 1e-7, "d": 2})
        assert out == "a=1.23456789e+03 b=    3.1416 c=1e-07 d=2.0\n"

    def test_other_text_is_copied_verbatim(self):
        text = ('{"model": {"k1": {{ k1 }}, "k2": {{ k2:.3f }}},\n'
                ' "note": "{single} braces, $dollars$, ~tildes~ stay"}\n')
        template = Template.from_text(text, name="input.json.tpl")
        out = template.render({"k1": 0.25, "k2": 2.0, "unused": 9.0})
        assert out == ('{"model": {"k1": 0.25, "k2": 2.000},\n'
                       ' "note": "{single} braces, $dollars$, ~tildes~ stay"}\n')
        assert template.syntax == "braces"
        assert template.parameters == {"k1", "k2"}

    def test_locations_lists_each_line_once(self):
        template = Template.from_text("{{a}} {{a}}\nx\n{{ b }} {{ a }}\n")
        assert template.locations("a") == [1, 3]
        assert template.locations("b") == [3]

    def test_malformed_placeholders_name_file_and_line(self):
        with pytest.raises(TemplateError,
                           match=r"x\.tpl:2: malformed placeholder '\{\{ 3k \}\}'"):
            Template.from_text("ok\nv = {{ 3k }}\n", name="x.tpl")
        with pytest.raises(TemplateError, match=r"x\.tpl:1: malformed placeholder"):
            Template.from_text("v = {{ k\n", name="x.tpl")
        with pytest.raises(TemplateError, match=r"x\.tpl:1: bad format in '\{\{ k:zz \}\}'"):
            Template.from_text("{{ k:zz }}\n", name="x.tpl")


# -- values, files, coverage ------------------------------------------------------------
class TestValues:
    def test_unknown_parameter_names_file_line_and_known_ones(self):
        template = Template.from_text("a = {{ k1 }}\nb = {{ k3 }}\n", name="model.in.tpl")
        with pytest.raises(TemplateError) as err:
            template.render({"k1": 1.0, "k2": 2.0})
        message = str(err.value)
        assert "model.in.tpl:2: unknown parameter 'k3'" in message
        assert "k1, k2" in message
        assert "model.in.tpl:1" not in message

    def test_unknown_parameter_in_pest_template(self):
        template = Template.from_text("ptf #\n\n# kx #\n", name="p.tpl")
        with pytest.raises(TemplateError, match=r"p\.tpl:3: unknown parameter 'kx'"):
            template.render({"k": 1.0})

    def test_extra_values_are_fine(self):
        assert Template.from_text("{{ a }}").render({"a": 1.5, "b": 2.0}) == "1.5"

    def test_non_numeric_value(self):
        template = Template.from_text("x\n{{ a }}\n", name="v.tpl")
        with pytest.raises(TemplateError, match=r"v\.tpl:2: value 'abc' of parameter 'a'"):
            template.render({"a": "abc"})

    def test_numpy_values_are_accepted(self):
        np = pytest.importorskip("numpy")
        assert Template.from_text("{{ a }}").render({"a": np.float64(0.1)}) == "0.1"

    def test_from_file_and_write(self, tmp_path):
        tpl = tmp_path / "input.dat.tpl"
        tpl.write_text("ptf %\nK  = %K        %\nS  = {{ S }}\n", encoding="utf-8")
        template = Template.from_file(tpl)
        assert template.name == str(tpl)
        target = tmp_path / "input.dat"
        template.write(target, {"K": 2.5e-4, "S": 1.0})
        assert target.read_text() == "K  = " + "0.00025".rjust(11) + "\nS  = {{ S }}\n"
        with pytest.raises(TemplateError, match=r"input\.dat\.tpl:2: unknown parameter 'K'"):
            template.render({"k": 1.0})

    def test_missing_file(self, tmp_path):
        with pytest.raises(TemplateError, match="cannot read template"):
            Template.from_file(tmp_path / "absent.tpl")


class TestCoverage:
    def make(self):
        a = Template.from_text("{{ k1 }} {{ k2 }}\n{{ T0 }}\n", name="a.tpl")
        b = Template.from_text("ptf #\n\n# k_3 #\n", name="b.tpl")
        return a, b

    def test_all_free_parameters_covered(self):
        a, b = self.make()
        where = check_coverage([a, b], ["k1", "k2", "k_3"])
        assert where == {"k1": ["a.tpl:1"], "k2": ["a.tpl:1"], "k_3": ["b.tpl:3"]}

    def test_missing_parameter_is_listed_with_the_likely_typo(self):
        a, b = self.make()
        with pytest.raises(TemplateError) as err:
            check_coverage([a, b], ["k1", "k2", "k3", "k4"])
        message = str(err.value)
        assert "appear in no template" in message and "k3, k4" in message
        assert "b.tpl:3" in message and "'k_3'" in message
        assert "a.tpl:2" in message and "'T0'" in message

    def test_known_names_make_unknown_names_an_error(self):
        a, b = self.make()
        check_coverage([a, b], ["k1", "k2", "k_3"], known_names=["k1", "k2", "k_3", "T0"])
        with pytest.raises(TemplateError) as err:
            check_coverage([a, b], ["k1", "k2"], known_names=["k1", "k2", "T0"])
        message = str(err.value)
        assert "b.tpl:3: unknown parameter 'k_3'" in message
        assert "T0" not in message
