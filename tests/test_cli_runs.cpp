// filled in by the aha runs work
