"""Every size limit and numeric constant of Degu, in one place.

Degu refuses input that exceeds these limits rather than growing buffers to
fit it.  Each value says why it was chosen (comparing with nginx, Apache and
node where that helps); every module reads its limits from here, and the
docs quote them from here.

The file is sectioned by subject.  A module that needs a new limit adds it to
the section it belongs to (or a new section), with its reason.
"""

from typing import Dict, Tuple

# ---------------------------------------------------------------------------
# Preambles: the request or status line and the header lines

# A whole request or response preamble, including the final b'\r\n\r\n', must
# fit in one 32 KiB buffer.  Node caps headers at 16 KiB, nginx at 4 x 8 KiB
# buffers and Apache at 8 KiB per line; 32 KiB is generous for real traffic
# while keeping a fixed, small per-connection memory cost.  The same size is
# used for the read buffer, the write buffer, and the largest preamble we
# render.
BUF_LEN = 32768

# Longest request target (the URI of the request line), in and out; longer
# is a 414.  RFC 9112 section 3 asks for request lines of at least 8000
# bytes; nginx answers 414 once the line outgrows one 8 KiB buffer
# (large_client_header_buffers 4 8k) and Apache once it passes 8190 bytes
# (LimitRequestLine).  8 KiB for the target alone accepts every request line
# those servers accept, and a URI longer than that is not a real link.
MAX_URI_LEN = 8192

# Longest header name accepted in either direction; longer is a 431.  The
# longest registered names are well under 64 bytes
# ('Content-Security-Policy-Report-Only' is 35,
# 'Cross-Origin-Embedder-Policy-Report-Only' 40), so 64 leaves room for
# vendor headers while keeping every name a short token.
MAX_HEADER_NAME_LEN = 64

# The first release's name for MAX_HEADER_NAME_LEN (the size of the scratch
# buffer the original C parser copied names into), kept as an alias.
SCRATCH_LEN = MAX_HEADER_NAME_LEN

# Shortest lines that can possibly be valid, used to reject garbage early.
MIN_REQUEST_LINE_LEN = 14   # b'GET / HTTP/1.1'
MIN_STATUS_LINE_LEN = 12    # b'HTTP/1.1 200' (a status line without reason)
MIN_HEADER_LINE_LEN = 4     # b'K: V'

# ---------------------------------------------------------------------------
# Numbers: content lengths, ranges, chunk sizes

# Content lengths and range offsets are at most 16 decimal digits, so they
# always fit in a 64-bit integer and the parser never builds huge ints.
MAX_CL_LEN = 16
MAX_LENGTH = 9999999999999999

# The longest range and content-range values Degu understands: two or three
# numbers of at most MAX_CL_LEN digits each.
MAX_RANGE_LEN = 39          # b'bytes=' + 16 digits + b'-' + 16 digits
MAX_CONTENT_RANGE_LEN = 56  # b'bytes ' + 16 + b'-' + 16 + b'/' + 16

# Chunk sizes are at most 7 hex digits (0xfffffff), enough to express
# MAX_IO_SIZE (0x1000000).
MAX_CHUNK_SIZE_LEN = 7

# ---------------------------------------------------------------------------
# Methods

# One bit per supported request method, so a set of methods is an int mask.
GET_BIT = 1
PUT_BIT = 2
POST_BIT = 4
HEAD_BIT = 8
DELETE_BIT = 16

# The methods Degu speaks, each with its bit: the one list every module
# uses (a well-formed method outside it is a 501).
METHOD_BITS: Dict[str, int] = {
    'GET': GET_BIT,
    'PUT': PUT_BIT,
    'POST': POST_BIT,
    'HEAD': HEAD_BIT,
    'DELETE': DELETE_BIT,
}
METHODS: Tuple[str, ...] = tuple(METHOD_BITS)

# The methods whose requests may carry a body.
PUT_POST_MASK = PUT_BIT | POST_BIT

# ---------------------------------------------------------------------------
# Bodies

# Longest chunk-size line (size, optional extension, CRLF).  Enough for any
# sensible extension; a peer sending more is misbehaving.
MAX_LINE_LEN = 4096

# Piece size when a Body is iterated: big enough to amortize the per-call
# cost, small enough to keep memory flat while streaming.
IO_SIZE = 1048576

# Largest single read, whole-body read, chunk, or bytes body: 16 MiB.  A
# larger body must be streamed, never loaded into memory at once.
MAX_IO_SIZE = 16777216

# The states of a body object (see degu.bodies).
BODY_READY = 0
BODY_STARTED = 1
BODY_CONSUMED = 2
BODY_ERROR = 3

# ---------------------------------------------------------------------------
# Output

# Rendered output carries at most 20 headers (after the framing and base
# headers are added).  Input has no count limit besides BUF_LEN.
MAX_HEADER_COUNT = 20

# ---------------------------------------------------------------------------
# The parser's and renderer's memory (degu.caches)

# Entries per cache.  Real traffic uses a handful of distinct lines per
# endpoint; 512 covers many endpoints while keeping each cache small (and a
# peer sending endless new lines gains nothing but the full checks).
CACHE_MAX = 512

# Whole preambles up to this size are remembered as a whole: the common
# keep-alive requests and responses of one client are short and repeat
# exactly.  Longer preambles are remembered line by line only, which keeps
# the memory of a full cache to CACHE_MAX * 256 bytes of keys.
PREAMBLE_CACHE_LEN = 256

# ---------------------------------------------------------------------------
# Applications and sessions

# Deepest nesting of appmaps a degu.applib.Router accepts.
ROUTER_MAX_DEPTH = 10

# Session.max_requests range and default.
MAX_SESSION_REQUESTS = 75000
DEFAULT_SESSION_REQUESTS = 500
