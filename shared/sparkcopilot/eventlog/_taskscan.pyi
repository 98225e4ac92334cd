"""Task lines of a Spark event log, parsed in C (built from ``_taskscan.c``)."""

#: The columns of a row, in order (must equal ``model.TASK_COLUMNS``).
COLUMNS: tuple[str, ...]
#: ``model.TaskLocality`` names by code; any other string is the last, UNKNOWN.
LOCALITIES: tuple[str, ...]

def scan(
    buf: bytes | bytearray | memoryview, /
) -> tuple[bytearray, bytes, list[str], list[str], bytes, bytes]:
    """``(rows, row_offsets, executor_ids, executor_hosts, started, rest)`` of ``buf``.

    ``rows``: native int64, ``len(COLUMNS)`` per TaskEnd line parsed in C; ``row_offsets``:
    native int64, the start of each such line; ``executor_ids``: what the rows' executor
    codes index, first seen first; ``executor_hosts``: the Host of each one's first row;
    ``started``: native int64 Task IDs of the TaskStart lines parsed in C; ``rest``: native
    int64 ``(start, stop)`` pairs of every other non-blank line, in order.
    """
