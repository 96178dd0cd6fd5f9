"""Sources: everything that brings items in. Only this package opens sockets or reads input files."""
