"""Spark SQL expression strings -> unresolved expression trees.

``parse_expression`` reads the text PySpark accepts in ``df.selectExpr(...)``, ``df.filter(...)``
and ``functions.expr(...)`` and builds the same nodes the DataFrame API builds: columns become
``UnresolvedAttribute`` (a qualified name is kept whole, ``"t.a"``), ``*`` and ``t.*`` become
``UnresolvedStar``, and nothing is looked up until analysis::

    >>> parse_expression("a + 1 > b AS big").sql()
    '((a + 1) > b) AS big'
    >>> parse_expression("x NOT BETWEEN 1 AND 9").sql()
    '(NOT ((x >= 1) AND (x <= 9)))'

A hand-written tokenizer feeds a precedence-climbing parser. Binding powers follow Spark's
grammar, loosest first: OR, AND, prefix NOT, the predicates (IS [NOT] NULL, [NOT] IN,
[NOT] BETWEEN, IS [NOT] DISTINCT FROM), comparisons, ``+ - ||``, ``* / %``, prefix ``- +``.
Spark forbids chaining a predicate (``a IS NULL = b``); this parser accepts it, left to right.

Sugar is expanded here, as Spark's parser does: ``a != b`` is ``NOT (a = b)``, ``BETWEEN`` is two
comparisons under AND, ``CASE x WHEN v ...`` compares ``x = v``, ``-2`` is the literal -2,
``mean`` is ``avg``, ``count(*)`` is ``count(1)``, ``a || b`` is ``concat(a, b)``.

Errors are ``ParseException``\\ s laid out as Spark lays them out: the error class, what was
expected, the line and position, then the input with a caret line under the offending token.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass
from typing import NoReturn

from engine.catalyst.expressions import (
    AGGREGATE_FUNCTIONS,
    SCALAR_FUNCTIONS,
    Alias,
    AggregateFunction,
    And,
    Arithmetic,
    CaseWhen,
    Cast,
    Comparison,
    Expression,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Not,
    Or,
    ScalarFunction,
    UnaryMinus,
    UnresolvedAttribute,
    UnresolvedStar,
)
from engine.sql.errors import ParseException
from engine.sql.types import DoubleType, LongType, parse_type

__all__ = ["parse_expression"]

# Binding powers: an infix operator binds while its power exceeds the caller's minimum.
OR_BP, AND_BP, NOT_BP, PREDICATE_BP, COMPARISON_BP, ADDITIVE_BP, MULTIPLICATIVE_BP, UNARY_BP = range(1, 9)

INFIX_POWER = {
    "OR": OR_BP, "AND": AND_BP,
    "IS": PREDICATE_BP, "IN": PREDICATE_BP, "BETWEEN": PREDICATE_BP, "NOT": PREDICATE_BP,
    "=": COMPARISON_BP, "==": COMPARISON_BP, "!=": COMPARISON_BP, "<>": COMPARISON_BP,
    "<": COMPARISON_BP, "<=": COMPARISON_BP, ">": COMPARISON_BP, ">=": COMPARISON_BP,
    "<=>": COMPARISON_BP,
    "+": ADDITIVE_BP, "-": ADDITIVE_BP, "||": ADDITIVE_BP,
    "*": MULTIPLICATIVE_BP, "/": MULTIPLICATIVE_BP, "%": MULTIPLICATIVE_BP,
}

# Words that cannot name a column (or be a bare alias) without backquotes.
RESERVED = frozenset(
    "AND OR NOT IS NULL TRUE FALSE IN BETWEEN CASE WHEN THEN ELSE END CAST AS DISTINCT".split()
)

# Functions the parser rewrites to other nodes rather than to a ScalarFunction of the same name.
SPECIAL_FUNCTIONS = ("mean", "isnull", "isnotnull", "if", "nvl", "ifnull", "substr")
KNOWN_FUNCTIONS = sorted({*SCALAR_FUNCTIONS, *AGGREGATE_FUNCTIONS, *SPECIAL_FUNCTIONS})
# Argument counts the parser must check because it builds fixed-shape nodes from the arguments.
FUNCTION_ARITY = {
    "isnull": 1, "isnotnull": 1, "if": 3, "nvl": 2, "ifnull": 2, **dict.fromkeys(AGGREGATE_FUNCTIONS, 1),
}

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OPERATORS = ("<=>", "<=", ">=", "<>", "!=", "==", "||", "<", ">", "=", "+", "-", "*", "/", "%",
              "(", ")", ",", ".", "!")
_NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[LlDdSsYy]?")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_SPACE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)+", re.S)
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "0": "\0", "Z": "\x1a", "%": "\\%", "_": "\\_"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "ident" (plain word), "quoted" (backquoted word), "op", "eof"
    text: str  # as written, for error messages
    value: object  # the unescaped string, the word, or the number's text
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "ident" and self.value.upper() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.value in ops

    def is_integer(self) -> bool:
        return self.kind == "num" and self.value.isdigit()


def parse_expression(text: str) -> Expression:
    """One expression, optionally aliased, from Spark SQL text; unresolved.

    >>> parse_expression("count(DISTINCT t.a)")
    AggregateFunction(name='count', child=UnresolvedAttribute(name='t.a'), distinct=True)

    Raises ``ParseException`` with a caret under the offending token.
    """
    parser = _Parser(text)
    expr = parser.named_expression()
    parser.expect_end()
    return expr


def _syntax_error(text: str, pos: int, near: str, expected: str) -> ParseException:
    return _located(text, pos, f"[PARSE_SYNTAX_ERROR] Syntax error at or near {near}: expected {expected}.")


def _located(text: str, pos: int, head: str) -> ParseException:
    """Spark's layout: the message, ``(line l, pos p)``, then the SQL with a caret line under it."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    column = pos - line_start
    shown = text[:line_end] + "\n" + " " * column + "^^^" + text[line_end:]
    line = text.count("\n", 0, pos) + 1
    return ParseException(f"{head}(line {line}, pos {column})\n\n== SQL ==\n{shown}")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``eof`` token; comments and whitespace dropped."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while True:
        space = _SPACE.match(text, i)
        if space:
            i = space.end()
        if i >= n:
            tokens.append(Token("eof", "", None, n))
            return tokens
        ch = text[i]
        number = _NUMBER.match(text, i)
        word = _WORD.match(text, i)
        # Longest match wins, as in Spark's lexer: `10L` is a bigint, `1st` a column name.
        if number and not (word and word.end() > number.end()):
            tokens.append(Token("num", number.group(), number.group(), i))
            i = number.end()
        elif word:
            tokens.append(Token("ident", word.group(), word.group(), i))
            i = word.end()
        elif ch in "'\"`":
            end, value = _read_quoted(text, i)
            tokens.append(Token("quoted" if ch == "`" else "str", text[i:end], value, i))
            i = end
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise _syntax_error(text, i, repr(ch), "an expression or operator")
            tokens.append(Token("op", op, op, i))
            i += len(op)


