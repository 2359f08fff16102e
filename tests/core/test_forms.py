"""What a form's text becomes: console lines by button, edited arguments within the limits."""

from __future__ import annotations

import json

import pytest

from core.forms import FieldError, FormInput, edited_args, typed


@pytest.mark.parametrize(
    ("action_id", "text", "expected"),
    [
        ("request_edit", ' {"v": 1} ', FormInput(args='{"v": 1}')),
        ("request_edit", 'deploy {"v": 1}', FormInput(confirm="deploy", args='{"v": 1}')),
        ("request_approve", "deploy", FormInput(confirm="deploy")),
        ("request_answer", "eu, then us", FormInput(answer="eu, then us")),
        ("request_reject", "wrong version", FormInput(reason="wrong version")),
        ("plan_reject", "too early", FormInput(reason="too early")),
        ("request_edit", "  ", None),
    ],
)
def test_a_console_line_fills_the_field_of_its_button(
    action_id: str, text: str, expected: FormInput | None
) -> None:
    assert typed(action_id, text) == expected


def test_unknown_form_fields_are_ignored() -> None:
    assert FormInput.of({"args": "{}", "other": "x", "answer": None}) == FormInput(args="{}")


def test_edited_args_are_an_object_within_the_limits_of_an_agents_args() -> None:
    assert edited_args('{"service": "api", "n": [1, 2.5]}') == {"service": "api", "n": [1, 2.5]}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{nope", "not valid JSON"),
        ('"just text"', "a JSON object"),
        ('{"n": Infinity}', "not valid JSON"),
        ('{"n": 1e999}', "not valid JSON"),
        ('{"s": "\\ud800"}', "not valid JSON"),
        ('{"s": "a\\u0000b"}', "NUL"),
        ('{"a":' * 17 + "1" + "}" * 17, "more than 16 deep"),
        (json.dumps({"blob": "x" * 17_000}), "over the limit of 16,384 bytes"),
    ],
)
def test_unusable_edited_args_are_refused_naming_the_field(text: str, error: str) -> None:
    with pytest.raises(FieldError) as refused:
        edited_args(text)
    assert refused.value.field == "args" and error in refused.value.message
