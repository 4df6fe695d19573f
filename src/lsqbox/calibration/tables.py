"""Reading what external programs write: numeric tables and PEST instruction files.

`read_table` reads CSV (comma or semicolon) and whitespace-separated tables as
simulation programs write them: comment lines (``#``, ``%``, ``!``), blank
lines, an optional header row of names (or a comment line of names just above
the data, e.g. ``# time conc_A conc_B`` or ``# 1:time 2:conc``), an optional
units row, Fortran numbers (``1.0D+03``, ``0.1234-100``) and ``nan``.

`align` puts model values at the data's x values (exact match, linear
interpolation, or row order).

`read_instructions` parses a PEST instruction file (``pif X``); its `read`
extracts named observations from any text output.

Sources given as ``path_or_text`` are text when they contain a line break,
otherwise the name of a file (a single line that names no file is read as
text). Every error is a ValueError whose message names the file and the line.
"""
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ["TableError", "Table", "read_table", "parse_number", "align",
           "InstructionError", "InstructionFile", "read_instructions"]

_COMMENT = "#%!"
_NUMBERING = re.compile(r"^(?:[(\[]\d+[)\]]:?|\d+[:)])")
_UNIT_BRACKET = re.compile(r"^(.*?\S)\s*\[([^\]]*)\]$")
_UNIT_PAREN = re.compile(r"^(.*?\S)\s+\(([^)]*)\)$")
_FORTRAN_EXP = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([+-]\d+)$")


class TableError(ValueError):
    """An unreadable table (the message names file:line)."""


# -- numbers -----------------------------------------------------------------------
def parse_number(text):
    """A float from a number as programs write it.

    Accepts Python/C syntax, Fortran ``D``/``Q`` exponents (``1.0D+03``), the
    exponent letter Fortran drops for three-digit exponents (``0.1234-100``),
    ``nan``/``inf`` in any case, and an empty field (NaN). Raises ValueError.
    """
    try:
        return float(text)
    except ValueError:
        pass
    token = text.strip()
    if not token:
        return math.nan
    fixed = token.replace("D", "e").replace("d", "e").replace("Q", "e").replace("q", "e")
    try:
        return float(fixed)
    except ValueError:
        pass
    match = _FORTRAN_EXP.match(token)
    if match:
        return float(f"{match.group(1)}e{match.group(2)}")
    if token and set(token) <= set("*+-"):
        raise ValueError(f"{token!r} is a field overflow (the program's format is too "
                         "narrow for the value)")
    raise ValueError(f"{token!r} is not a number")


def _is_number(token):
    """True if ``token`` parses as a number (an empty token does not count)."""
    if not token.strip():
        return False
    try:
        parse_number(token)
    except ValueError:
        return False
    return True


# -- sources -------------------------------------------------------------------------
def _load(source, what):
    """(text, name) for a path or for literal text."""
    if isinstance(source, os.PathLike):
        return _read_file(Path(source), what), str(source)
    if not isinstance(source, str):
        raise TypeError(f"{what}: expected a path or text, got {type(source).__name__}")
    if "\n" in source or "\r" in source:
        return source, "<text>"
    if os.path.isfile(source):
        return _read_file(Path(source), what), source
    if re.search(r"[/\\]|\.[A-Za-z]{1,5}$", source.strip()) and not _is_number(source):
        raise FileNotFoundError(f"{what}: no such file: {source!r}")
    return source, "<text>"


