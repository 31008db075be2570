"""Run the chartlnn command line from a checkout: `python cli.py --help`."""

from chartlnn.cli import app

if __name__ == "__main__":
    app()
