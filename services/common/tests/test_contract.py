"""The contract vocabulary is its proto enums, name for name, with one translation each way."""

from __future__ import annotations

import pytest

from veritas_common.contract import PROTO_ENUMS, SearchMode, Support
from veritas_common.errors import InvalidArgument


@pytest.mark.parametrize("enum_cls", list(PROTO_ENUMS), ids=lambda c: c.__name__)
def test_members_are_the_proto_enum_without_its_prefix(enum_cls) -> None:
    proto_enum, prefix = PROTO_ENUMS[enum_cls]
    proto_names = {name.removeprefix(prefix) for name in proto_enum.keys()}  # noqa: SIM118 (not a dict)
    # UNSPECIFIED means "unset" on the wire; only Support gives it a meaning (not checked).
    expected = proto_names if enum_cls is Support else proto_names - {"UNSPECIFIED"}
    assert set(enum_cls.__members__) == expected


@pytest.mark.parametrize("enum_cls", list(PROTO_ENUMS), ids=lambda c: c.__name__)
def test_each_member_round_trips_through_its_proto_value(enum_cls) -> None:
    proto_enum, prefix = PROTO_ENUMS[enum_cls]
    for member in enum_cls:
        value = member.to_proto()
        assert proto_enum.Name(value) == prefix + member.name
        assert enum_cls.from_proto(value) is member


def test_unset_and_unknown_values_are_none() -> None:
    assert SearchMode.from_proto(0) is None
    assert SearchMode.from_proto(99) is None  # a value a newer peer might send
    assert Support.from_proto(0) is Support.UNSPECIFIED
    assert Support.from_proto(99) is Support.UNSPECIFIED


def test_a_request_option_the_build_does_not_know_is_invalid_argument() -> None:
    assert SearchMode.from_request(0) is None
    assert SearchMode.from_request(SearchMode.BM25.to_proto()) is SearchMode.BM25
    with pytest.raises(InvalidArgument, match="unknown search mode 42"):
        SearchMode.from_request(42)
