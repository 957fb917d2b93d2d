"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test builds its sanity-test virtualenvs by running a ``get-pip.py`` that it fetches
from a host this workplace cannot reach. This stand-in does the same job with the Python
standard library: ``ensurepip`` puts pip into the new venv, then pip installs the packages
ansible-test asked for (from the package index that pip is configured for).
"""
import subprocess
import sys

IGNORED_FLAGS = {"--no-setuptools", "--no-wheel"}


def main(argv):
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    wanted = [arg for arg in argv if arg not in IGNORED_FLAGS]
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + wanted)


if __name__ == "__main__":
    main(sys.argv[1:])
