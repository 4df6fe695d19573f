"""Input-file templates: where parameter values go in an external program's input.

Two syntaxes, recognised from the content:

* PEST template files. The first line is ``ptf X`` where ``X`` is the
  delimiter (one character, not a letter, digit or blank). A field is
  ``X name X``; the whole field, delimiters included, is the width the value
  must fill. The value is written right-justified with as many significant
  digits as fit (fixed or exponent notation, whichever is more precise), always
  with a decimal point (a Fortran ``F``/``E`` edit descriptor would otherwise
  imply one), and never wider than the field. As in PEST, every field of the
  same parameter in one template receives the same text, sized for the
  narrowest of them. The ``ptf`` line is not part of the output.

* ``{{ name }}`` and ``{{ name:fmt }}`` placeholders, ``fmt`` a Python format
  spec (``.8e``, ``g``, ``10.4f``). Without ``fmt`` the value is written as
  ``repr(float(value))``, which reads back bit for bit. Everything else is
  copied verbatim.

Line numbers in messages and in `Template.locations` are those of the template
file itself (for PEST templates the ``ptf`` line is line 1).
"""
import math
import re
from pathlib import Path

__all__ = ["TemplateError", "Template", "check_coverage", "format_in_width"]


class TemplateError(ValueError):
    """A problem with a template or with the values given to it (names file:line)."""


class _Field:
    """One placeholder: its parameter name, line, and how the value is written."""

    __slots__ = ("name", "line", "width", "fmt")

    def __init__(self, name, line, width=None, fmt=None):
        self.name = name
        self.line = line
        self.width = width  # PEST fields: the field width
        self.fmt = fmt      # brace placeholders: the format spec ('' = exact repr)


_BRACE_OPEN = "{{"
_BRACE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(?::([^{}]*?))?\s*\}\}")
_PTF_LINE = re.compile(r"ptf(?:\s|$)", re.IGNORECASE)


class Template:
    """A parsed template; `render` fills it with parameter values."""

    def __init__(self, pieces, syntax, name="<string>"):
        """Use `from_file` or `from_text`. ``pieces``: lists of str/_Field, one per line."""
        self.name = str(name)
        self.syntax = syntax  # "pest" or "braces"
        self._pieces = pieces
        self._fields = [p for line in pieces for p in line if isinstance(p, _Field)]
        self._min_width = {}
        for f in self._fields:
            if f.width is not None:
                self._min_width[f.name] = min(f.width, self._min_width.get(f.name, f.width))

    # -- construction ----------------------------------------------------------
    @classmethod
    def from_file(cls, path, encoding="utf-8"):
        """Read and parse a template file (either syntax)."""
        path = Path(path)
        try:
            text = path.read_text(encoding=encoding, errors="surrogateescape")
        except OSError as exc:
            raise TemplateError(f"{path}: cannot read template: {exc.strerror}") from None
        return cls.from_text(text, name=str(path))

    @classmethod
    def from_text(cls, text, name="<string>"):
        """Parse template text; ``name`` is used in error messages."""
        lines = text.splitlines(keepends=True)
        if lines and _PTF_LINE.match(lines[0]):
            delimiter = _ptf_delimiter(lines[0], name)
            pieces = [[]]  # the ptf line renders to nothing
            pieces += [_parse_pest_line(line, delimiter, name, i)
                       for i, line in enumerate(lines[1:], start=2)]
            return cls(pieces, "pest", name)
        pieces = [_parse_brace_line(line, name, i) for i, line in enumerate(lines, start=1)]
        return cls(pieces, "braces", name)

    # -- inspection --------------------------------------------------------------
    @property
    def parameters(self):
        """Set of parameter names used in the template."""
        return {f.name for f in self._fields}

    def locations(self, name):
        """Sorted line numbers on which parameter ``name`` appears ([] if nowhere)."""
        return sorted({f.line for f in self._fields if f.name == name})

    def __repr__(self):
        return (f"Template({self.name!r}, syntax={self.syntax!r}, "
                f"parameters={sorted(self.parameters)})")

    # -- rendering -------------------------------------------------------------
    def render(self, values):
        """The filled-in text. ``values`` maps names to numbers; extra names are fine."""
        missing = [f for f in self._fields if f.name not in values]
        if missing:
            raise TemplateError(_unknown_message(self.name, missing, values))
        texts = {}  # PEST: one text per parameter, sized for its narrowest field
        out = []
        for line in self._pieces:
            for piece in line:
                out.append(piece if isinstance(piece, str)
                           else self._field_text(piece, values, texts))
        return "".join(out)

    def write(self, path, values):
        """Render into file ``path`` (bytes outside the fields are preserved)."""
        Path(path).write_text(self.render(values), encoding="utf-8",
                              errors="surrogateescape", newline="")

    def _field_text(self, field, values, texts):
        """Text for one field (PEST texts are cached per parameter)."""
        value = _as_float(values[field.name], field, self.name)
        if field.width is None:
            return format(value, field.fmt) if field.fmt else repr(value)
        if field.name not in texts:
            width = self._min_width[field.name]
            narrowest = min(f.line for f in self._fields
                            if f.name == field.name and f.width == width)
            try:
                texts[field.name] = format_in_width(value, width)
            except ValueError as exc:
                raise TemplateError(f"{self.name}:{narrowest}: parameter "
                                    f"'{field.name}': {exc}") from None
        return texts[field.name].rjust(field.width)


