"""Tables keep every column and every character: piped output is never wrapped nor cut; on a terminal a
row too wide wraps its last column inside that column, as kubectl's output stays whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.cli.render import MIN_WRAP_WIDTH, layout

LONG = (
    "Failover: members of member-1 moved to member-2 and member-3 after the cluster was silent for 60s; "
    "the replica set keeps its primary in member-2"
)
EVENT_HEADERS = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "FROM", "MESSAGE"]


def words(lines: list[str]) -> list[str]:
    return " ".join(lines).split()


def characters(lines: list[str]) -> str:
    """Every printed character but blanks, in reading order (a word longer than its column is split in it)."""
    return "".join("".join(lines).split())


def test_piped_output_keeps_every_column_after_a_long_message() -> None:
    rows = [
        ["3m", "Warning", "Failover", "default/default/sample", "scheduler", LONG],
        ["2m", "Normal", "Elected", "default/default/sample", "federation", "member-2 holds the primary"],
    ]
    header, failover, elected = layout(EVENT_HEADERS, rows)
    assert ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "FROM", "MESSAGE"] == header.split()
    assert failover.startswith("3m") and failover.endswith(LONG) and "Failover" in failover
    assert ["2m", "Normal", "Elected", "default/default/sample", "federation"] == elected.split()[:5]


def test_conditions_keep_status_and_age_in_a_100_column_terminal() -> None:
    headers = ["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"]
    rows = [["QuorumLost", "True", "MajorityUnreachable", "5m", LONG], ["ServerReady", "False", "Waiting", "9m", "x"]]
    lines = layout(headers, rows, width=100, indent=2)
    assert ["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"] == lines[0].split()
    assert ["QuorumLost", "True", "MajorityUnreachable", "5m"] == lines[1].split()[:4]
    assert all(len(line) <= 100 for line in lines)
    message_column = lines[0].index("MESSAGE")
    continuation = lines[2 : len(lines) - 1]
    assert continuation and all(line[:message_column].strip() == "" for line in continuation)
    assert LONG.split() == words([line[message_column:] for line in lines[1:-1]])


def test_a_terminal_too_narrow_to_wrap_gets_whole_lines() -> None:
    """The terminal wraps those lines itself; nothing is cut."""
    name = "a-very-long-instance-name-that-fills-the-screen-" + "x" * 40
    lines = layout(["NAME", "STATE", "PRIMARY"], [[name, "SubHealth", "127.0.2.1:30003@member-2"]], width=60)
    assert [name, "SubHealth", "127.0.2.1:30003@member-2"] == lines[1].split()


cells = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P"]) | st.just(" "), max_size=80)


@given(
    headers=st.lists(st.from_regex(r"[A-Z]{1,8}", fullmatch=True), min_size=1, max_size=6),
    data=st.data(),
    width=st.none() | st.integers(min_value=10, max_value=200),
)
def test_every_character_of_every_cell_is_printed_in_order(
    headers: list[str], data: st.DataObject, width: int | None
) -> None:
    rows = data.draw(st.lists(st.lists(cells, min_size=len(headers), max_size=len(headers)), max_size=5))
    lines = layout(headers, rows, width=width)
    assert characters([" ".join(headers), *(" ".join(r) for r in rows)]) == characters(lines)
    if width is None:
        assert len(rows) + 1 == len(lines)
        return
    table = [headers, *rows]
    last_column = sum(max(len(r[i]) for r in table) + 3 for i in range(len(headers) - 1))
    if last_column + MIN_WRAP_WIDTH <= width:
        assert all(len(line) <= width for line in lines)