def _read_file(path, what):
    """A file's text (undecodable bytes are replaced, never fatal)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TableError(f"{path}: cannot read {what}: {exc.strerror}") from None


# -- tables ------------------------------------------------------------------------
class Table:
    """Numeric columns by name (``table["time"]``) or 0-based index (``table[2]``)."""

    def __init__(self, names, data, units=None, source="<text>"):
        """``data``: 2-D array, one row per table row, one column per name."""
        data = np.asarray(data, dtype=float).reshape(-1, len(names))
        self._columns = np.ascontiguousarray(data.T)
        self.names = list(names)
        self.units = dict(units or {})
        self.source = source
        self._index = {name: i for i, name in enumerate(self.names)}

    @property
    def n_rows(self):
        """Number of data rows."""
        return self._columns.shape[1]

    @property
    def n_cols(self):
        """Number of columns."""
        return self._columns.shape[0]

    def __len__(self):
        return self.n_rows

    def __contains__(self, name):
        return name in self._index

    def __getitem__(self, key):
        """A copy of one column, by name or by 0-based index."""
        return self._columns[self._position(key)].copy()

    def _position(self, key):
        """Column index for a name or an integer index."""
        if isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"{self.source}: no column {key!r} "
                               f"(columns: {', '.join(self.names)})")
            return self._index[key]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not -self.n_cols <= key < self.n_cols:
                raise IndexError(f"{self.source}: column index {key} out of range "
                                 f"(the table has {self.n_cols} columns)")
            return int(key) % self.n_cols
        raise TypeError(f"column key must be a name or an int, got {type(key).__name__}")

    def to_array(self):
        """All values as an (n_rows, n_cols) array (a copy)."""
        return self._columns.T.copy()

    def __repr__(self):
        return f"Table({self.source!r}, names={self.names}, n_rows={self.n_rows})"


def read_table(path_or_text, columns=None):
    """Read a numeric table (CSV, semicolon or whitespace separated).

    ``columns``: with a header, a subset of its names to keep (in that order);
    otherwise (or if the names are not all in the header) names for all the
    columns, in order. Without header and ``columns`` the names are ``col0``,
    ``col1``, ... Raises `TableError` naming file:line for ragged rows and
    non-numeric values.
    """
    text, name = _load(path_or_text, "table")
    rows, comments = _significant_rows(text)
    if not rows:
        raise TableError(f"{name}: no data (only comments or blank lines)")
    delimiter = _delimiter(rows[0][1])
    split = _splitter(delimiter, rows[0][1])
    header = units = None
    first_tokens = split(rows[0][1])
    if _has_text(first_tokens):
        header, rows = (rows[0][0], first_tokens), rows[1:]
        if rows and _has_text(split(rows[0][1])) and not any(map(_is_number,
                                                                  split(rows[0][1]))):
            units, rows = (rows[0][0], split(rows[0][1])), rows[1:]
    data, ncols = _numeric_block(rows, split, name, header, delimiter)
    names, unit_map = _column_names(header, units, comments, rows, ncols, delimiter, name)
    table = Table(names, data, unit_map, source=name)
    named = header is not None or names != _default_names(ncols)
    return _select(table, columns, named)


def _has_text(tokens):
    """True if some token is neither empty nor a number (a header or units row)."""
    return any(t.strip() and not _is_number(t) for t in tokens)


def _default_names(ncols):
    """Names of the columns of a table without header: col0, col1, ..."""
    return [f"col{i}" for i in range(ncols)]


def _significant_rows(text):
    """([(lineno, line)] of non-comment non-blank lines, {lineno: comment body})."""
    rows, comments = [], {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if not stripped:
            continue
        if stripped[0] in _COMMENT:
            if not rows:
                comments[lineno] = stripped.lstrip(_COMMENT)
            continue
        rows.append((lineno, line))
    return rows, comments


def _delimiter(line):
    """';' or ',' if the line has one, else None (whitespace)."""
    if ";" in line:
        return ";"
    if "," in line:
        return ","
    return None


def _splitter(delimiter, first_line):
    """A function line -> tokens for this delimiter (trailing delimiters dropped
    when the first row ends with one)."""
    if delimiter is None:
        return str.split
    trailing = first_line.rstrip().endswith(delimiter)

    def split(line):
        tokens = line.split(delimiter)
        if trailing and len(tokens) > 1 and not tokens[-1].strip():
            tokens.pop()
        return tokens
    return split


def _numeric_block(rows, split, name, header, delimiter):
    """(n_rows x n_cols array, n_cols) from the data rows; TableError if ragged/bad."""
    if not rows:
        ncols = len(header[1])
        return np.empty((0, ncols)), ncols
    data = _parse_fast(rows, delimiter, len(split(rows[0][1])))
    if data is not None:
        return data, data.shape[1]
    return _parse_checked(rows, split, name, header)


def _parse_fast(rows, delimiter, ncols):
    """NumPy's C parser on the data rows (Fortran D exponents retried as E);
    None if anything is unusual, so that `_parse_checked` can say what."""
    lines = [line for _, line in rows]
    for attempt in range(2):
        try:
            data = np.loadtxt(lines, delimiter=delimiter, comments=None, ndmin=2,
                              dtype=float)
        except ValueError:
            if attempt or not any("D" in line or "d" in line for line in lines[:50]):
                return None
            lines = "\n".join(lines).replace("D", "e").replace("d", "e").split("\n")
            continue
        return data if data.shape[1] == ncols else None
    return None


def _parse_checked(rows, split, name, header):
    """Row-by-row parse that names the first ragged row or bad value.

    The column count is the most common row length, so the message points at
    the odd row out.
    """
    token_rows = [split(line) for _, line in rows]
    lengths = Counter(map(len, token_rows))
    ncols = max(lengths, key=lambda n: (lengths[n], -n))
    if len(lengths) > 1:
        for (lineno, line), tokens in zip(rows, token_rows):
            if len(tokens) != ncols:
                raise TableError(f"{name}:{lineno}: ragged row: {_count(len(tokens))} where "
                                 f"the other rows have {ncols}: {line.strip()!r}")
    labels = [t.strip() for t in header[1]] if header is not None else None
    values = _parse_slowly(rows, token_rows, name, labels)
    return np.array(values, dtype=float).reshape(len(rows), ncols), ncols


def _count(n):
    """'1 value', '3 values'."""
    return f"{n} value" if n == 1 else f"{n} values"


def _parse_slowly(rows, token_rows, name, labels):
    """Token values with Fortran syntax, or a TableError at the first bad one."""
    values = []
    for (lineno, _), tokens in zip(rows, token_rows):
        for col, token in enumerate(tokens):
            try:
                values.append(parse_number(token))
            except ValueError as exc:
                label = f" ({labels[col]!r})" if labels and col < len(labels) else ""
                raise TableError(f"{name}:{lineno}: column {col}{label}: {exc}") from None
    return values


def _column_names(header, units, comments, rows, ncols, delimiter, name):
    """(names, {name: unit}) from the header row, a comment header, or defaults."""
    if header is not None:
        parsed = _header_names(header[1], ncols, delimiter)
        if parsed is None:
            raise TableError(f"{name}:{header[0]}: the header has {len(header[1])} "
                             f"names but the data rows have {ncols} columns")
        names, unit_list = parsed
        if units is not None:
            unit_list = _unit_row(units, ncols, name)
    else:
        names, unit_list = _comment_header(comments, rows, ncols, delimiter)
    _check_unique(names, header[0] if header else None, name)
    unit_map = {n: u for n, u in zip(names, unit_list) if u}
    return names, unit_map


def _header_names(tokens, ncols, delimiter):
    """(names, units) if the header tokens give exactly ncols names, else None."""
    tokens = [_unquote(t.strip()) for t in tokens]
    tokens = [_NUMBERING.sub("", t) for t in tokens if t and not _NUMBERING.fullmatch(t)]
    tokens = [t for t in tokens if t]
    if len(tokens) == ncols:
        pairs = [_split_unit(t) for t in tokens]
        return [n for n, _ in pairs], [u for _, u in pairs]
    if delimiter is None:  # "time [s] conc (mg/L)": unit tokens follow their names
        names, units = [], []
        for t in tokens:
            if names and _is_unit_token(t):
                units[-1] = t[1:-1]
            else:
                names.append(t)
                units.append(None)
        if len(names) == ncols:
            return names, units
    return None


def _comment_header(comments, rows, ncols, delimiter):
    """Names from the comment line(s) just above the first data row, else defaults."""
    first = rows[0][0] if rows else math.inf
    above = [(n, body) for n, body in sorted(comments.items())
             if n < first and body.strip() and not _is_rule(body)]
    units = None
    if above and len(above) >= 2:
        tokens = _comment_tokens(above[-1][1], delimiter)
        if len(tokens) == ncols and all(_is_unit_token(t) for t in tokens):
            units, above = [t[1:-1] for t in tokens], above[:-1]
    if above:
        parsed = _header_names(_comment_tokens(above[-1][1], delimiter), ncols, delimiter)
        if parsed is not None and _has_names(parsed[0]):
            names, unit_list = parsed
            return names, units or unit_list
    return _default_names(ncols), [None] * ncols


def _comment_tokens(body, delimiter):
    """Tokens of a comment line, split like the data."""
    return body.split(delimiter) if delimiter else body.split()


def _has_names(names):
    """True if every name has a letter and none is a number (not a data row)."""
    return bool(names) and all(any(c.isalpha() for c in n) and not _is_number(n)
                               for n in names)


def _is_rule(body):
    """A separator comment such as ``-----`` or ``=====``."""
    return not any(c.isalnum() for c in body)


def _is_unit_token(token):
    """``[s]``, ``(mg/L)``, ``{K}``: a bracketed unit."""
    return len(token) >= 2 and token[0] + token[-1] in ("[]", "()", "{}")


def _split_unit(token):
    """``time [s]`` -> (``time``, ``s``); ``conc (mg/L)`` -> (``conc``, ``mg/L``)."""
    match = _UNIT_BRACKET.match(token) or _UNIT_PAREN.match(token)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return token, None


def _unit_row(units, ncols, name):
    """Units from a units row (brackets removed)."""
    lineno, tokens = units
    tokens = [_unquote(t.strip()) for t in tokens]
    if len(tokens) != ncols:
        raise TableError(f"{name}:{lineno}: the units row has {len(tokens)} entries "
                         f"but the table has {ncols} columns")
    return [t[1:-1] if _is_unit_token(t) else t for t in tokens]


def _unquote(token):
    """Remove one pair of surrounding quotes."""
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    return token


def _check_unique(names, lineno, name):
    """TableError for duplicate column names."""
    seen = set()
    for n in names:
        if n in seen:
            where = f"{name}:{lineno}" if lineno else name
            raise TableError(f"{where}: duplicate column name {n!r}")
        seen.add(n)


def _select(table, columns, named):
    """Apply the ``columns`` argument of `read_table`."""
    if columns is None:
        return table
    columns = [str(c) for c in columns]
    if not columns:
        raise TableError(f"{table.source}: columns=[] selects nothing")
    if named and all(c in table for c in columns):
        data = np.column_stack([table[c] for c in columns])
        units = {c: table.units[c] for c in columns if c in table.units}
        return Table(columns, data.reshape(table.n_rows, len(columns)), units, table.source)
    if len(columns) != table.n_cols:
        missing = [c for c in columns if c not in table]
        raise TableError(f"{table.source}: columns={columns} neither selects existing "
                         f"columns (missing: {', '.join(missing)}; the table has "
                         f"{', '.join(table.names)}) nor names all {table.n_cols} columns")
    _check_unique(columns, None, table.source)
    return Table(columns, table.to_array(), {}, table.source)


# -- alignment -------------------------------------------------------------------
def align(x_model, y_model, x_data, how="auto"):
    """Model values at the data's x: returns ``(y_at_data, method)``.

    ``how='auto'``: 'exact' if every data x equals a model x (within 1e-12
    relative), else 'interpolated' (linear, inside the model's x range; a data x
    outside it is a ValueError naming the first such x). ``how='exact'`` and
    ``how='interpolated'`` force one method; ``how='row'`` pairs by row order
    (the lengths must agree). Model x need not be sorted; for repeated model x
    the first row wins.
    """
    x_model = _vector(x_model, "x_model")
    y_model = _vector(y_model, "y_model")
    x_data = _vector(x_data, "x_data")
    if x_model.size != y_model.size:
        raise ValueError(f"x_model has {x_model.size} values but y_model {y_model.size}")
    if how == "row":
        if y_model.size != x_data.size:
            raise ValueError(f"row alignment needs as many model rows as data points: "
                             f"the model has {y_model.size}, the data {x_data.size}")
        return y_model.copy(), "row"
    if how not in ("auto", "exact", "interpolated", "interpolate"):
        raise ValueError(f"how must be 'auto', 'exact', 'interpolated' or 'row', "
                         f"got {how!r}")
    if x_model.size == 0:
        raise ValueError("the model output has no rows to align with")
    for label, x in (("x_model", x_model), ("x_data", x_data)):
        if np.isnan(x).any():
            raise ValueError(f"{label} contains NaN at position {int(np.argmax(np.isnan(x)))}")
    order = np.argsort(x_model, kind="stable")
    xs, ys = x_model[order], y_model[order]
    matched, index = _exact_matches(xs, x_data)
    if how != "interpolated" and how != "interpolate" and matched.all():
        return ys[index], "exact"
    if how == "exact":
        bad = float(x_data[~matched][0])
        raise ValueError(f"data x={bad!r} matches no model x (within 1e-12 relative)")
    outside = ~matched & ((x_data < xs[0]) | (x_data > xs[-1]))
    if outside.any():
        bad = float(x_data[np.argmax(outside)])
        raise ValueError(f"data x={bad!r} is outside the model's x range "
                         f"[{float(xs[0])!r}, {float(xs[-1])!r}]; cannot interpolate")
    y_at = np.interp(x_data, xs, ys)
    y_at[matched] = ys[index[matched]]
    return y_at, "interpolated"


def _vector(values, label):
    """A 1-D float array (ValueError otherwise)."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{label} must be one-dimensional, got shape {array.shape}")
    return array


