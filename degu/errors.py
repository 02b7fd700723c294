"""Exception types and message templates shared by every Degu module."""

# Wrong type of argument: name, wanted type, actual type, value.
TYPE_ERROR = '{}: need a {!r}; got a {!r}: {!r}'

# Same, without the value (for when the value's repr is unhelpful or huge).
TYPE_ERROR2 = '{}: need a {!r}; got a {!r}'


class EmptyPreambleError(ConnectionError):
    """The peer closed the connection before sending a single byte.

    Between two requests on a keep-alive connection this is the normal way
    for a client to say goodbye, so the server treats it as a clean close.
    """
