# SPDX-License-Identifier: LGPL-3.0-or-later
"""Every size limit and numeric constant of Degu, in one place.

Degu refuses input that exceeds these limits rather than growing buffers to
fit it.  Each value says why it was chosen (comparing with nginx, Apache and
node where that helps); every module reads its limits from here, and the
docs quote them from here.

The file is sectioned by subject.  A module that needs a new limit adds it to
the section it belongs to (or a new section), with its reason.
"""

from typing import Dict, Final, Tuple

# ---------------------------------------------------------------------------
# Preambles: the request or status line and the header lines

# A whole request or response preamble, including the final b'\r\n\r\n', must
# fit in one 32 KiB buffer.  Node caps headers at 16 KiB, nginx at 4 x 8 KiB
# buffers and Apache at 8 KiB per line; 32 KiB is generous for real traffic
# while keeping a fixed, small per-connection memory cost.  The same size is
# used for the read buffer, the write buffer, and the largest preamble we
# render.
BUF_LEN: Final = 32768

# Longest request target (the URI of the request line), in and out; longer
# is a 414.  RFC 9112 section 3 asks for request lines of at least 8000
# bytes; nginx answers 414 once the line outgrows one 8 KiB buffer
# (large_client_header_buffers 4 8k) and Apache once it passes 8190 bytes
# (LimitRequestLine).  8 KiB for the target alone accepts every request line
# those servers accept, and a URI longer than that is not a real link.
MAX_URI_LEN: Final = 8192

# Longest header name accepted in either direction; longer is a 431.  The
# longest registered names are well under 64 bytes
# ('Content-Security-Policy-Report-Only' is 35,
# 'Cross-Origin-Embedder-Policy-Report-Only' 40), so 64 leaves room for
# vendor headers while keeping every name a short token.
MAX_HEADER_NAME_LEN: Final = 64

# The first release's name for MAX_HEADER_NAME_LEN (the size of the scratch
# buffer the original C parser copied names into), kept as an alias.
SCRATCH_LEN: Final = MAX_HEADER_NAME_LEN

# Shortest lines that can possibly be valid, used to reject garbage early.
MIN_REQUEST_LINE_LEN: Final = 14   # b'GET / HTTP/1.1'
MIN_STATUS_LINE_LEN: Final = 12    # b'HTTP/1.1 200' (a status line without reason)
MIN_HEADER_LINE_LEN: Final = 4     # b'K: V'

# ---------------------------------------------------------------------------
# Numbers: content lengths, ranges, chunk sizes

# Content lengths and range offsets are at most 16 decimal digits, so they
# always fit in a 64-bit integer and the parser never builds huge ints.
MAX_CL_LEN: Final = 16
MAX_LENGTH: Final = 9999999999999999

# The longest range and content-range values Degu understands: two or three
# numbers of at most MAX_CL_LEN digits each.
MAX_RANGE_LEN: Final = 39          # b'bytes=' + 16 digits + b'-' + 16 digits
MAX_CONTENT_RANGE_LEN: Final = 56  # b'bytes ' + 16 + b'-' + 16 + b'/' + 16

# Chunk sizes are at most 7 hex digits (0xfffffff), enough to express
# MAX_IO_SIZE (0x1000000).
MAX_CHUNK_SIZE_LEN: Final = 7

# ---------------------------------------------------------------------------
# Methods

# One bit per supported request method, so a set of methods is an int mask.
GET_BIT: Final = 1
PUT_BIT: Final = 2
POST_BIT: Final = 4
HEAD_BIT: Final = 8
DELETE_BIT: Final = 16

# The methods Degu speaks, each with its bit: the one list every module
# uses (a well-formed method outside it is a 501).
METHOD_BITS: Final[Dict[str, int]] = {
    'GET': GET_BIT,
    'PUT': PUT_BIT,
    'POST': POST_BIT,
    'HEAD': HEAD_BIT,
    'DELETE': DELETE_BIT,
}
METHODS: Final[Tuple[str, ...]] = tuple(METHOD_BITS)

# The methods whose requests may carry a body.
PUT_POST_MASK: Final = PUT_BIT | POST_BIT

# ---------------------------------------------------------------------------
# Bodies

# Longest chunk-size line (size, optional extension, CRLF).  Enough for any
# sensible extension; a peer sending more is misbehaving.
MAX_LINE_LEN: Final = 4096

# Piece size when a Body is iterated: big enough to amortize the per-call
# cost, small enough to keep memory flat while streaming.
IO_SIZE: Final = 1048576

# Largest single read, whole-body read, chunk, or bytes body: 16 MiB.  A
# larger body must be streamed, never loaded into memory at once.
MAX_IO_SIZE: Final = 16777216

# Memory follows the bytes that arrive, never the size a peer announces: a
# read bigger than BUF_LEN is received into pieces, the first FIRST_PIECE
# bytes long and each next one as long as all the bytes received before it
# (at most IO_SIZE; on a plain socket, as all the bytes the body has sent so
# far).  Whatever a peer announced, the memory a read holds is then at most
# twice the bytes it actually sent, plus FIRST_PIECE.  64 KiB is what one
# recv() typically returns on a busy loopback or LAN socket.
FIRST_PIECE: Final = 65536