def _exact_matches(xs, x_data, rtol=1e-12):
    """(matched mask, index into sorted xs) of data x equal to a model x.

    The nearest model x is taken (the first of repeated values)."""
    right = np.searchsorted(xs, x_data, side="left")
    upper = np.clip(right, 0, xs.size - 1)
    lower = np.clip(right - 1, 0, xs.size - 1)
    nearest = np.where(np.abs(xs[lower] - x_data) < np.abs(xs[upper] - x_data), lower, upper)
    index = np.searchsorted(xs, xs[nearest], side="left")
    scale = np.maximum(np.abs(xs[index]), np.abs(x_data))
    matched = np.abs(xs[index] - x_data) <= rtol * scale
    return matched, index


# -- PEST instruction files ---------------------------------------------------------
class InstructionError(ValueError):
    """A bad instruction file, or output it cannot read (names both lines)."""


_FORBIDDEN_MARKERS = set("![]():&")
_WHITE = " \t,"


class _Item:
    """One instruction item: kind, arguments, its text and instruction line."""

    __slots__ = ("kind", "arg", "cols", "text", "line")

    def __init__(self, kind, arg, text, line, cols=None):
        self.kind = kind    # primary secondary line tab w fixed semi nonfixed
        self.arg = arg      # marker text, count/column, or observation name
        self.cols = cols    # (first, last) 1-based inclusive for fixed/semi-fixed
        self.text = text
        self.line = line


