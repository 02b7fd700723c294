# SPDX-License-Identifier: LGPL-3.0-or-later
"""pytest configuration for the documentation.

The ``*.rst`` pages are collected as doctests (``--doctest-glob=*.rst``, see
``test_degu/__main__.py``).  ``conf.py`` is Sphinx's configuration: Sphinx is
needed only to build HTML, never to run the tests, so pytest must not try to
import it.
"""

collect_ignore = ['conf.py']
