"""Tools around the running system: the `tessera` command, the embedded servers, the process
supervisor of `tessera up`, and the CSV importer. They sit above everything else: they may
start the API and the workers (as processes, by name), and nothing imports them but tests and
benchmarks."""
