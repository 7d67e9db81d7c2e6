"""iff-engine: finds illicit financial flows linked to human trafficking in transaction data."""

__version__ = "0.1.0"
