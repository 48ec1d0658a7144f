import sys

from mteval.cli import program

sys.exit(program())
