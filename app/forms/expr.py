"""A small, safe evaluator for the XLSForm-like expressions of forms/*.yml (`relevant`, `expression`).

The language is the part of XLSForm's XPath that city forms need, so an expression is exported to
XLSForm unchanged:

    ${status} = 'unemployed' and not(${has_pesel} = 'yes')
    selected(${needs}, 'other') or count-selected(${needs}) > 2
    ${children} >= 1 and (today() - ${birth_date}) div 365.25 < 13
    . >= ${start_date}                      (`.` is the field's own value, in constraints only)

Literals: 'text' or "text", numbers (12, 1.5). Operators, loosest first: `or`, `and`, comparisons
(= != < <= > >=), + and -, * div mod, unary minus. Functions: not(x), selected(multi, 'choice'),
count-selected(multi), string-length(x), int(x), date('YYYY-MM-DD'), today(), true(), false().

Text is tokenised and parsed into a tree once (at load time, so a broken expression is a content
error with its column); evaluating walks that tree. Nothing is ever passed to `eval`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_LENGTH = 1000


class ExpressionError(ValueError):
    """An expression that does not parse; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


# --- tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<field>\$\{(?P<field_name>[A-Za-z_][A-Za-z0-9_]*)\})
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)
  | (?P<current>\.)
  | (?P<name>[A-Za-z][A-Za-z0-9-]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "div", "mod"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # field, number, string, op, current, name, keyword, end
    value: str
    column: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = match.lastgroup or ""
        if kind == "field_name":
            kind = "field"
        column = pos + 1
        pos = match.end()
        if kind == "ws":
            continue
        if kind == "field":
            out.append(_Tok("field", match.group("field_name"), column))
        elif kind == "string":
            out.append(_Tok("string", match.group()[1:-1], column))
        elif kind == "name" and match.group() in _KEYWORDS:
            out.append(_Tok("keyword", match.group(), column))
        else:
            out.append(_Tok(kind, match.group(), column))
    out.append(_Tok("end", "", len(text) + 1))
    return out


# --- the tree ----------------------------------------------------------------------------------

Node = tuple[Any, ...]
#: name -> (min arguments, max arguments)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "not": (1, 1),
    "selected": (2, 2),
    "count-selected": (1, 1),
    "string-length": (1, 1),
    "int": (1, 1),
    "date": (1, 1),
    "today": (0, 0),
    "true": (0, 0),
    "false": (0, 0),
}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, value: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (value is not None and tok.value != value):
            wanted = repr(value) if value else kind
            found = repr(tok.value) if tok.value else "the end"
            raise ExpressionError(f"expected {wanted}, found {found}", tok.column)
        return tok

    def is_(self, kind: str, *values: str) -> bool:
        tok = self.peek()
        return tok.kind == kind and (not values or tok.value in values)

    def parse(self) -> Node:
        if self.is_("end"):
            raise ExpressionError("the expression is empty", 1)
        node = self.or_()
        if not self.is_("end"):
            tok = self.peek()
            raise ExpressionError(f"unexpected {tok.value!r}", tok.column)
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.is_("keyword", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.comparison()
        while self.is_("keyword", "and"):
            self.take()
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.additive()
        if self.is_("op", *COMPARISONS):
            op = self.take().value
            node = ("cmp", op, node, self.additive())
            if self.is_("op", *COMPARISONS):
                tok = self.peek()
                raise ExpressionError("comparisons cannot be chained; join them with `and`", tok.column)
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.is_("op", "+", "-"):
            op = self.take().value
            node = ("arith", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.is_("op", "*") or self.is_("keyword", "div", "mod"):
            op = self.take().value
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.is_("op", "-"):
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return ("lit", Decimal(tok.value))
        if tok.kind == "string":
            return ("lit", tok.value)
        if tok.kind == "field":
            return ("field", tok.value, tok.column)
        if tok.kind == "current":
            return ("current",)
        if tok.kind == "op" and tok.value == "(":
            node = self.or_()
            self.expect("op", ")")
            return node
        if tok.kind == "name":
            if not self.is_("op", "("):
                raise ExpressionError(
                    f"unknown word {tok.value!r}; write a field as ${{{tok.value}}}", tok.column
                )
            if tok.value not in FUNCTIONS:
                raise ExpressionError(
                    f"unknown function {tok.value}(); known: {', '.join(sorted(FUNCTIONS))}", tok.column
                )
            self.expect("op", "(")
            args: list[Node] = []
            if not self.is_("op", ")"):
                args.append(self.or_())
                while self.is_("op", ","):
                    self.take()
                    args.append(self.or_())
            self.expect("op", ")")
            low, high = FUNCTIONS[tok.value]
            if not low <= len(args) <= high:
                count = str(low) if low == high else f"{low} to {high}"
                raise ExpressionError(f"{tok.value}() takes {count} argument(s), not {len(args)}", tok.column)
            return ("call", tok.value, tuple(args), tok.column)
        found = repr(tok.value) if tok.value else "the end"
        raise ExpressionError(f"unexpected {found}", tok.column)


# --- values ----------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str) and value.strip():
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool:
    """Return the XPath boolean of a value: empty text, empty lists, 0 and None are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | int | float):
        return value != 0
    if isinstance(value, list | tuple | str):
        return len(value) > 0
    return True


def _compare(op: str, left: Any, right: Any) -> bool:
    ldate, rdate = _as_date(left), _as_date(right)
    if ldate is not None and rdate is not None:
        a: Any = ldate
        b: Any = rdate
    else:
        lnum, rnum = _as_number(left), _as_number(right)
        if lnum is not None and rnum is not None and not (isinstance(left, str) and isinstance(right, str)):
            a, b = lnum, rnum
        elif op in ("=", "!="):
            a, b = _as_text(left), _as_text(right)
        elif lnum is not None and rnum is not None:
            a, b = lnum, rnum
        else:
            return False  # XPath: an ordering with an empty or non-numeric side is false
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _arith(op: str, left: Any, right: Any) -> Any:
    ldate, rdate = _as_date(left), _as_date(right)
    if op == "-" and ldate is not None and rdate is not None:
        return Decimal((ldate - rdate).days)
    lnum, rnum = _as_number(left), _as_number(right)
    if ldate is not None and rnum is not None and op in "+-":
        days = int(rnum)
        return ldate + timedelta(days=days if op == "+" else -days)
    if lnum is None or rnum is None:
        return None
    if op == "+":
        return lnum + rnum
    if op == "-":
        return lnum - rnum
    if op == "*":
        return lnum * rnum
    if rnum == 0:
        return None
    if op == "div":
        return lnum / rnum
    return lnum % rnum


def _selected(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return _as_text(value).split()


# --- the compiled expression --------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the fields it reads, and evaluate()."""

    source: str
    tree: Node
    fields: frozenset[str]
    uses_current: bool

    def evaluate(self, values: Mapping[str, Any], *, today: date, current: Any = None) -> Any:
        """Return the expression's value for the answers in values (missing answers are empty)."""
        return _eval(self.tree, values, today, current)

    def test(self, values: Mapping[str, Any], *, today: date, current: Any = None) -> bool:
        """Return the expression's value as a boolean."""
        return truthy(self.evaluate(values, today=today, current=current))

    def walk(self, visit: Callable[[Node], None]) -> None:
        """Call visit on every node of the tree (for checks such as choice names in comparisons)."""
        _walk(self.tree, visit)


def _walk(node: Node, visit: Callable[[Node], None]) -> None:
    visit(node)
    kind = node[0]
    if kind in ("or", "and"):
        _walk(node[1], visit)
        _walk(node[2], visit)
    elif kind in ("cmp", "arith"):
        _walk(node[2], visit)
        _walk(node[3], visit)
    elif kind == "neg":
        _walk(node[1], visit)
    elif kind == "call":
        for arg in node[2]:
            _walk(arg, visit)


def parse(text: str) -> Expression:
    """Return the parsed expression; raise ExpressionError with a column."""
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text", 1)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression may have at most {MAX_LENGTH} characters", MAX_LENGTH)
    tree = _Parser(text).parse()
    fields: set[str] = set()
    current = False

    def visit(node: Node) -> None:
        nonlocal current
        if node[0] == "field":
            fields.add(node[1])
        elif node[0] == "current":
            current = True

    _walk(tree, visit)
    return Expression(source=text.strip(), tree=tree, fields=frozenset(fields), uses_current=current)


def _eval(node: Node, values: Mapping[str, Any], today: date, current: Any) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return values.get(node[1])
    if kind == "current":
        return current
    if kind == "or":
        return truthy(_eval(node[1], values, today, current)) or truthy(
            _eval(node[2], values, today, current)
        )
    if kind == "and":
        return truthy(_eval(node[1], values, today, current)) and truthy(
            _eval(node[2], values, today, current)
        )
    if kind == "cmp":
        return _compare(
            node[1], _eval(node[2], values, today, current), _eval(node[3], values, today, current)
        )
    if kind == "arith":
        return _arith(node[1], _eval(node[2], values, today, current), _eval(node[3], values, today, current))
    if kind == "neg":
        number = _as_number(_eval(node[1], values, today, current))
        return -number if number is not None else None
    if kind == "call":
        name, args = node[1], [_eval(arg, values, today, current) for arg in node[2]]
        if name == "not":
            return not truthy(args[0])
        if name == "selected":
            return _as_text(args[1]) in _selected(args[0])
        if name == "count-selected":
            return Decimal(len(_selected(args[0])))
        if name == "string-length":
            return Decimal(len(_as_text(args[0])))
        if name == "int":
            number = _as_number(args[0])
            return Decimal(int(number)) if number is not None else None
        if name == "date":
            return _as_date(args[0])
        if name == "today":
            return today
        if name == "true":
            return True
        if name == "false":
            return False
    raise AssertionError(f"unknown node {kind}")  # the parser builds no other node