def check_coverage(templates, free_names, known_names=None):
    """Check that every free parameter appears in at least one template.

    Raises `TemplateError` listing the free parameters that appear in no
    template; the message also lists, per file:line, the template names that
    are not free parameters (usually the typo behind a missing one). With
    ``known_names`` (all parameter names, fixed ones included) a template name
    outside ``known_names`` is an error by itself. Returns
    ``{name: ["file:line", ...]}`` for the free parameters.
    """
    templates = list(templates)
    free = list(dict.fromkeys(free_names))
    allowed = set(free) | set(known_names or ())
    where = {name: [] for name in free}
    unknown = []
    for tpl in templates:
        for name in sorted(tpl.parameters):
            lines = tpl.locations(name)
            if name in where:
                where[name].extend(f"{tpl.name}:{line}" for line in lines)
            elif name not in allowed:
                unknown.extend((tpl.name, line, name) for line in lines)
    missing = [name for name in free if not where[name]]
    if missing or (unknown and known_names is not None):
        raise TemplateError(_coverage_message(templates, missing, unknown, known_names))
    return where


def format_in_width(value, width):
    """The most precise text for ``value`` that fits in ``width`` characters.

    Candidates are the shortest exact form, fixed notation and exponent notation
    with as many digits as fit (a leading ``0`` may be dropped: ``.0123``); the
    one closest to ``value`` wins, ties going to the conventional notation and
    then to the shorter text. The text always has a decimal point. Raises
    ValueError if the value is not finite or even the shortest form is too wide.
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"value {value!r} is not a finite number")
    exact = _with_point(repr(value))
    if len(exact) <= width:  # nothing is closer, and repr is short and conventional
        return exact
    candidates = list(_candidates(value, width))
    if not candidates:
        need = min(len(_exponent_text(value, 0)), len(_fixed_text(value, 0)))
        raise ValueError(f"value {value!r} does not fit in a field of width {width} "
                         f"(the shortest form needs {need} characters)")
    return min(candidates, key=lambda c: (abs(float(c[0]) - value), c[1], len(c[0])))[0]


# -- number formatting ------------------------------------------------------------
def _candidates(value, width):
    """(text, rank) pairs that fit: rank 0 conventional notation, 1 other, 2 trimmed."""
    exponent = 0 if value == 0 else int(f"{value:e}".split("e")[1])
    fixed_rank, exp_rank = (0, 1) if -4 <= exponent < 16 else (1, 0)
    exact = _with_point(repr(value))
    options = [(exact, fixed_rank if "e" not in exact else exp_rank)]
    options += [(t, 2) for t in _trimmed(exact)]
    fixed = _widest(lambda d: _fixed_text(value, d), width, _max_decimals(value, width))
    if fixed is not None:
        options.append((fixed, fixed_rank))
        options += [(t, 2) for t in _trimmed(fixed)]
        if abs(value) < 1:  # dropping the leading zero leaves room for one more digit
            more = _fixed_text(value, len(fixed.split(".")[1]) + 1)
            options += [(t, 2) for t in _trimmed(more)]
    expo = _widest(lambda p: _exponent_text(value, p), width, width)
    if expo is not None:
        options.append((expo, exp_rank))
    return [(t, r) for t, r in options if len(t) <= width]


def _widest(make, width, start):
    """make(n) for the largest n <= start whose text fits in width (None if none)."""
    for n in range(max(start, 0), -1, -1):
        text = make(n)
        if len(text) <= width:
            return text
    return None


def _max_decimals(value, width):
    """Upper bound on the decimals of fixed notation in ``width`` characters."""
    integer = f"{value:.0f}"
    return min(width - len(integer) - 1, 400)


def _fixed_text(value, decimals):
    """Fixed notation with a decimal point, e.g. ``12.50``, ``3.``."""
    text = f"{value:.{decimals}f}"
    return text if "." in text else text + "."


def _exponent_text(value, digits):
    """Exponent notation with a compact exponent, e.g. ``1.2346e-7``, ``5.e20``."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    if "." not in mantissa:
        mantissa += "."
    return f"{mantissa}e{int(exponent)}"


