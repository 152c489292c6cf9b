"""Deterministic simulations for tests and trace validation: the only package that may
import both ``reference`` and ``harness``; nothing else imports it."""