_WORDS = (
    (re.compile(r"[lL](\d+)$"), "line"),
    (re.compile(r"[tT](\d+)$"), "tab"),
    (re.compile(r"!([^!\s]+)!$"), "nonfixed"),
    (re.compile(r"\[([^\]\s]+)\](\d+):(\d+)$"), "fixed"),
    (re.compile(r"\(([^)\s]+)\)(\d+):(\d+)$"), "semi"),
)


class InstructionFile:
    """A parsed PEST instruction file; `read` extracts its observations."""

    def __init__(self, lines, delimiter, name="<text>"):
        """Use `read_instructions`. ``lines``: lists of `_Item`, one per instruction."""
        self.name = name
        self.delimiter = delimiter
        self._lines = lines
        self.observations = [item.arg for line in lines for item in line
                             if item.kind in ("fixed", "semi", "nonfixed")
                             and item.arg.lower() != "dum"]

    @classmethod
    def from_text(cls, text, name="<text>"):
        """Parse instruction text (first line ``pif X``)."""
        lines = text.splitlines()
        delimiter = _pif_delimiter(lines[0] if lines else "", name)
        instructions, seen = [], {}
        for lineno, raw in enumerate(lines[1:], start=2):
            if not raw.strip():
                continue
            items = _parse_instruction_line(raw, delimiter, name, lineno)
            if items[0].kind == "continuation":
                if not instructions:
                    raise InstructionError(f"{name}:{lineno}: '&' continues nothing (it "
                                           "cannot be on the first instruction line)")
                instructions[-1].extend(items[1:])
            else:
                instructions.append(items)
            _check_duplicates(items, seen, name)
        return cls(instructions, delimiter, name)

    def read(self, output_text_or_path):
        """{observation name: value} from a model output (text or path)."""
        text, out_name = _load(output_text_or_path, "model output")
        return self.read_text(text, out_name)

    def read_text(self, text, output_name="<output>"):
        """{observation name: value} from output text."""
        reader = _OutputReader(text.splitlines(), output_name, self.name)
        values = {}
        for items in self._lines:
            reader.run(items, values)
        return values

    def __repr__(self):
        return f"InstructionFile({self.name!r}, observations={len(self.observations)})"


