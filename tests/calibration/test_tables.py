"""Output tables, alignment to data, and PEST instruction files (calibration layer)."""
import time
from pathlib import Path

import numpy as np
import pytest

from lsqbox.calibration.tables import (InstructionError, TableError, align, parse_number,
                                       read_instructions, read_table)


# -- numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("1.5", 1.5), (" -2.5e-3 ", -2.5e-3), ("1.0D+03", 1000.0), ("-4.5d-2", -0.045),
    ("1.25Q2", 125.0), ("0.1234-100", 0.1234e-100), ("0.5+005", 0.5e5), (".5", 0.5),
    ("Infinity", np.inf), ("-inf", -np.inf), ("", np.nan),
])
def test_parse_number(text, value):
    got = parse_number(text)
    assert got == value or (np.isnan(value) and np.isnan(got))
    assert np.isnan(parse_number("NaN"))


def test_parse_number_errors():
    with pytest.raises(ValueError, match="not a number"):
        parse_number("1.2.3")
    with pytest.raises(ValueError, match="field overflow"):
        parse_number("********")


# -- read_table -------------------------------------------------------------------
class TestReadTable:
    def test_csv_with_header(self):
        table = read_table("time,conc_A,conc_B\n0.0,1.0,2.0\n0.5,0.75,2.25\n1.0,0.5,2.5\n")
        assert table.names == ["time", "conc_A", "conc_B"]
        assert table.n_rows == 3 and table.n_cols == 3 and len(table) == 3
        np.testing.assert_array_equal(table["time"], [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(table["conc_A"], [1.0, 0.75, 0.5])
        np.testing.assert_array_equal(table[2], [2.0, 2.25, 2.5])
        np.testing.assert_array_equal(table[-1], table["conc_B"])
        assert "conc_A" in table and "conc_C" not in table

    def test_whitespace_with_comment_header_lines(self):
        text = """\
# reactor.exe v2.1 -- batch simulation
# generated 2024-05-01 12:00
#
# time conc_A conc_B

   0.000   1.000000E+00   0.000000E+00
   0.100   9.048374E-01   9.516258E-02
! restart written here
   0.200   8.187308E-01   1.812692E-01
"""
        table = read_table(text)
        assert table.names == ["time", "conc_A", "conc_B"]
        assert table.n_rows == 3
        np.testing.assert_allclose(table["conc_A"], [1.0, 0.9048374, 0.8187308])
        np.testing.assert_allclose(table["conc_B"], [0.0, 0.09516258, 0.1812692])

    def test_fortran_exponents_and_nan(self):
        text = """\
%  x            y              z
  1.0D+00   2.500000D-03   0.1234-100
  2.0D+00   NaN            1.000000E+05
  3.0d+00   -1.25D+01      nan
"""
        table = read_table(text)
        assert table.names == ["x", "y", "z"]
        np.testing.assert_array_equal(table["x"], [1.0, 2.0, 3.0])
        assert table["y"][0] == 2.5e-3 and np.isnan(table["y"][1]) and table["y"][2] == -12.5
        assert table["z"][0] == 0.1234e-100 and table["z"][1] == 1e5
        assert np.isnan(table["z"][2])

    def test_fortran_d_exponents_in_a_large_table(self):
        values = np.linspace(-5, 5, 400).reshape(200, 2) * 1e3
        text = "\n".join(f"{a:15.7E} {b:15.7E}".replace("E", "D") for a, b in values)
        table = read_table(text + "\n")
        np.testing.assert_allclose(table.to_array(), values, rtol=1e-7)

    def test_numbered_columns_in_comment_header(self):
        text = "# 1:time 2:head 3:flux\n0 10.0 -1.5\n1 9.5 -1.25\n"
        table = read_table(text)
        assert table.names == ["time", "head", "flux"]
        np.testing.assert_array_equal(table["flux"], [-1.5, -1.25])

    def test_numbered_columns_with_units(self):
        text = ("# column (1) is time, then temperatures\n"
                "#  (1) time [s]   (2) T_in [K]   (3) T_out [K]\n"
                "   0.0   300.0   290.0\n   60.0   301.5   291.0\n")
        table = read_table(text)
        assert table.names == ["time", "T_in", "T_out"]
        assert table.units == {"time": "s", "T_in": "K", "T_out": "K"}
        np.testing.assert_array_equal(table["T_out"], [290.0, 291.0])

    def test_headerless_columns_by_index(self):
        table = read_table("1 2 3\n4 5 6\n")
        assert table.names == ["col0", "col1", "col2"]
        np.testing.assert_array_equal(table[1], [2.0, 5.0])
        np.testing.assert_array_equal(table["col2"], [3.0, 6.0])

    def test_semicolon_csv_with_units_row_and_quotes(self):
        text = '"time";"flow rate";"level"\n"[h]";"(m3/s)";"m"\n0;1.5;10\n1;1.75;10.5\n'
        table = read_table(text)
        assert table.names == ["time", "flow rate", "level"]
        assert table.units == {"time": "h", "flow rate": "m3/s", "level": "m"}
        np.testing.assert_array_equal(table["flow rate"], [1.5, 1.75])

    def test_csv_units_in_header_empty_fields_and_trailing_commas(self):
        text = "time [s], conc (mg/L), note,\n0, 1.5, ,\n10, , 2,\n"
        table = read_table(text)
        assert table.names == ["time", "conc", "note"]
        assert table.units == {"time": "s", "conc": "mg/L"}
        np.testing.assert_array_equal(table["time"], [0.0, 10.0])
        assert table["conc"][0] == 1.5 and np.isnan(table["conc"][1])

    def test_header_only_table_has_no_rows(self):
        table = read_table("a,b\n")
        assert table.names == ["a", "b"] and table.n_rows == 0
        assert table["a"].shape == (0,)

    def test_columns_select_or_name(self):
        table = read_table("t x y\n1 2 3\n4 5 6\n", columns=["y", "t"])
        assert table.names == ["y", "t"]
        np.testing.assert_array_equal(table[0], [3.0, 6.0])
        named = read_table("1 2\n3 4\n", columns=["time", "value"])
        np.testing.assert_array_equal(named["value"], [2.0, 4.0])
        with pytest.raises(TableError, match="missing: z"):
            read_table("t x y\n1 2 3\n", columns=["t", "z"])

    def test_ragged_row_names_file_and_line(self, tmp_path):
        path = tmp_path / "out.dat"
        path.write_text("# t a b\n0 1 2\n1 3 4\n2 5\n3 6 7\n")
        with pytest.raises(TableError) as err:
            read_table(path)
        message = str(err.value)
        assert f"{path}:4: ragged row: 2 values where the other rows have 3" in message

    def test_non_numeric_value_names_file_line_and_column(self, tmp_path):
        path = tmp_path / "out.csv"
        path.write_text("time,conc\n0,1.0\n1,oops\n")
        with pytest.raises(TableError, match=r"out\.csv:3: column 1 \('conc'\): 'oops' is "
                                             r"not a number"):
            read_table(str(path))

    def test_header_and_data_disagree(self):
        with pytest.raises(TableError, match=r"<text>:1: the header has 3 names but the "
                                             r"data rows have 2 columns"):
            read_table("a b c\n1 2\n3 4\n")

    def test_fortran_overflow_stars(self):
        with pytest.raises(TableError, match=r":3: column 1 \('y'\): '\*\*\*\*\*\*' is a "
                                             "field overflow"):
            read_table("x y\n1 2\n2 ******\n")

    def test_duplicate_names_and_empty_input(self):
        with pytest.raises(TableError, match="duplicate column name 'a'"):
            read_table("a a\n1 2\n")
        with pytest.raises(TableError, match="no data"):
            read_table("# only a comment\n\n")

    def test_paths_and_missing_files(self, tmp_path):
        path = tmp_path / "r.csv"
        path.write_text("a,b\n1,2\n")
        assert read_table(path)["b"][0] == 2.0
        assert read_table(str(path)).source == str(path)
        with pytest.raises(FileNotFoundError):
            read_table(str(tmp_path / "missing.csv"))

    def test_lookup_errors_list_the_columns(self):
        table = read_table("a,b\n1,2\n")
        with pytest.raises(KeyError, match="columns: a, b"):
            table["c"]
        with pytest.raises(IndexError, match="2 columns"):
            table[5]

    def test_columns_are_copies(self):
        table = read_table("a,b\n1,2\n")
        column = table["a"]
        column[0] = 99.0
        assert table["a"][0] == 1.0

    def test_ten_thousand_rows(self, tmp_path):
        rng = np.random.default_rng(3)
        values = rng.random((10_000, 4)) * 10.0 ** rng.integers(-8, 8, (10_000, 4))
        path = tmp_path / "big.csv"
        path.write_text("time,conc_A,conc_B,temp\n"
                        + "\n".join(",".join(repr(v) for v in row) for row in values.tolist())
                        + "\n")
        start = time.perf_counter()
        table = read_table(path)
        elapsed = time.perf_counter() - start
        np.testing.assert_array_equal(table.to_array(), values)   # bit for bit
        assert elapsed < 0.5   # loose: typically ~10 ms


# -- align --------------------------------------------------------------------------
class TestAlign:
    x_model = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    y_model = np.array([10.0, 8.0, 7.0, 5.0, 1.0])

    def test_exact(self):
        y, method = align(self.x_model, self.y_model, [0.5, 2.0 * (1 + 1e-14), 4.0])
        assert method == "exact"
        np.testing.assert_array_equal(y, [8.0, 5.0, 1.0])

    def test_interpolated(self):
        y, method = align(self.x_model, self.y_model, [0.25, 1.0, 3.0])
        assert method == "interpolated"
        np.testing.assert_allclose(y, [9.0, 7.0, 3.0])

    def test_unsorted_model_output(self):
        order = [3, 0, 4, 1, 2]
        y, method = align(self.x_model[order], self.y_model[order], [0.75, 4.0])
        assert method == "interpolated"
        np.testing.assert_allclose(y, [7.5, 1.0])

    def test_outside_the_model_range_names_the_first_offender(self):
        with pytest.raises(ValueError, match=r"x=4\.5 is outside the model's x range "
                                             r"\[0\.0, 4\.0\]"):
            align(self.x_model, self.y_model, [1.0, 4.5, -1.0])
        with pytest.raises(ValueError, match=r"x=-0\.1 is outside"):
            align(self.x_model, self.y_model, [-0.1, 5.0])

    def test_row(self):
        y, method = align(self.x_model, self.y_model, [9.0, 9.0, 9.0, 9.0, 9.0], how="row")
        assert method == "row"
        np.testing.assert_array_equal(y, self.y_model)
        with pytest.raises(ValueError, match="model has 5, the data 2"):
            align(self.x_model, self.y_model, [0.0, 1.0], how="row")

    def test_forced_methods_and_bad_input(self):
        with pytest.raises(ValueError, match=r"x=0\.25 matches no model x"):
            align(self.x_model, self.y_model, [0.5, 0.25], how="exact")
        y, method = align(self.x_model, self.y_model, [0.5], how="interpolated")
        assert method == "interpolated" and y[0] == 8.0
        with pytest.raises(ValueError, match="how must be"):
            align(self.x_model, self.y_model, [0.5], how="nearest")
        with pytest.raises(ValueError, match="x_model has 5 values but y_model 2"):
            align(self.x_model, [1.0, 2.0], [0.5])
        with pytest.raises(ValueError, match="x_data contains NaN"):
            align(self.x_model, self.y_model, [np.nan])

    def test_with_a_read_table(self):
        table = read_table("# t c\n0 1\n1 3\n2 5\n")
        y, method = align(table["t"], table["c"], [0.5, 2.0])
        assert method == "interpolated"
        np.testing.assert_allclose(y, [2.0, 5.0])


# -- PEST instruction files -------------------------------------------------------------
MODEL_OUTPUT = """\
 GROUNDWATER FLOW MODEL  v3.2   run 0017
 ======================================
 STRESS PERIOD    1
   TIME      HEAD        FLUX
    0.00    12.50000  1.2500E-03
    1.00    12.43750  1.3125E-03
    2.00    12.40625 -2.5000E-04

 STRESS PERIOD    2
   TIME      HEAD        FLUX
    3.00    11.90000  9.8760E-04
 MASS BALANCE: IN =  1.234567D+02  OUT =  1.234000D+02  ERROR(%)= 0.046%
 OBSERVATION WELLS AT END OF PERIOD 2
   WELL   LAYER   SIMULATED
   W-01     1      10.7500
   W-02     2       9.5000
 TIME STEP 10 (13 ITERATIONS REQUIRED) STRESS --->
 X = 1.05 STRESS = 4.35678E+03
 TIME STEP 10 (BACK SUBSTITUTION) STRAIN --->
 X = 1.05 STRAIN = 2.56785E-03
 X = 1.10 STRAIN = 2.34564E-03
 SPECIES POPULATION AFTER 3 YEARS (ITERATIVE ADJUSTMENT REQUIRED)= 1.78434E5
 SOIL WATER CONTENT (NO CORRECTION)=21.345634%
 CONTAMINANT MASS: 0.1234-100 KG
"""

INSTRUCTIONS = """\
pif ~
~STRESS PERIOD    1~
l2 [t1]1:8 [h1]9:20 [q1]21:32
l1 (h2)12:14 !q2!
l1 w w !h3! w !q3!
~STRESS PERIOD    2~
l2 !dum! !h4!
& !q4!
l1 ~IN =~ !mb_in! ~OUT =~ !mb_out! ~=~ !mb_err! ~%~
~SIMULATED~
l1 t14 !w01!
l1 ~W-02~ w w !w02!
~TIME STEP 10~ ~STRAIN~
l1 ~STRAIN =~ !str1!
l1 ~STRAIN =~ !str2!
~SPECIES~ ~=~ !sp3!
l1 ~=~ !sws! ~%~
l1 ~MASS:~ !cmass!
"""

EXPECTED = {
    "t1": 0.0, "h1": 12.5, "q1": 1.25e-3,           # fixed columns
    "h2": 12.4375, "q2": 1.3125e-3,                 # semi-fixed, then non-fixed
    "h3": 12.40625, "q3": -2.5e-4,                  # whitespace navigation
    "h4": 11.9, "q4": 9.876e-4,                     # dummy observation, continuation
    "mb_in": 123.4567, "mb_out": 123.4, "mb_err": 0.046,   # secondary markers, D exponent
    "w01": 10.75, "w02": 9.5,                       # tab; marker + whitespace
    "str1": 2.56785e-3, "str2": 2.34564e-3,         # primary+secondary retry
    "sp3": 1.78434e5, "sws": 21.345634, "cmass": 0.1234e-100,
}


class TestInstructions:
    def test_every_instruction_kind_on_a_fixed_format_report(self):
        instructions = read_instructions(INSTRUCTIONS)
        assert instructions.observations == list(EXPECTED)
        values = instructions.read(MODEL_OUTPUT)
        assert list(values) == list(EXPECTED)
        for name, value in EXPECTED.items():
            assert values[name] == pytest.approx(value, rel=1e-15, abs=0), name

    def test_files_on_disk(self, tmp_path):
        ins = tmp_path / "report.ins"
        out = tmp_path / "report.out"
        ins.write_text(INSTRUCTIONS)
        out.write_text(MODEL_OUTPUT)
        instructions = read_instructions(ins)
        assert instructions.name == str(ins)
        assert instructions.read(out) == instructions.read(str(out)) == \
            instructions.read(MODEL_OUTPUT)

    def test_first_line_advance_starts_at_line_one(self):
        values = read_instructions("pif $\nl1 !a!\nl2 [b]1:4\n").read("1.5 x\nskip\n2.25\n")
        assert values == {"a": 1.5, "b": 2.25}

    def test_primary_marker_search_starts_below_the_current_line(self):
        output = "A 1\nA 2\nA 3\n"
        values = read_instructions("pif ~\n~A~ !x!\n~A~ !y!\n").read(output)
        assert values == {"x": 1.0, "y": 2.0}

    def test_non_fixed_observation_ends_at_a_following_marker(self):
        values = read_instructions("pif *\n*CONTENT* *=* !sws! *%*\n").read(
            "SOIL WATER CONTENT (NO CORRECTION)=21.345634%\n")
        assert values == {"sws": 21.345634}

    def test_dummy_observations_are_not_returned(self):
        instructions = read_instructions("pif ~\nl1 !dum! !dum! !c!\n")
        assert instructions.observations == ["c"]
        assert instructions.read("1 2 3\n") == {"c": 3.0}

    def test_comma_separated_output(self):
        values = read_instructions("pif ~\n~row7~ w !a! w !b!\n").read(
            "row1,1,2\nrow7,3.5,4.5e-3\n")
        assert values == {"a": 3.5, "b": 4.5e-3}


class TestInstructionErrors:
    def read(self, instructions, output=MODEL_OUTPUT):
        return read_instructions(instructions).read(output)

    def test_primary_marker_not_found(self):
        with pytest.raises(InstructionError) as err:
            self.read("pif ~\n~STRESS PERIOD    1~\n~STRESS PERIOD    9~\nl1 !x!\n")
        message = str(err.value)
        assert "<text>:3" in message
        assert "~STRESS PERIOD    9~ not found after line 3" in message

    def test_not_a_number_names_instruction_and_output_lines(self, tmp_path):
        out = tmp_path / "model.out"
        out.write_text(MODEL_OUTPUT)
        with pytest.raises(InstructionError) as err:
            self.read("pif ~\n~STRESS PERIOD    1~\nl1 [hd]5:8\n", out)
        message = str(err.value)
        assert "<text>:3: [hd]5:8: cannot read observation 'hd': 'IME' is not a number" \
            in message
        assert f"output {out} line 4: '   TIME      HEAD        FLUX'" in message

    def test_secondary_marker_not_found(self):
        with pytest.raises(InstructionError) as err:
            self.read("pif ~\n~MASS BALANCE~ ~IN =~ !a!\nl1 ~TOTAL~ !b!\n")
        message = str(err.value)
        assert "<text>:3: ~TOTAL~: secondary marker ~TOTAL~ not found" in message
        assert "line 13: ' OBSERVATION WELLS AT END OF PERIOD 2'" in message

    def test_secondary_marker_after_a_read_does_not_retry(self):
        with pytest.raises(InstructionError, match="secondary marker ~STRAIN~ not found"):
            self.read("pif ~\n~TIME STEP~ !x! ~STRAIN~\n")   # x reads "10", then no STRAIN

    def test_advance_past_the_end(self):
        with pytest.raises(InstructionError, match=r"<text>:2: l99: the output has only 24 "
                                                   "lines"):
            self.read("pif ~\nl99 !x!\n")

    def test_blank_columns_and_end_of_line(self):
        with pytest.raises(InstructionError, match=r"\[x\]1:3: columns 1-3 are blank"):
            self.read("pif ~\n~STRESS PERIOD    1~\nl2 [x]1:3\n")
        with pytest.raises(InstructionError, match=r"\(x\)1:3: columns 1-3 are blank"):
            self.read("pif ~\n~STRESS PERIOD    1~\nl2 (x)1:3\n")
        with pytest.raises(InstructionError, match="end of line reached while looking for"):
            self.read("pif ~\nl5 !a! !b! !c! !d!\n")
        with pytest.raises(InstructionError, match=r"\[x\]5:30: columns 5-30 hold more than "
                                                   "one value"):
            self.read("pif ~\nl5 [x]5:30\n")

    def test_left_to_right_only(self):
        with pytest.raises(InstructionError, match="instructions read left to right"):
            self.read("pif ~\nl5 [a]9:20 [b]1:8\n")
        with pytest.raises(InstructionError, match="instructions read left to right"):
            self.read("pif ~\nl5 !a! !b! t2 !c!\n")

    @pytest.mark.parametrize("text, message", [
        ("", r"<text>:1: the first line must be 'pif X'"),
        ("ptf ~\n", r"<text>:1: the first line must be 'pif X'"),
        ("pif a\n", r"'a' cannot be the marker delimiter"),
        ("pif [\n", r"'\[' cannot be the marker delimiter"),
        ("pif ~\n!x!\n", r"<text>:2: an instruction line must start with"),
        ("pif ~\nl1 [x]9:3\n", r"<text>:2: '\[x\]9:3': columns must satisfy"),
        ("pif ~\nl1 !x!\nl1 !x!\n", r"<text>:3: observation 'x' is already read on line 2"),
        ("pif ~\n& !x!\n", r"<text>:2: '&' continues nothing"),
        ("pif ~\nl1 ~abc !x!\n", r"<text>:2: unclosed marker"),
        ("pif ~\nl1 ~~ !x!\n", r"<text>:2: empty marker"),
        ("pif ~\nl1 !x! zz\n", r"<text>:2: unrecognised instruction 'zz'"),
        ("pif ~\nl0 !x!\n", r"'l0': the number must be at least 1"),
        ("pif ~\n~A~ l2 !x!\n", r"line advance 'l2' must be the first item"),
    ])
    def test_parse_errors(self, text, message):
        with pytest.raises(InstructionError, match=message):
            read_instructions(text)

    def test_parse_error_names_the_file(self, tmp_path):
        path = Path(tmp_path) / "bad.ins"
        path.write_text("pif @\n@A@\nl1 [x]1-5\n")
        with pytest.raises(InstructionError, match=r"bad\.ins:3: unrecognised instruction"):
            read_instructions(path)
