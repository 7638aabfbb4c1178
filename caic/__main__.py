from caic.cli import run

run()