def _read_quoted(text: str, start: int) -> tuple[int, str]:
    """(end, value) of the quoted string or backquoted name at ``start``, escapes applied."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if quote == "`" and text.startswith("``", i):  # `` inside a backquoted name is one `
                out.append("`")
                i += 2
                continue
            return i + 1, "".join(out)
        if ch == "\\" and quote != "`" and i + 1 < len(text):
            octal = re.match(r"[0-3][0-7]{2}", text[i + 1:i + 4])
            unicode = re.match(r"u[0-9a-fA-F]{4}", text[i + 1:i + 6])
            if octal:
                out.append(chr(int(octal.group(), 8)))
                i += 4
            elif unicode:
                out.append(chr(int(unicode.group()[1:], 16)))
                i += 6
            else:
                out.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                i += 2
            continue
        out.append(ch)
        i += 1
    what = "a closing backquote" if quote == "`" else f"a closing {quote} to end the string"
    raise _syntax_error(text, start, repr(text[start:start + 10]), what)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- token helpers ------------------------------------------------------------------------

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += min(1, len(self.tokens) - 1 - self.i)
        return tok

    def accept_word(self, *words: str) -> Token | None:
        return self.advance() if self.peek.is_word(*words) else None

    def accept_op(self, *ops: str) -> Token | None:
        return self.advance() if self.peek.is_op(*ops) else None

    def expect_word(self, word: str) -> Token:
        return self.accept_word(word) or self.fail(word)

    def expect_op(self, op: str) -> Token:
        return self.accept_op(op) or self.fail(f"'{op}'")

    def expect_end(self) -> None:
        if self.peek.kind != "eof":
            self.fail("end of input")

    def fail(self, expected: str, tok: Token | None = None) -> NoReturn:
        tok = tok or self.peek
        near = "end of input" if tok.kind == "eof" else f"'{tok.text}'"
        raise _syntax_error(self.text, tok.pos, near, expected)

    def identifier(self) -> str:
        """A column or alias name: a non-reserved word or a backquoted name."""
        tok = self.peek
        if tok.kind == "quoted" or (tok.kind == "ident" and tok.value.upper() not in RESERVED):
            return self.advance().value
        self.fail("an identifier")

    # -- grammar ------------------------------------------------------------------------------

    def named_expression(self) -> Expression:
        """``expr [[AS] name]``, or ``*`` / ``t.*``."""
        if self.accept_op("*"):
            return UnresolvedStar()
        expr = self.expression(0)
        if isinstance(expr, UnresolvedStar):  # `t.* AS x` is not allowed
            return expr
        if self.accept_word("AS") or self.peek.kind == "quoted" or (
            self.peek.kind == "ident" and self.peek.value.upper() not in RESERVED
        ):
            return Alias(expr, self.identifier())
        return expr

    def expression(self, min_bp: int) -> Expression:
        left = self.prefix()
        while True:
            tok = self.peek
            key = tok.value.upper() if tok.kind == "ident" else tok.value if tok.kind == "op" else None
            bp = INFIX_POWER.get(key, 0)
            if bp <= min_bp:
                return left
            if isinstance(left, UnresolvedStar):
                self.fail("end of input")
            self.advance()
            left = self.infix(key, left, bp)

    def infix(self, op: str, left: Expression, bp: int) -> Expression:
        if op in ("AND", "OR"):
            node = And if op == "AND" else Or
            return node(left, self.expression(bp))
        if op == "IS":
            negated = bool(self.accept_word("NOT"))
            if self.accept_word("NULL"):
                return IsNotNull(left) if negated else IsNull(left)
            if self.accept_word("DISTINCT"):
                self.expect_word("FROM")
                same = Comparison("<=>", left, self.expression(bp))
                return same if negated else Not(same)
            self.fail("NULL, NOT NULL or DISTINCT FROM after IS")
        if op == "NOT":
            if not self.peek.is_word("IN", "BETWEEN"):
                self.fail("IN or BETWEEN after NOT")
            return Not(self.infix(self.advance().value.upper(), left, bp))
        if op == "IN":
            self.expect_op("(")
            items = [self.expression(0)]
            while self.accept_op(","):
                items.append(self.expression(0))
            self.expect_op(")")
            return In(left, tuple(items))
        if op == "BETWEEN":
            low = self.expression(bp)
            self.expect_word("AND")
            high = self.expression(bp)
            return And(Comparison(">=", left, low), Comparison("<=", left, high))
        right = self.expression(bp)  # left-associative: the right side binds tighter
        if op in ("=", "=="):
            return Comparison("=", left, right)
        if op in ("!=", "<>"):
            return Not(Comparison("=", left, right))
        if op == "||":
            return ScalarFunction("concat", (left, right))
        if bp == COMPARISON_BP:
            return Comparison(op, left, right)
        return Arithmetic(op, left, right)

    def prefix(self) -> Expression:
        tok = self.advance()
        if tok.is_word("NOT") or tok.is_op("!"):
            return Not(self.expression(NOT_BP))
        if tok.is_op("-"):
            if self.peek.kind == "num":  # Spark's grammar reads `-2` as one literal
                return self.number(self.advance(), negate=True)
            return UnaryMinus(self.expression(UNARY_BP))
        if tok.is_op("+"):
            return self.expression(UNARY_BP)
        if tok.is_op("("):
            inner = self.expression(0)
            self.expect_op(")")
            return inner
        if tok.kind == "num":
            return self.number(tok)
        if tok.kind == "str":
            value = tok.value
            while self.peek.kind == "str":  # adjacent strings concatenate: 'it''s' is 'its'
                value += self.advance().value
            return Literal.of(value)
        if tok.is_word("TRUE", "FALSE"):
            return Literal.of(tok.value.upper() == "TRUE")
        if tok.is_word("NULL"):
            return Literal.of(None)
        if tok.is_word("DATE", "TIMESTAMP") and self.peek.kind == "str":
            return self.typed_literal(tok.value.upper(), self.advance())
        if tok.is_word("CASE"):
            return self.case()
        if tok.is_word("CAST"):
            return self.cast()
        if tok.kind == "quoted" or (tok.kind == "ident" and tok.value.upper() not in RESERVED):
            if self.peek.is_op("("):
                return self.call(tok)
            return self.column(tok)
        self.fail("an expression", tok)

    def number(self, tok: Token, negate: bool = False) -> Literal:
        text = ("-" if negate else "") + tok.value
        suffix = text[-1].upper() if text[-1].isalpha() and text[-1] not in "eE" else ""
        digits = text[:-1] if suffix else text
        if suffix == "D" or (not suffix and any(c in digits for c in ".eE")):
            return Literal(float(digits), DoubleType())
        if not digits.lstrip("-").isdigit():  # `1.5L`: a fraction with an integer suffix
            self.fail("an integer before the type suffix", tok)
        value = int(digits)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _located(
                self.text, tok.pos,
                f"[INVALID_NUMERIC_LITERAL_RANGE] Numeric literal {text} is outside the range of bigint.",
            )
        return Literal(value, LongType()) if suffix == "L" else Literal.of(value)

    def typed_literal(self, kind: str, tok: Token) -> Literal:
        """``DATE '2024-01-31'`` or ``TIMESTAMP '2024-01-31 12:00:00.5'``; Spark's lenient forms."""
        pattern = _DATE if kind == "DATE" else _TIMESTAMP
        match = pattern.fullmatch(tok.value.strip())
        try:
            if match and kind == "DATE":
                year, month, day = match.groups()
                return Literal.of(_dt.date(int(year), int(month or 1), int(day or 1)))
            if match:
                parts = [int(p) if p else 0 for p in match.groups()[:6]]
                micros = int((match.group(7) or "").ljust(6, "0"))
                return Literal.of(_dt.datetime(*parts, micros))
        except ValueError:  # a well-formed but impossible date, such as month 13
            pass
        message = f'[INVALID_TYPED_LITERAL] The value of the typed literal "{kind}" is invalid: {tok.text}.'
        raise _located(self.text, tok.pos, message)

    def column(self, first: Token) -> Expression:
        """``a``, ``t.a``, ``t.`weird name```; ``t.*`` is a star. Any word may follow a dot."""
        parts = [first.value]
        while self.accept_op("."):
            if self.accept_op("*"):
                return UnresolvedStar(".".join(parts))
            if self.peek.kind not in ("ident", "quoted"):
                self.fail("a column name after '.'")
            parts.append(self.advance().value)
        return UnresolvedAttribute(".".join(parts))

    def case(self) -> Expression:
        """Searched ``CASE WHEN c THEN v ... END``, or simple ``CASE x WHEN v THEN r ... END``."""
        subject = None if self.peek.is_word("WHEN", "END") else self.expression(0)
        conditions, values = [], []
        while self.accept_word("WHEN"):
            condition = self.expression(0)
            conditions.append(condition if subject is None else Comparison("=", subject, condition))
            self.expect_word("THEN")
            values.append(self.expression(0))
        if not conditions:
            self.fail("WHEN")
        else_value = self.expression(0) if self.accept_word("ELSE") else None
        if not self.accept_word("END"):
            self.fail("WHEN, ELSE or END" if else_value is None else "END")
        return CaseWhen(tuple(conditions), tuple(values), else_value)

    def cast(self) -> Expression:
        """``CAST(x AS type)``; the type is any name ``parse_type`` knows, e.g. ``decimal(12, 2)``."""
        self.expect_op("(")
        child = self.expression(0)
        self.expect_word("AS")
        start = self.peek
        if start.kind != "ident":
            self.fail("a data type")
        type_name = self.advance().value
        if self.accept_op("("):
            params = [self.advance()]
            while self.accept_op(","):
                params.append(self.advance())
            if not all(p.is_integer() for p in params):
                self.fail("integer type parameters", next(p for p in params if not p.is_integer()))
            self.expect_op(")")
            type_name += "(" + ",".join(p.value for p in params) + ")"
        try:
            data_type = parse_type(type_name)
        except ValueError:
            raise _located(self.text, start.pos,
                           f'[UNSUPPORTED_DATATYPE] Unsupported data type "{type_name.upper()}".') from None
        self.expect_op(")")
        return Cast(child, data_type)

    def call(self, name_tok: Token) -> Expression:
        """A function call. Names are case-insensitive; unknown names fail with suggestions."""
        name = name_tok.value.lower()
        if name not in KNOWN_FUNCTIONS:
            close = difflib.get_close_matches(name, KNOWN_FUNCTIONS, n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
            raise _located(self.text, name_tok.pos,
                           f"[UNRESOLVED_ROUTINE] Cannot resolve function `{name_tok.value}`.{hint}")
        name = "avg" if name == "mean" else name
        self.expect_op("(")
        distinct_tok = self.accept_word("DISTINCT")
        if distinct_tok and name not in AGGREGATE_FUNCTIONS:
            self.fail("an expression (DISTINCT is only allowed in aggregate functions)", distinct_tok)
        args: list[Expression] = []
        if name == "count" and not distinct_tok and self.accept_op("*"):
            args.append(Literal.of(1))
        elif not self.peek.is_op(")"):
            args.append(self.expression(0))
            while self.accept_op(","):
                args.append(self.expression(0))
        self.expect_op(")")
        if name in FUNCTION_ARITY and len(args) != FUNCTION_ARITY[name]:
            message = (f"[WRONG_NUM_ARGS] The `{name_tok.value}` requires {FUNCTION_ARITY[name]} parameters "
                       f"but the actual number is {len(args)}.")
            raise _located(self.text, name_tok.pos, message)
        if name in AGGREGATE_FUNCTIONS:
            return AggregateFunction(name, args[0], distinct=bool(distinct_tok))
        if name in ("isnull", "isnotnull"):
            return (IsNull if name == "isnull" else IsNotNull)(args[0])
        if name == "if":
            return CaseWhen((args[0],), (args[1],), args[2])
        if name in ("nvl", "ifnull"):
            return ScalarFunction("coalesce", tuple(args))
        return ScalarFunction("substring" if name == "substr" else name, tuple(args))
