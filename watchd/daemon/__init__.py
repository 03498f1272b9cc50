"""The daemon: start order, signals, reload, shutdown, status and systemd notification."""
