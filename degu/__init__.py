"""Degu: an embedded HTTP/1.1 server and client library.

Importing ``degu`` is deliberately cheap: this module imports none of its
submodules (nor ``socket``, ``ssl``, ``threading`` or ``multiprocessing``).
"""

__version__ = '0.19.0'

IPv6_LOOPBACK = ('::1', 0, 0, 0)
IPv6_ANY = ('::', 0, 0, 0)
IPv4_LOOPBACK = ('127.0.0.1', 0)
IPv4_ANY = ('0.0.0.0', 0)
ADDRESS_CONSTANTS = (IPv6_LOOPBACK, IPv6_ANY, IPv4_LOOPBACK, IPv4_ANY)
