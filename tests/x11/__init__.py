"""Real-X11 test helpers: a simulated human device and a logging target window."""
