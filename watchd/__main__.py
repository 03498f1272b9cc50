from watchd.cli.main import run

run()
