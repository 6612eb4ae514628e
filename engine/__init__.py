"""Ember's compact Spark-like engine. The user-facing API is ``engine.sql``."""