def _with_point(text):
    """A repr() text normalised to carry a decimal point and a compact exponent."""
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += "."
        return f"{mantissa}e{int(exponent)}"
    return text if "." in text else text + "."


def _trimmed(text):
    """Shorter spellings of a fixed-notation text: ``0.5``->``.5``, ``3.0``->``3.``."""
    out = []
    if "e" in text:
        return out
    if text.startswith("0.") or text.startswith("-0."):
        out.append(text.replace("0.", ".", 1))
    if text.endswith(".0"):
        out.append(text[:-1])
    return [t for t in out if any(c.isdigit() for c in t)]


def _as_float(raw, field, template_name):
    """The value for a field as a finite float, or a TemplateError naming file:line."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TemplateError(f"{template_name}:{field.line}: value {raw!r} of parameter "
                            f"'{field.name}' is not a number") from None
    if not math.isfinite(value):
        raise TemplateError(f"{template_name}:{field.line}: value {value!r} of parameter "
                            f"'{field.name}' is not finite")
    return value


# -- parsing ------------------------------------------------------------------
def _ptf_delimiter(line, name):
    """The delimiter declared on a ``ptf X`` line."""
    parts = line.split()
    if len(parts) != 2 or len(parts[1]) != 1:
        raise TemplateError(f"{name}:1: expected 'ptf X' with X a single delimiter "
                            f"character, got {line.rstrip()!r}")
    delimiter = parts[1]
    if delimiter.isalnum():
        raise TemplateError(f"{name}:1: the delimiter {delimiter!r} must not be a "
                            "letter or a digit")
    return delimiter


def _parse_pest_line(line, delimiter, name, lineno):
    """Split one PEST template line into literal text and fields."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    parts = body.split(delimiter)
    if len(parts) % 2 == 0:
        column = body.rfind(delimiter) + 1
        raise TemplateError(f"{name}:{lineno}: unmatched parameter delimiter "
                            f"{delimiter!r} at column {column}")
    pieces = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if part:
                pieces.append(part)
            continue
        pname = part.strip()
        if not pname or any(c.isspace() for c in pname):
            raise TemplateError(f"{name}:{lineno}: bad parameter field "
                                f"{delimiter + part + delimiter!r} (expected one name "
                                "between the delimiters)")
        pieces.append(_Field(pname, lineno, width=len(part) + 2))
    if ending:
        pieces.append(ending)
    return pieces


def _parse_brace_line(line, name, lineno):
    """Split one line into literal text and ``{{ }}`` placeholders."""
    pieces, pos = [], 0
    while True:
        start = line.find(_BRACE_OPEN, pos)
        if start < 0:
            break
        match = _BRACE_FIELD.match(line, start)
        if match is None:
            end = line.find("}}", start)
            shown = line[start:end + 2] if end >= 0 else line[start:].rstrip("\r\n")
            raise TemplateError(f"{name}:{lineno}: malformed placeholder {shown!r} "
                                "(expected {{ name }} or {{ name:format }})")
        fmt = (match.group(2) or "").strip()
        _check_format(fmt, name, lineno, match.group(0))
        if start > pos:
            pieces.append(line[pos:start])
        pieces.append(_Field(match.group(1), lineno, fmt=fmt))
        pos = match.end()
    if pos < len(line):
        pieces.append(line[pos:])
    return pieces


def _check_format(fmt, name, lineno, text):
    """Reject a format spec that Python cannot apply to a float."""
    if not fmt:
        return
    try:
        format(1.5, fmt)
    except (ValueError, TypeError) as exc:
        raise TemplateError(f"{name}:{lineno}: bad format in {text!r}: {exc}") from None


# -- messages -------------------------------------------------------------------
def _unknown_message(template_name, missing, values):
    """One line per unknown placeholder, then the names that were given."""
    lines = [f"{template_name}:{f.line}: unknown parameter '{f.name}'" for f in missing]
    known = ", ".join(sorted(map(str, values))) or "none"
    return "\n".join(lines) + f"\n(known parameters: {known})"


def _coverage_message(templates, missing, unknown, known_names):
    """The coverage report: uncovered free parameters and stray template names."""
    names = ", ".join(t.name for t in templates) or "no templates"
    parts = []
    if missing:
        parts.append(f"free parameters that appear in no template ({names}): "
                     + ", ".join(missing))
    if unknown:
        label = "unknown parameter" if known_names is not None else "not a free parameter"
        parts.append("template names that are not free parameters:" if known_names is None
                     else "unknown parameters in templates:")
        parts += [f"  {file}:{line}: {label} '{pname}'" for file, line, pname in unknown]
    return "\n".join(parts)
