"""Build and install Degu.

The default install is pure Python with no runtime dependencies.  Set
``DEGU_MYPYC=1`` to compile the hot modules with mypyc (mypy is then needed
at build time only).
"""

import os
import sys

from setuptools import setup

if sys.version_info < (3, 9):
    sys.exit('Degu needs Python 3.9 or newer')

HERE = os.path.dirname(os.path.abspath(__file__))

# The modules on the per-request path; compiling them is optional.
# (degu/errors.py stays pure Python: mypyc cannot compile subclasses of
# built-in exceptions, and nothing there is on the hot path.)
MYPYC_MODULES = [
    'degu/caches.py',
    'degu/ranges.py',
    'degu/parsing.py',
    'degu/rendering.py',
    'degu/sockio.py',
    'degu/bodies.py',
    'degu/messages.py',
    'degu/session.py',
    'degu/handler.py',
    'degu/server.py',
    'degu/client.py',
]


def read_version():
    with open(os.path.join(HERE, 'degu', '__init__.py')) as fp:
        for line in fp:
            if line.startswith('__version__'):
                return line.split('=')[1].strip().strip("'")
    raise RuntimeError('no __version__ in degu/__init__.py')


def read_readme():
    with open(os.path.join(HERE, 'README')) as fp:
        return fp.read()


def ext_modules():
    if os.environ.get('DEGU_MYPYC') != '1':
        return []
    from mypyc.build import mypycify
    return mypycify(MYPYC_MODULES, opt_level='3')


setup(
    name='degu',
    version=read_version(),
    description='Embedded HTTP/1.1 server and client library',
    long_description=read_readme(),
    long_description_content_type='text/x-rst',
    url='https://example.invalid/degu',
    license='LGPLv3+',
    packages=['degu'],
    package_data={'degu': ['py.typed']},
    python_requires='>=3.9',
    install_requires=[],
    extras_require={'test': ['pytest', 'coverage']},
    ext_modules=ext_modules(),
    zip_safe=False,
    classifiers=[
        'Development Status :: 4 - Beta',
        'Intended Audience :: Developers',
        'License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)',
        'Operating System :: POSIX',
        'Operating System :: POSIX :: Linux',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3 :: Only',
        'Programming Language :: Python :: 3.9',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Programming Language :: Python :: Implementation :: CPython',
        'Topic :: Internet :: WWW/HTTP',
        'Topic :: Internet :: WWW/HTTP :: HTTP Servers',
        'Topic :: Software Development :: Libraries :: Python Modules',
        'Typing :: Typed',
    ],
)
