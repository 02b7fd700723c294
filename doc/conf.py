# SPDX-License-Identifier: LGPL-3.0-or-later
"""Sphinx configuration for Degu's documentation.

Build the HTML with ``sphinx-build doc doc/_build``.  Sphinx is not needed to
run the tests: the examples in every page run as doctests under pytest.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import degu  # noqa: E402  (after the path is set)

project = 'Degu'
author = 'The Degu authors'
copyright = 'The Degu authors; GNU LGPL version 3 or later'
version = degu.__version__
release = degu.__version__

root_doc = 'index'
master_doc = 'index'  # Sphinx < 4 spells root_doc this way
source_suffix = '.rst'
exclude_patterns = ['_build', 'conftest.py']
extensions = []

html_theme = 'alabaster'
html_title = 'Degu {}'.format(release)
