"""Settings split by run mode: base (shared), dev (embedded default), test, prod."""
