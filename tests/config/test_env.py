"""config/env.py: the one reader of the environment, and its refusals."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

NAME = "ROUNDTABLE_TEST_ENV_VALUE"


@pytest.fixture
def setenv(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    return lambda value: monkeypatch.setenv(NAME, value)


def test_unset_and_blank_values_fall_back_to_the_default(setenv):
    assert env_str(NAME, "d") == "d"
    assert env_bool(NAME, True) is True
    assert env_int(NAME, 7) == 7
    assert env_float(NAME, 1.5) == 1.5
    assert env_list(NAME, ["x"]) == ["x"]
    setenv("  ")
    assert env_bool(NAME, True) is True
    assert env_int(NAME, 7) == 7
    assert env_float(NAME, 1.5) == 1.5
    assert env_list(NAME) == []


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_booleans_are_read_in_their_usual_spellings(setenv, raw, value):
    setenv(raw)
    assert env_bool(NAME, not value) is value


@pytest.mark.parametrize(
    ("reader", "raw"),
    [(env_bool, "maybe"), (env_int, "1.5"), (env_int, "ten"), (env_float, "fast")],
)
def test_a_malformed_value_is_refused_with_its_name(setenv, reader, raw):
    setenv(raw)
    with pytest.raises(ImproperlyConfigured, match=NAME):
        reader(NAME, 0)


def test_values_are_trimmed_and_lists_split_on_commas(setenv):
    setenv("  a.example , ,b.example,  ")
    assert env_str(NAME) == "a.example , ,b.example,"
    assert env_list(NAME) == ["a.example", "b.example"]
    setenv(" 42 ")
    assert env_int(NAME, 0) == 42
    assert env_float(NAME, 0) == 42.0