def read_instructions(path_or_text):
    """Parse a PEST instruction file (a path, or text containing a line break)."""
    text, name = _load(path_or_text, "instruction file")
    return InstructionFile.from_text(text, name)


def _pif_delimiter(line, name):
    """The marker delimiter declared on the ``pif X`` line."""
    parts = line.split()
    if len(parts) != 2 or parts[0].lower() != "pif" or len(parts[1]) != 1:
        raise InstructionError(f"{name}:1: the first line must be 'pif X' with X the "
                               f"marker delimiter, got {line.strip()!r}")
    delimiter = parts[1]
    if delimiter.isalnum() or delimiter in _FORBIDDEN_MARKERS:
        raise InstructionError(f"{name}:1: {delimiter!r} cannot be the marker delimiter "
                               "(letters, digits and ! [ ] ( ) : & are reserved)")
    return delimiter


def _parse_instruction_line(raw, delimiter, name, lineno):
    """The items of one instruction line."""
    items, pos = [], 0
    while pos < len(raw):
        if raw[pos].isspace():
            pos += 1
            continue
        if raw[pos] == delimiter:
            end = raw.find(delimiter, pos + 1)
            if end < 0:
                raise InstructionError(f"{name}:{lineno}: unclosed marker "
                                       f"{raw[pos:].strip()!r}")
            if end == pos + 1:
                raise InstructionError(f"{name}:{lineno}: empty marker "
                                       f"{delimiter + delimiter!r}")
            kind = "primary" if not items else "secondary"
            items.append(_Item(kind, raw[pos + 1:end], raw[pos:end + 1], lineno))
            pos = end + 1
            continue
        end = pos
        while end < len(raw) and not raw[end].isspace() and raw[end] != delimiter:
            end += 1
        items.append(_word_item(raw[pos:end], bool(items), name, lineno))
        pos = end
    first = items[0]
    if first.kind not in ("primary", "line", "continuation"):
        raise InstructionError(f"{name}:{lineno}: an instruction line must start with a "
                               f"line advance (l1), a primary marker or '&', not "
                               f"{first.text!r}")
    return items


