"""Runtime infrastructure the API and the workers run on: settings (`config`), Redis as a
messenger (`messaging`), worker telemetry and logs (`telemetry`). The tools built around the
system (the `tessera` command, embedded servers, supervisor, importer) are in `tessera.tools`."""
