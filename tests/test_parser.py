"""parse_expression: Spark SQL expression text -> unresolved expression trees, compared with ``==``."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from engine.catalyst.expressions import (
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
from engine.catalyst.parser import parse_expression
from engine.sql.errors import AnalysisException, ParseException
from engine.sql.types import (
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

a, b, c, d = (UnresolvedAttribute(n) for n in "abcd")
col = UnresolvedAttribute
lit = Literal.of


def bigint(v: int) -> Literal:
    return Literal(v, LongType())


def double(v: float) -> Literal:
    return Literal(v, DoubleType())


def eq(x, y):
    return Comparison("=", x, y)


def add(x, y):
    return Arithmetic("+", x, y)


def sub(x, y):
    return Arithmetic("-", x, y)


def mul(x, y):
    return Arithmetic("*", x, y)


def fn(name, *args):
    return ScalarFunction(name, args)


def agg(name, child, distinct=False):
    return AggregateFunction(name, child, distinct)


def alias(child, name):
    return Alias(child, name, alias_id=0)


def without_alias_ids(e: Expression) -> Expression:
    """Aliases get fresh ids; compare them by (name, child) by zeroing every id."""
    return e.transform_up(lambda n: replace(n, alias_id=0) if isinstance(n, Alias) else n)


def check(text: str, expected: Expression) -> None:
    assert without_alias_ids(parse_expression(text)) == expected


LITERALS = [
    ("1", Literal(1, IntegerType())),
    ("2147483647", Literal(2147483647, IntegerType())),
    ("2147483648", bigint(2147483648)),
    ("-2147483648", Literal(-2147483648, IntegerType())),
    ("10L", bigint(10)),
    ("10l", bigint(10)),
    ("-9223372036854775808L", bigint(-(2**63))),
    ("1.5", double(1.5)),
    (".5", double(0.5)),
    ("1.", double(1.0)),
    ("1e3", double(1000.0)),
    ("2.5E-1", double(0.25)),
    ("3D", double(3.0)),
    ("-1.5", double(-1.5)),
    ("'abc'", lit("abc")),
    ('"abc"', lit("abc")),
    ("''", lit("")),
    (r"'it\'s'", lit("it's")),
    (r'"say \"hi\""', lit('say "hi"')),
    (r"'a\nb\tc\\d'", lit("a\nb\tc\\d")),
    (r"'\u0041\101'", lit("AA")),
    (r"'100\%'", lit("100\\%")),
    ("'it''s'", lit("its")),  # adjacent literals concatenate, as in Spark
    ("'a' \"b\"", lit("ab")),
    ("TRUE", lit(True)),
    ("false", lit(False)),
    ("NULL", lit(None)),
    ("DATE '2024-01-31'", lit(dt.date(2024, 1, 31))),
    ("date '2024-1-5'", lit(dt.date(2024, 1, 5))),
    ("DATE '2024'", lit(dt.date(2024, 1, 1))),
    ("TIMESTAMP '2024-01-31 12:34:56'", lit(dt.datetime(2024, 1, 31, 12, 34, 56))),
    ("TIMESTAMP '2024-01-31T12:34:56.123'", lit(dt.datetime(2024, 1, 31, 12, 34, 56, 123000))),
    ("timestamp '2024-01-31'", lit(dt.datetime(2024, 1, 31))),
]

IDENTIFIERS = [
    ("a", a),
    ("A_b1", col("A_b1")),
    ("_x", col("_x")),
    ("1st", col("1st")),  # longest match: a word, not the number 1 aliased `st`
    ("`weird name`", col("weird name")),
    ("`a``b`", col("a`b")),
    ("t.a", col("t.a")),
    ("db.t.a", col("db.t.a")),
    ("t.`weird name`", col("t.weird name")),
    ("t . a", col("t.a")),
    ("t.end", col("t.end")),  # any word may follow a dot
    ("date", col("date")),  # DATE is a typed literal only before a string
    ("timestamp + 1", add(col("timestamp"), lit(1))),
    ("`select`", col("select")),
    ("*", UnresolvedStar()),
    ("t.*", UnresolvedStar("t")),
    ("db.t.*", UnresolvedStar("db.t")),
]

OPERATORS = [
    ("-a", UnaryMinus(a)),
    ("- a", UnaryMinus(a)),
    ("+a", a),
    ("-(1)", UnaryMinus(lit(1))),
    ("- -a", UnaryMinus(UnaryMinus(a))),
    ("a + b", add(a, b)),
    ("a - b", sub(a, b)),
    ("a * b", mul(a, b)),
    ("a / b", Arithmetic("/", a, b)),
    ("a % b", Arithmetic("%", a, b)),
    ("a || b", fn("concat", a, b)),
    ("a = b", eq(a, b)),
    ("a == b", eq(a, b)),
    ("a != b", Not(eq(a, b))),
    ("a <> b", Not(eq(a, b))),
    ("a < b", Comparison("<", a, b)),
    ("a <= b", Comparison("<=", a, b)),
    ("a > b", Comparison(">", a, b)),
    ("a >= b", Comparison(">=", a, b)),
    ("a <=> b", Comparison("<=>", a, b)),
    ("a<=b", Comparison("<=", a, b)),
    ("a IS NULL", IsNull(a)),
    ("a is not null", IsNotNull(a)),
    ("a IS DISTINCT FROM b", Not(Comparison("<=>", a, b))),
    ("a IS NOT DISTINCT FROM b", Comparison("<=>", a, b)),
    ("a IN (1, 2, 3)", In(a, (lit(1), lit(2), lit(3)))),
    ("a in ('x')", In(a, (lit("x"),))),
    ("a NOT IN (1, b + 1)", Not(In(a, (lit(1), add(b, lit(1)))))),
    ("a BETWEEN 1 AND 10", And(Comparison(">=", a, lit(1)), Comparison("<=", a, lit(10)))),
    ("a NOT BETWEEN b AND c", Not(And(Comparison(">=", a, b), Comparison("<=", a, c)))),
    ("NOT a", Not(a)),
    ("!a", Not(a)),
    ("a AND b", And(a, b)),
    ("a OR b", Or(a, b)),
    ("(a)", a),
    ("((a + b))", add(a, b)),
]

PRECEDENCE = [
    ("a + b * c", add(a, mul(b, c))),
    ("a * b + c", add(mul(a, b), c)),
    ("(a + b) * c", mul(add(a, b), c)),
    ("a - b - c", sub(sub(a, b), c)),  # left-associative
    ("a / b * c", mul(Arithmetic("/", a, b), c)),
    ("a - b + c", add(sub(a, b), c)),
    ("-a * b", mul(UnaryMinus(a), b)),
    ("-a.b", UnaryMinus(col("a.b"))),
    ("a + b = c * d", eq(add(a, b), mul(c, d))),
    ("a || b = c", eq(fn("concat", a, b), c)),
    ("a = b AND c = d", And(eq(a, b), eq(c, d))),
    ("a OR b AND c", Or(a, And(b, c))),
    ("a AND b OR c", Or(And(a, b), c)),
    ("a OR b OR c", Or(Or(a, b), c)),
    ("NOT a AND b", And(Not(a), b)),
    ("NOT a = b", Not(eq(a, b))),
    ("NOT a OR b", Or(Not(a), b)),
    ("NOT NOT a", Not(Not(a))),
    ("NOT a IS NULL", Not(IsNull(a))),
    ("a + 1 IS NULL", IsNull(add(a, lit(1)))),
    ("a = b IS NULL", IsNull(eq(a, b))),  # predicates bind looser than comparisons
    ("a IS NULL OR b IS NOT NULL", Or(IsNull(a), IsNotNull(b))),
    ("a BETWEEN 1 AND 2 AND b", And(And(Comparison(">=", a, lit(1)), Comparison("<=", a, lit(2))), b)),
    ("a BETWEEN b + 1 AND c * 2",
     And(Comparison(">=", a, add(b, lit(1))), Comparison("<=", a, mul(c, lit(2))))),
    ("a IN (1) OR b", Or(In(a, (lit(1),)), b)),
    ("NOT a IN (1)", Not(In(a, (lit(1),)))),
    ("a - -1", sub(a, lit(-1))),
    ("a * -b", mul(a, UnaryMinus(b))),
    ("a <> b OR c", Or(Not(eq(a, b)), c)),
    ("a % 2 = 0", eq(Arithmetic("%", a, lit(2)), lit(0))),
    ("a = 1 -- trailing comment", eq(a, lit(1))),
    ("a /* inline */ + 1", add(a, lit(1))),
    ("a\n  AND\tb", And(a, b)),
]

CASE_AND_CAST = [
    ("CASE WHEN a > 1 THEN 'big' END", CaseWhen((Comparison(">", a, lit(1)),), (lit("big"),))),
    ("case when a then 1 when b then 2 else 3 end", CaseWhen((a, b), (lit(1), lit(2)), lit(3))),
    ("CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END",
     CaseWhen((eq(a, lit(1)), eq(a, lit(2))), (lit("one"), lit("two")), lit("many"))),
    ("CASE a + 1 WHEN b THEN c END", CaseWhen((eq(add(a, lit(1)), b),), (c,))),
    ("CASE WHEN a IS NULL THEN 0 ELSE a END + 1",
     add(CaseWhen((IsNull(a),), (lit(0),), a), lit(1))),
    ("CAST(a AS bigint)", Cast(a, LongType())),
    ("cast(a as INT)", Cast(a, IntegerType())),
    ("CAST(a AS double)", Cast(a, DoubleType())),
    ("CAST(1 + a AS string)", Cast(add(lit(1), a), StringType())),
    ("CAST(a AS date)", Cast(a, DateType())),
    ("CAST(a AS timestamp)", Cast(a, TimestampType())),
    ("CAST(a AS decimal)", Cast(a, DecimalType())),
    ("CAST(a AS decimal(12,2))", Cast(a, DecimalType(12, 2))),
    ("CAST(a AS DECIMAL( 12 , 2 ))", Cast(a, DecimalType(12, 2))),
    ("CAST(a AS decimal(5))", Cast(a, DecimalType(5, 0))),
    ("CAST(CAST(a AS int) AS string)", Cast(Cast(a, IntegerType()), StringType())),
]

FUNCTIONS = [
    ("upper(a)", fn("upper", a)),
    ("UPPER(a)", fn("upper", a)),
    ("`upper`(a)", fn("upper", a)),
    ("concat(a, '-', b)", fn("concat", a, lit("-"), b)),
    ("substring(a, 1, 3)", fn("substring", a, lit(1), lit(3))),
    ("substr(a, 2)", fn("substring", a, lit(2))),
    ("coalesce(a, b, 0)", fn("coalesce", a, b, lit(0))),
    ("nvl(a, 0)", fn("coalesce", a, lit(0))),
    ("ifnull(a, 0)", fn("coalesce", a, lit(0))),
    ("year(to_date(a))", fn("year", fn("to_date", a))),
    ("round(a * 1.5, 2)", fn("round", mul(a, double(1.5)), lit(2))),
    ("isnull(a)", IsNull(a)),
    ("isnotnull(a + 1)", IsNotNull(add(a, lit(1)))),
    ("if(a > 0, 'pos', 'neg')", CaseWhen((Comparison(">", a, lit(0)),), (lit("pos"),), lit("neg"))),
    ("sum(a)", agg("sum", a)),
    ("avg(a)", agg("avg", a)),
    ("mean(a)", agg("avg", a)),
    ("MIN(a)", agg("min", a)),
    ("max(t.a)", agg("max", col("t.a"))),
    ("count(a)", agg("count", a)),
    ("count(*)", agg("count", lit(1))),
    ("COUNT( * )", agg("count", lit(1))),
    ("count(1)", agg("count", lit(1))),
    ("count(DISTINCT a)", agg("count", a, distinct=True)),
    ("sum(distinct a + b)", agg("sum", add(a, b), distinct=True)),
    ("sum(a) / count(*)", Arithmetic("/", agg("sum", a), agg("count", lit(1)))),
    ("max(a) - min(a) > 10", Comparison(">", sub(agg("max", a), agg("min", a)), lit(10))),
    ("sum(CASE WHEN a THEN 1 ELSE 0 END)", agg("sum", CaseWhen((a,), (lit(1),), lit(0)))),
]

ALIASES = [
    ("a AS x", alias(a, "x")),
    ("a as x", alias(a, "x")),
    ("a x", alias(a, "x")),
    ("a + 1 AS `total value`", alias(add(a, lit(1)), "total value")),
    ("a + 1 `total value`", alias(add(a, lit(1)), "total value")),
    ("count(*) AS n", alias(agg("count", lit(1)), "n")),
    ("CASE WHEN a THEN 1 END flag", alias(CaseWhen((a,), (lit(1),)), "flag")),
    ("a IS NULL AS missing", alias(IsNull(a), "missing")),
    ("1 one", alias(lit(1), "one")),
    ("a AS date", alias(a, "date")),
]


@pytest.mark.parametrize(
    "text, expected",
    LITERALS + IDENTIFIERS + OPERATORS + PRECEDENCE + CASE_AND_CAST + FUNCTIONS + ALIASES,
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_parses_to(text, expected):
    check(text, expected)


def test_alias_gets_a_fresh_id():
    first, second = parse_expression("a AS x"), parse_expression("a AS x")
    assert (type(first), first.name, first.child) == (Alias, "x", a)
    assert first.alias_id != second.alias_id


def test_literal_types():
    assert parse_expression("1").data_type == IntegerType()
    assert parse_expression("3000000000").data_type == LongType()
    assert parse_expression("1L").data_type == LongType()
    assert parse_expression("1.0").data_type == DoubleType()


def test_round_trips_through_sql():
    assert parse_expression("a + 1 > b AS big").sql() == "((a + 1) > b) AS big"
    assert parse_expression("x NOT BETWEEN 1 AND 9").sql() == "(NOT ((x >= 1) AND (x <= 9)))"


# (text, fragments the message must contain, column of the caret)
ERRORS = [
    ("a + )", ["[PARSE_SYNTAX_ERROR]", "at or near ')'", "expected an expression", "(line 1, pos 4)"], 4),
    ("", ["at or near end of input", "expected an expression"], 0),
    ("a +", ["at or near end of input", "expected an expression"], 3),
    ("(a + b", ["at or near end of input", "expected ')'"], 6),
    ("a b c", ["at or near 'c'", "expected end of input"], 4),
    ("a AS", ["expected an identifier"], 4),
    ("a AS end", ["at or near 'end'", "expected an identifier"], 5),
    ("a NOT LIKE 'x'", ["at or near 'LIKE'", "expected IN or BETWEEN after NOT"], 6),
    ("a IS 3", ["at or near '3'", "expected NULL, NOT NULL or DISTINCT FROM after IS"], 5),
    ("a IN 1", ["at or near '1'", "expected '('"], 5),
    ("a IN ()", ["at or near ')'", "expected an expression"], 6),
    ("a BETWEEN 1 OR 2", ["at or near 'OR'", "expected AND"], 12),
    ("CASE END", ["at or near 'END'", "expected WHEN"], 5),
    ("CASE WHEN a 1 END", ["at or near '1'", "expected THEN"], 12),
    ("CASE WHEN a THEN 1", ["at or near end of input", "expected WHEN, ELSE or END"], 18),
    ("CASE WHEN a THEN 1 ELSE 2", ["expected END"], 25),
    ("CAST(a bigint)", ["at or near 'bigint'", "expected AS"], 7),
    ("CAST(a AS 1)", ["at or near '1'", "expected a data type"], 10),
    ("CAST(a AS decimal(x))", ["at or near 'x'", "expected integer type parameters"], 18),
    ("CAST(a AS foo)", ['[UNSUPPORTED_DATATYPE] Unsupported data type "FOO"'], 10),
    ("'abc", ["at or near \"'abc\"", "expected a closing ' to end the string"], 0),
    ("`abc", ["expected a closing backquote"], 0),
    ("a & b", ["at or near '&'"], 2),
    ("t.", ["expected a column name after '.'"], 2),
    ("* + 1", ["at or near '+'", "expected end of input"], 2),
    ("t.* AS x", ["at or near 'AS'", "expected end of input"], 4),
    ("upper(DISTINCT a)", ["DISTINCT is only allowed in aggregate functions"], 6),
    ("sum(*)", ["at or near '*'", "expected an expression"], 4),
    ("count(DISTINCT *)", ["at or near '*'", "expected an expression"], 15),
    ("sum(a, b)", ["[WRONG_NUM_ARGS] The `sum` requires 1 parameters but the actual number is 2"], 0),
    ("count()", ["[WRONG_NUM_ARGS]", "actual number is 0"], 0),
    ("if(a, b)", ["[WRONG_NUM_ARGS]", "requires 3 parameters"], 0),
    ("1 + uper(a)", ["[UNRESOLVED_ROUTINE] Cannot resolve function `uper`", "Did you mean `upper`"], 4),
    ("frobnicate(a)", ["Cannot resolve function `frobnicate`."], 0),
    ("DATE '2024-13-01'", ['[INVALID_TYPED_LITERAL] The value of the typed literal "DATE" is invalid'], 5),
    ("TIMESTAMP 'noon'", ['typed literal "TIMESTAMP" is invalid'], 10),
    ("9223372036854775808", ["[INVALID_NUMERIC_LITERAL_RANGE]", "outside the range of bigint"], 0),
    ("1.5L", ["expected an integer before the type suffix"], 0),
]


@pytest.mark.parametrize("text, fragments, column", ERRORS, ids=[e[0] or "<empty>" for e in ERRORS])
def test_error(text, fragments, column):
    with pytest.raises(ParseException) as info:
        parse_expression(text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    head, sql = message.split("\n\n== SQL ==\n")
    assert sql == text + "\n" + " " * column + "^^^"
    assert head.endswith(f"(line 1, pos {column})")


def test_error_is_an_analysis_exception():
    with pytest.raises(AnalysisException):
        parse_expression("nope(a)")


def test_error_on_a_later_line_puts_the_caret_under_that_line():
    text = "a +\n  b c d\nOR e"
    with pytest.raises(ParseException) as info:
        parse_expression(text)
    message = str(info.value)
    assert "at or near 'd'" in message and "(line 2, pos 6)" in message
    assert message.endswith("== SQL ==\na +\n  b c d\n      ^^^\nOR e")


def test_any_token_soup_parses_or_raises_parse_exception():
    """No input may escape as IndexError, AttributeError or a node's own ValueError."""
    rng = random.Random(7)
    pieces = ["a", "t.", "*", "(", ")", ",", "1", "1.5", "10L", "'x'", "`q r`", "+", "-", "%", "=", "!=",
              "<=>", "||", "!", "AND", "OR", "NOT", "IS", "NULL", "IN", "BETWEEN", "CASE", "WHEN", "THEN",
              "ELSE", "END", "CAST", "AS", "int", "decimal", "DISTINCT", "count", "sum", "upper", "if",
              "DATE", "'2024-01-01'", "FROM", "\n", "'", "`", "\\", ".", "--", "/*"]
    for _ in range(3000):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        try:
            assert isinstance(parse_expression(text), Expression)
        except ParseException as e:
            assert "\n\n== SQL ==\n" in str(e)
