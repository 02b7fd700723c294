# SPDX-License-Identifier: LGPL-3.0-or-later
"""Degu's benchmark: ``python3 -m benchmarks`` from the source tree.

The README's Performance table is made from its output.  It is a
development tool, so it lives beside the package rather than inside it: the
wheel does not install it (the sdist carries it), and it uses only Degu's
public API (``degu.server``, ``degu.client``, ``degu.base``, ``degu.misc``),
so that it measures whatever the package's internals happen to be.

What is measured, and against what:

* **Ping-pong** (``pingpong.py``).  A POST with a 100-byte body, echoed
  back by the server, over one persistent connection, the server in a child
  process.  The same workload runs three ways, interleaved (A B C A B C
  ...) so that slow drift of the machine hits every case alike:

  ==========  ==========================================================
  ``raw``     plain ``send``/``recv`` of 100 bytes each way: no HTTP at
              all, the floor any HTTP library sits on
  ``degu``    ``degu.client.Connection.request()`` to a
              ``degu.server.Server``
  ``stdlib``  ``http.client.HTTPConnection`` to ``http.server``'s
              threading server speaking HTTP/1.1 (one ``send()`` per
              response, ``TCP_NODELAY``)
  ==========  ==========================================================

  For each case: the median of the per-round round trips per second, and
  the CPU time per round trip of client and server together (each process
  measures its own ``time.process_time()``; the server reports its figure
  over a pipe).  Families: ``unix`` (``AF_UNIX``), ``inet``, ``inet6`` and
  ``tls`` (TLS over ``AF_INET``).

* **Large bodies** (``large.py``).  16 MiB sent up and echoed back over
  ``AF_UNIX``, as a content-length ``Body``, as a ``ChunkedBody`` (16
  chunks of 1 MiB) and read whole, in MB/s (10**6 bytes), against a raw
  socket copy of the same bytes received into one preallocated buffer and
  made ``bytes`` on each side (what a ``read()`` returning ``bytes`` costs
  at least).

* **Concurrency** (``concurrency.py``).  1, 10 and 50 keep-alive degu
  clients (threads, one connection each) against one server: total round
  trips per second, and the errors seen (there must be none).

* **Footprint** (``footprint.py``).  The cost of ``import degu`` (fresh
  interpreter, best of N), the RSS growth of importing ``degu.server`` and
  ``degu.client``, and the server RSS per idle keep-alive connection.

* **Fairness** (``fairness.py``).  500 keep-alive ``wrk`` clients (on
  another CPU) against one server configured with ``max_connections=600``
  (the default, 50, would refuse most of them): requests/s, latency
  percentiles, requests that waited more than 2 s, and the connects the
  kernel dropped from a full accept queue.  The same load goes first to a
  floor: a Python server with a thread per connection that answers fixed
  bytes and parses nothing (``raw-http`` in ``servers.py``), so that what
  the interpreter and the GIL cost such a server shows beside degu's
  figures.  Skipped without ``wrk``.

* **Profile** (``profiling.py``, ``--profile``).  Instead of all the above:
  cProfile of the degu client and of the server's connection thread.

Errors are counted on both sides: the clients check every answer, and each
server child counts the records of WARNING and above on the ``degu``
loggers, app exceptions included (``servers.py``).

By default every process is pinned to one CPU (``os.sched_setaffinity``):
on a small VM, waking a process on another CPU costs more than the work of
a whole round trip and swings results several-fold.  ``--no-pin`` turns
this off.  Timings are never asserted anywhere; the targets in
``report.py`` are reported as met or missed, never as errors.
"""
