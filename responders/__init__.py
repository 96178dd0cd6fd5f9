"""Responders: everything that shows or sends what the monitor found (dashboard, chat, mail).
They read rows and act only through monitor.service commands."""