def _word_item(word, later, name, lineno):
    """A non-marker instruction item."""
    if word == "&" and not later:
        return _Item("continuation", None, word, lineno)
    if word in ("w", "W"):
        return _Item("w", None, word, lineno)
    for pattern, kind in _WORDS:
        match = pattern.match(word)
        if not match:
            continue
        if kind in ("line", "tab"):
            count = int(match.group(1))
            if count < 1:
                raise InstructionError(f"{name}:{lineno}: {word!r}: the number must be "
                                       "at least 1")
            if kind == "line" and later:
                raise InstructionError(f"{name}:{lineno}: line advance {word!r} must be "
                                       "the first item of an instruction line")
            return _Item(kind, count, word, lineno)
        if kind == "nonfixed":
            return _Item(kind, match.group(1), word, lineno)
        first, last = int(match.group(2)), int(match.group(3))
        if not 1 <= first <= last:
            raise InstructionError(f"{name}:{lineno}: {word!r}: columns must satisfy "
                                   "1 <= first <= last")
        return _Item(kind, match.group(1), word, lineno, cols=(first, last))
    raise InstructionError(f"{name}:{lineno}: unrecognised instruction {word!r}")


def _check_duplicates(items, seen, name):
    """InstructionError for an observation name used twice (except 'dum')."""
    for item in items:
        if item.kind in ("fixed", "semi", "nonfixed") and item.arg.lower() != "dum":
            key = item.arg
            if key in seen:
                raise InstructionError(f"{name}:{item.line}: observation {key!r} is "
                                       f"already read on line {seen[key]}")
            seen[key] = item.line


