"""Phone lines: GSM line drivers, their audio pump, and the bank that ties them to calls."""