# The body deadline.  A body (a request body read by the server, a response
# body read by the client) must keep coming at MIN_BODY_RATE bytes per
# second on average.  The rule is a budget of seconds of waiting: each body
# starts with `timeout` seconds (the Server's or Client's option); the time
# spent waiting in recv() for its bytes is taken from it, and every
# MIN_BODY_RATE bytes received give one second back, never above `timeout`
# again.  A peer whose budget runs out is cut off with a TimeoutError (the
# server answers 408).  Only waiting for the peer counts, not the time the
# app takes between two reads: a slow app never makes a fast peer look slow.
# This is Apache's mod_reqtimeout default, body=20,MinRate=500 (20 s, then
# one more second per 500 bytes), with Degu's timeout for the 20 s; nginx's
# client_body_timeout only bounds each read, so a peer sending one byte
# every 59 s keeps its connection forever.  500 bytes/s is 4 kbit/s: far
# below any real network, far above a trickle that holds a slot for free.
MIN_BODY_RATE: Final = 500

# The states of a body object (see degu.bodies).
BODY_READY: Final = 0
BODY_STARTED: Final = 1
BODY_CONSUMED: Final = 2
BODY_ERROR: Final = 3

# ---------------------------------------------------------------------------
# Output

# Rendered output carries at most 20 headers (after the framing and base
# headers are added).  Input has no count limit besides BUF_LEN.
MAX_HEADER_COUNT: Final = 20

# ---------------------------------------------------------------------------
# The parser's and renderer's memory (degu.caches)

# Entries per cache.  Real traffic uses a handful of distinct lines per
# endpoint; 512 covers many endpoints while keeping each cache small (and a
# peer sending endless new lines gains nothing but the full checks).
CACHE_MAX: Final = 512

# Whole preambles up to this size are remembered as a whole: the common
# keep-alive requests and responses of one client are short and repeat
# exactly.  Longer preambles are remembered line by line only, which keeps
# the memory of a full cache to CACHE_MAX * 256 bytes of keys.
PREAMBLE_CACHE_LEN: Final = 256

# ---------------------------------------------------------------------------
# Applications and sessions

# Deepest nesting of appmaps a degu.applib.Router accepts.
ROUTER_MAX_DEPTH: Final = 10

# Session.max_requests range and default.
MAX_SESSION_REQUESTS: Final = 75000
DEFAULT_SESSION_REQUESTS: Final = 500


# ---------------------------------------------------------------------------
# Connections: the server's and the client's defaults and bounds

# Server options.  50 concurrent connections: each costs a thread (about
# 45 KiB of RSS when idle, see THREAD_STACK_SIZE), and the GIL makes more
# threads add latency rather than throughput; nginx's worker_connections
# defaults to 512 per worker process, Apache's MaxRequestWorkers to 256.
DEFAULT_MAX_CONNECTIONS: Final = 50
# Requests per connection before the server closes it, so that one client
# cannot keep a slot forever (nginx keepalive_requests: 1000, Apache
# MaxKeepAliveRequests: 100).
DEFAULT_MAX_REQUESTS: Final = 1000
# Seconds of silence on a connection (and for a whole request preamble)
# before the server gives up on it (nginx client_header_timeout: 60,
# Apache Timeout: 60, node's headersTimeout: 60, its keepAliveTimeout: 5).
DEFAULT_TIMEOUT: Final = 30

# The client's socket timeout: longer than the server's, so that a server
# closing an idle connection is seen as a clean close, not a timeout.
CLIENT_TIMEOUT: Final = 65

# Listen backlog.  The accept loop does nothing but accept and start threads,
# yet it shares the GIL with every connection thread, so a burst of connects
# can outrun it: with 500 busy keep-alive connections, starting one thread
# took 12 ms on average (twice the GIL's switch interval: Thread.start()
# waits for the new thread, and then waits to get the GIL back).  A full
# backlog makes Linux drop the SYN, and the client waits a whole second (then
# three) to retry: at 128, a burst of 500 connects overflowed it 311 times.
# 1024 holds such a burst (nginx defaults to 511, and Linux caps the value at
# net.core.somaxconn, 4096 since Linux 5.4); max_connections still bounds
# the work, and each queued connection costs the kernel only a socket.
LISTEN_BACKLOG: Final = 1024

# How long a new connection may wait for a free slot before it is refused.
SLOT_WAIT: Final = 2.0

# Seconds the accept loop pauses after accept() failed for lack of
# resources (file descriptors, memory) before it tries again.
ACCEPT_RETRY_DELAY: Final = 0.1

# Stack size of each connection thread.  Threads otherwise get the platform
# default (8 MiB on Linux): only touched pages cost memory, but 1 MiB keeps the
# address space of a busy server small while leaving ample room for an app
# that recurses (1000 Python frames need far less than that).
THREAD_STACK_SIZE: Final = 1024 * 1024

# A server may send a few interim (1xx) responses before the final one; more
# than this is a misbehaving peer, not a slow one.
MAX_INTERIM_RESPONSES: Final = 4

# The largest TCP port number.
MAX_PORT: Final = 65535

# When the server closes a connection on its own (after an error answer, a
# request body it did not read, connection: close), it first shuts its write
# side, then reads and discards what the client still sends, for at most
# LINGER_TIME seconds and LINGER_BYTES bytes, before closing: closing with
# unread bytes would make the kernel send a reset, which can destroy the
# answer before the client has read it (RFC 9112 section 9.6).  Apache
# lingers 2 seconds (SECONDS_TO_LINGER), nginx up to 5 (lingering_timeout).
LINGER_TIME: Final = 2.0
LINGER_BYTES: Final = 1048576

# Longest message of a peer's fault in the server's log line: a bad request
# costs one bounded line, however much garbage it sent.
MAX_LOGGED_MESSAGE: Final = 200

# How long Server.shutdown() lets requests in flight finish before it cuts
# their connections (gunicorn's graceful_timeout: 30; systemd waits 90 s
# before it kills a service that does not stop).
SHUTDOWN_TIMEOUT: Final = 30
# How often a shutdown looks at the connections still being served.
SHUTDOWN_POLL: Final = 0.02