class _OutputReader:
    """Walks the output lines as the instructions direct (a line and a cursor)."""

    def __init__(self, lines, out_name, ins_name):
        self.lines = lines
        self.out_name = out_name
        self.ins_name = ins_name
        self.row = -1      # current output line (0-based); -1: above the first line
        self.cursor = -1   # last processed column on it (0-based); -1: none yet

    # -- one instruction line --------------------------------------------------
    def run(self, items, values):
        """Execute one instruction line, storing observations into ``values``."""
        start = 1
        if items[0].kind == "line":
            self._advance(items[0])
        else:
            start = self._find_primary(items)
        for index in range(start, len(items)):
            nxt = items[index + 1] if index + 1 < len(items) else None
            self._execute(items[index], nxt, values)

    def _advance(self, item):
        """l<n>: move n lines down."""
        target = self.row + item.arg
        if target >= len(self.lines):
            self._fail(item, f"the output has only {len(self.lines)} lines; "
                       f"cannot advance to line {target + 1}", show_line=False)
        self.row, self.cursor = target, -1

    def _find_primary(self, items):
        """Search down for the primary marker (and the secondary markers that
        directly follow it); returns the index of the first item left to run."""
        marker = items[0]
        trailing = 1
        while trailing < len(items) and items[trailing].kind == "secondary":
            trailing += 1
        for row in range(self.row + 1, len(self.lines)):
            line = self.lines[row]
            column = line.find(marker.arg)
            if column < 0:
                continue
            cursor = column + len(marker.arg) - 1
            for item in items[1:trailing]:
                found = line.find(item.arg, cursor + 1)
                if found < 0:
                    break
                cursor = found + len(item.arg) - 1
            else:
                self.row, self.cursor = row, cursor
                return trailing
        after = "the start" if self.row < 0 else f"line {self.row + 1}"
        markers = " ".join(item.text for item in items[:trailing])
        self._fail(marker, f"primary marker {markers} not found after {after} "
                   f"(the output has {len(self.lines)} lines)", show_line=False)

    def _execute(self, item, nxt, values):
        """Run one item after the line is chosen."""
        kind = item.kind
        if kind == "secondary":
            found = self._line().find(item.arg, self.cursor + 1)
            if found < 0:
                self._fail(item, f"secondary marker {item.text} not found after "
                           f"column {self.cursor + 1}")
            self.cursor = found + len(item.arg) - 1
        elif kind == "w":
            self._whitespace(item)
        elif kind == "tab":
            self._tab(item)
        elif kind == "fixed":
            self._store(item, self._fixed(item), values)
        elif kind == "semi":
            self._store(item, self._semi_fixed(item), values)
        elif kind == "nonfixed":
            self._store(item, self._non_fixed(item, nxt), values)
        else:  # a line advance inside a line is rejected by the parser
            raise AssertionError(kind)

    # -- navigation ----------------------------------------------------------------
    def _line(self):
        return self.lines[self.row]

    def _whitespace(self, item):
        """w: to the last blank of the next run of blanks."""
        line, pos = self._line(), self.cursor + 1
        while pos < len(line) and line[pos] not in _WHITE:
            pos += 1
        if pos >= len(line):
            self._fail(item, f"no whitespace after column {self.cursor + 1}")
        while pos + 1 < len(line) and line[pos + 1] in _WHITE:
            pos += 1
        if pos + 1 >= len(line):
            self._fail(item, "only whitespace follows; nothing left to read")
        self.cursor = pos

    def _tab(self, item):
        """t<n>: to column n (1-based)."""
        column = item.arg - 1
        if column >= len(self._line()):
            self._fail(item, f"the line has only {len(self._line())} characters")
        if column < self.cursor:
            self._fail(item, f"column {item.arg} is left of the cursor (column "
                       f"{self.cursor + 1}); instructions read left to right")
        self.cursor = column

    # -- reading numbers ----------------------------------------------------------
    def _fixed(self, item):
        """[obs]c1:c2: the number in exactly these columns."""
        first, last = item.cols
        self._check_right_of_cursor(item, first)
        field = self._line()[first - 1:last]
        token = field.strip()
        if not token:
            self._fail(item, f"columns {first}-{last} are blank")
        if len(token.replace(",", " ").split()) > 1:
            self._fail(item, f"columns {first}-{last} hold more than one value: {field!r}")
        self.cursor = min(last, len(self._line())) - 1
        return self._number(item, token)

    def _semi_fixed(self, item):
        """(obs)c1:c2: the whitespace-delimited number touching these columns."""
        first, last = item.cols
        self._check_right_of_cursor(item, first)
        line = self._line()
        pos = first - 1
        while pos < min(last, len(line)) and line[pos] in _WHITE:
            pos += 1
        if pos >= min(last, len(line)):
            self._fail(item, f"columns {first}-{last} are blank")
        start, end = pos, pos
        while start > 0 and line[start - 1] not in _WHITE:
            start -= 1
        while end < len(line) and line[end] not in _WHITE:
            end += 1
        self.cursor = end - 1
        return self._number(item, line[start:end])

    def _non_fixed(self, item, nxt):
        """!obs!: the next whitespace-delimited number (or up to the next marker)."""
        line = self._line()
        start = self.cursor + 1
        while start < len(line) and line[start] in _WHITE:
            start += 1
        if start >= len(line):
            self._fail(item, f"end of line reached while looking for {item.text}")
        end = start
        while end < len(line) and line[end] not in _WHITE:
            end += 1
        if nxt is not None and nxt.kind == "secondary":
            found = line.find(nxt.arg, start)
            if 0 <= found < end:
                end = found
        if end == start:
            self._fail(item, f"no number before the marker {nxt.text}")
        self.cursor = end - 1
        return self._number(item, line[start:end])

    def _check_right_of_cursor(self, item, first):
        """Columns must lie right of what was already processed."""
        if first - 1 <= self.cursor:
            self._fail(item, f"column {first} is not right of the cursor (column "
                       f"{self.cursor + 1}); instructions read left to right")

    def _number(self, item, token):
        try:
            return parse_number(token)
        except ValueError as exc:
            self._fail(item, f"cannot read observation '{item.arg}': {exc}")

    @staticmethod
    def _store(item, value, values):
        if item.arg.lower() != "dum":
            values[item.arg] = value

    def _fail(self, item, message, show_line=True):
        """Raise an InstructionError naming the instruction and output lines."""
        where = f"{self.ins_name}:{item.line}: {item.text}: {message}"
        if show_line and 0 <= self.row < len(self.lines):
            where += (f"\n  output {self.out_name} line {self.row + 1}: "
                      f"{self.lines[self.row]!r}")
        raise InstructionError(where)
