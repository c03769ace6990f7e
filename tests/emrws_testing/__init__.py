"""Test support: a header identity provider, moto servers and server processes."""
